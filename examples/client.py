#!/usr/bin/env python3
"""A client for mlgate's job API, Python standard library only.

    MLGATE_KEY=mlg_... python3 client.py [--url URL] [--wait N] TEXT...

For each TEXT it posts POST /predict with `Prefer: wait=N`: a 200 is the
finished job; a 202 is polled at its Location until the job finishes. An
answer 429 (rate limited) or 503 (queue full, shutting down, busy) is retried
after its Retry-After, the POST with the same Idempotency-Key so a retry never
makes a second job. Prints the finished job as one JSON line per TEXT; exits 0
when every job completed, 1 otherwise, 2 on a usage error.

As a library: Client(url, key).predict(text) returns the finished job.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

FINISHED = ("completed", "failed", "canceled")


class ApiError(Exception):
    """An answer the client cannot retry: 401, 403, 404, 422, ..."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Client:
    def __init__(self, url, key, retries=5, max_retry_after=60, log=sys.stderr):
        self.url = url.rstrip("/")
        self.key = key
        self.retries = retries
        self.max_retry_after = max_retry_after
        self.log = log

    def _send(self, method, path, body=None, headers=None, timeout=40):
        """One request; returns (status, headers, parsed JSON body)."""
        req = urllib.request.Request(self.url + path, method=method, data=body)
        req.add_header("X-API-Key", self.key)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return res.status, res.headers, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:  # any status >= 400
            raw = err.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            return err.code, err.headers, parsed

    def request(self, method, path, body=None, headers=None, timeout=40):
        """A request retried on 429 and 503 after Retry-After, at most `retries` times."""
        for attempt in range(self.retries + 1):
            status, hdrs, parsed = self._send(method, path, body, headers, timeout)
            if status not in (429, 503) or attempt == self.retries:
                break
            try:
                wait = int(hdrs.get("Retry-After", "1"))
            except ValueError:
                wait = 1
            wait = min(max(wait, 1), self.max_retry_after)
            print(f"mlgate: {method} {path} answered {status}; retrying in {wait} s",
                  file=self.log)
            time.sleep(wait)
        if status >= 400:
            raise ApiError(status, parsed)
        return status, hdrs, parsed

    def predict(self, text, wait=10, timeout=120, poll_interval=0.5):
        """Posts `text` and returns the finished job (a dict)."""
        body = json.dumps({"text": text}).encode()
        headers = {
            "Content-Type": "application/json",
            "Prefer": f"wait={wait}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        _, hdrs, job = self.request("POST", "/predict", body, headers, timeout=wait + 30)
        location = hdrs.get("Location") or f"/jobs/{job['job_uuid']}"
        deadline = time.monotonic() + timeout
        while job["status"] not in FINISHED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job['job_uuid']} still {job['status']}")
            time.sleep(poll_interval)
            _, _, job = self.request("GET", location)
        return job


def main():
    parser = argparse.ArgumentParser(description="Score texts with an mlgate server.")
    parser.add_argument("texts", nargs="+", metavar="TEXT")
    parser.add_argument("--url", default=os.environ.get("MLGATE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--wait", type=int, default=10, help="Prefer: wait=N seconds (0-30)")
    parser.add_argument("--retries", type=int, default=5, help="retries on 429 and 503")
    args = parser.parse_args()
    key = os.environ.get("MLGATE_KEY")
    if not key:
        parser.error("set MLGATE_KEY to an API key (mlgate keys create --name me)")
    client = Client(args.url, key, retries=args.retries)
    ok = True
    for text in args.texts:
        try:
            job = client.predict(text, wait=args.wait)
        except (ApiError, TimeoutError, OSError) as err:
            print(f"mlgate: {err}", file=sys.stderr)
            ok = False
            continue
        print(json.dumps(job), flush=True)
        ok = ok and job["status"] == "completed"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
