#!/usr/bin/env python3
"""A tiny model for `mlgate serve --model exec --exec "python3 exec_keyword_model.py"`.

It shows the exec protocol (src/exec_model.hpp) end to end; replace score()
with your own model. mlgate writes one request per line on our stdin:

    {"id": 7, "text": "I liked it"}

and waits for exactly one line on stdout that repeats the id:

    {"id": 7, "label": "positive", "score": 0.5, "detail": {"hits": 1}}
    {"id": 7, "error": "why this job cannot be done"}

Rules that keep the server happy:
  - answer every request with exactly one line, and flush it;
  - never print anything else on stdout (logs go to stderr, which mlgate
    passes to its own standard error - so never log the texts);
  - load slow things before the loop: the first job waits for them, and a
    job times out after --exec-timeout (default 30s);
  - exit when stdin closes: mlgate closes it on shutdown.
"""
import json
import sys

POSITIVE = {"good", "great", "love", "liked", "wonderful", "excellent", "happy"}
NEGATIVE = {"bad", "awful", "hate", "terrible", "poor", "sad", "boring"}


def score(text):
    words = [w.strip(".,!?;:\"'()").lower() for w in text.split()]
    pos = sum(w in POSITIVE for w in words)
    neg = sum(w in NEGATIVE for w in words)
    total = pos + neg
    value = 0.0 if total == 0 else (pos - neg) / total
    label = "positive" if value > 0 else "negative" if value < 0 else "neutral"
    return label, value, {"positive_words": pos, "negative_words": neg}


def main():
    for line in sys.stdin:
        request = json.loads(line)
        reply = {"id": request["id"]}
        text = request["text"]
        if not any(c.isalpha() for c in text):
            reply["error"] = "no words to score"
        else:
            reply["label"], reply["score"], reply["detail"] = score(text)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
