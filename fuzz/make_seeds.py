#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere).

The seeds are the inputs the unit tests use and the spellings the protocol
and DESIGN.md name, a few dozen small files per target, each named for what
it holds. Re-running rewrites them; files libFuzzer saved elsewhere are not
touched. Crash inputs do not belong here but in fuzz/regressions/<target>/.
"""
import hashlib
import json
import os
import struct
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))


def write(target, seeds):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for i, s in enumerate(seeds):
        b = s if isinstance(s, bytes) else s.encode()
        name = "%02d-%s" % (i, hashlib.sha1(b).hexdigest()[:8])
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


def body(text):
    return json.dumps({"text": text}, ensure_ascii=False)


write("validation", [
    body("The service was good and I liked it"),
    body("I love this product, it works great!"),
    body("short"),
    body("          a"),
    body("a" * 10),
    body("a" * 5000),
    body("a" * 5001),
    body("é" * 10),
    body("😀" * 12 + " ok"),
    body("\u00a0" * 12 + "abcdefghij"),
    body("!!!!!!!!!!!!"),
    body("١٢٣٤٥٦٧٨٩٠ numbers"),
    body("日本語のテキストです、よろしく"),
    '{"text": "nul \\u0000 inside the text"}',
    '{"text": "lone surrogate \\ud800 here ok"}',
    b'{"text": "invalid \xff\xfe utf-8 here"}',
    b'{"text": "overlong \xc0\xaf slash here"}',
    '{"text": 42}',
    '{"text": null}',
    '{"text": ["a list of text"]}',
    '{"txt": "missing the text field"}',
    '{"text": "a valid text here", "extra": {"nested": [1, 2, 3]}}',
    '{"text": "dup keys one", "text": "dup keys two"}',
    '["not", "an", "object"]',
    '"just a string at top level"',
    "not json at all",
    "",
    "{",
    '{"text": "unterminated',
    "[" * 200 + "]" * 200,
    '{"text": "tabs\\tand\\nnewlines\\r\\nare fine here"}',
    '  {"text" : "whitespace around the object"}  ',
    '{"text": "\\u00e9\\u00e8 escaped accents \\u4e2d\\u6587"}',
    b"\xef\xbb\xbf" + body("a BOM before the body").encode(),
])

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def checksum(body):
    """key_checksum(): CRC-32 of the body as six base62 characters."""
    crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
    out = ""
    for _ in range(6):
        out = ALPHABET[crc % 62] + out
        crc //= 62
    return out


def valid_key(body):
    return "mlg_" + body + checksum(body)


KEY = "mlg_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
BODIES = ["A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6", "0" * 32, "z" * 32, ALPHABET[:32], ALPHABET[30:62],
          "Zz9" * 10 + "Qq"]
write("api_key", [valid_key(b) for b in BODIES] + [
    valid_key(BODIES[0])[:-1] + "x",
    valid_key(BODIES[0])[:10] + "!" + valid_key(BODIES[0])[11:],
    valid_key(BODIES[1]) + "\n",
    " " + valid_key(BODIES[2]),
    KEY + "XXXXXX",
    "mlg_" + "0" * 32 + "000000",
    "mlg_" + "z" * 32 + "zzzzzz",
    "mlg_short",
    "mlg_" + "a" * 40,
    "MLG_" + "a" * 38,
    "",
    "Bearer mlg_" + "a" * 38,
    "mlg_" + "a" * 31 + "-" + "aaaaaa",
    "mlg_" + "a" * 32 + "aaaaa",
    "mlg_" + "a" * 32 + "aaaaaaa",
    "x" * 42,
    "mlg_" + "\x00" * 38,
    "mlg_" + "é" * 19,
    KEY,
    "a" * 100,
])

write("rate", [
    "5/min", "20/min", "10/s,burst=20", "50/s,burst=100", "20/min\nauth\n\x00\x08\x01\x08\x00\x60",
    "1/h", "3600/h", "1000000000/s", "1000000001/s", "0/s", "5/week", "5/min,burst=0",
    "5/min,burst=1\nfree\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x08",
    "5/min,burst=9999999", "5/min,", "5/min,brust=2", "5 /min", "/min", "5/", "-5/min",
    "0005/min", "5/min,burst=05", "99999999999999999999/s", "5/MIN", "5/min;burst=2",
    "1/h,burst=720\nbig\n\x00\xff\x01\xff\x02\xff\x03\xff",
    "100/s\nname with space\n", "100/s\n" + "n" * 33 + "\n",
    "2/s\npoll\n\x00\x01\x00\x01\x00\x01\x01\x02\x03\x04",
])

write("duration", [
    "90s", "15m", "24h", "7d", "30d", "0s", "1s", "s", "", "10", "10x", "-1s", "-0m", "+5s",
    "1.5h", " 5s", "5s ", "007d", "9223372036854775807s", "106751991167300d", "106751991167301d",
    "99999999999999999999999d", "1h30m", "\x00\x00\x00\x00\x00\x00\x00\x2a",
    "\x7f\xff\xff\xff\xff\xff\xff\xff",
])

write("scopes", [
    "predict", "read", "admin", "metrics", "predict,read", "predict,read,admin,metrics",
    "read,predict", "predict,predict", "predict,", ",read", "predict,,read", "", "Predict",
    "predict read", "predict, read", "write", "predict,read,\x00", "\x0f", "\x01", "metrics,admin",
    "admin,metrics,read,predict", ",", ",,", "read,read,read", "predictread", "predic", "reads",
    "metrics\n", "\u0440ead", "admin,", "all", "*",
])

CFG_FILE = json.dumps({"port": 8080, "workers": 4, "limit_ip": "10/s",
                       "tier": {"gold": "100/min"}, "trusted_proxy": ["10.0.0.0/8"],
                       "cors_origin": ["https://a.example"], "access_log": False})
write("config", [
    "\0\0",
    "\0\0--port\n8080",
    "\0\0--port=65536",
    "\0\0--workers\n0",
    "\0\0--tier\ngold=100/min\n--tier\nsilver=10/min",
    "\0\0--tier\n=5/min",
    "\0\0--trusted-proxy\n10.0.0.0/8\n--trusted-proxy\n::1",
    "\0\0--access-log\n--port\n1",
    "\0\0--access-log=maybe",
    "\0\0--model\nexec",
    "\0\0--model\nexec\n--exec\npython3 model.py\n--exec-timeout\n5s",
    "\0\0--tls-cert\nc.pem",
    "\0\0--retention\n30d\n--shutdown-grace\n90s",
    "\0\0--unknown\n1",
    "\0\0positional",
    "\0MLGATE_PORT=1002\nMLGATE_WORKERS=3\0",
    "\0MLGATE_PORT=eighty\0",
    "\0MLGATE_TIER=silver=3/min,gold=9/min\0",
    "\0MLGATE_TRUSTED_PROXY=2.0.0.0/8,3.0.0.0/8\0--trusted-proxy\n4.0.0.0/8",
    "\0MLGATE_ACCESS_LOG=0\nSTATE_DIRECTORY=/var/lib/mlgate:/other\0",
    "\0MLGATE_CORS_ORIGIN=https://a.example,,https://b.example\0",
    CFG_FILE + "\0\0",
    CFG_FILE + "\0MLGATE_PORT=9\0--port\n10",
    '{"port": "8081"}\0\0',
    '{"port": 8081.5}\0\0',
    '{"port": [1]}\0\0',
    '{"tier": {"a=b": "5/min"}}\0\0',
    '{"tier": ["gold=1/s", "x=2/s"]}\0\0',
    '{"trusted_proxy": "10.0.0.0/8"}\0\0',
    '{"nope": 1}\0\0',
    '{"nope\\nsecond line": 1}\0\0',
    '[1, 2]\0\0',
    'not json\0\0',
    '{"data_dir": "/tmp/x", "model": "exec", "exec": "cat"}\0\0',
    '{"retention": "7d", "exec_timeout": "1500ms"}\0\0',
    '{"max_body": 1023}\0\0--max-body\n1024',
    '{"limit_table_size": 100000000, "max_connections": 65536, "queue_max": 1}\0\0',
])

write("ip_address", [
    "1.2.3.4", "255.255.255.255", "0.0.0.0", "10.0.0.0/8", "172.16.0.0/12", "192.0.2.7/32",
    "0.0.0.0/0", "10.0.0.1/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1",
    "10.0.0.0/8/8", "10.0.0/8", "0x7f.0.0.1", "1.2.3.4:80", "01.2.3.4", "::1", "::", "::/0",
    "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "2001:db8::/32", "2001:db8::1/32", "2001:db8::/129",
    "2001:db8:1:2::/64", "2001:db8:8000::/33", "::ffff:1.2.3.4", "::ffff:0102:0304",
    "::ffff:10.0.0.0/104", "::ffff:10.0.0.0/8", "2001:db8:::1",
    "1111:2222:3333:4444:5555:6666:7777:8888:9999", "fe80::1%eth0", "[::1]", "2001:db8::1/128",
    "\x40::1", "\x80" + "2001:db8::5",
])

write("forwarded_for", [
    "10.0.0.2\n198.51.100.1\n10.0.0.0/8",
    "10.0.0.2\n1.1.1.1, 198.51.100.1, 10.0.0.3\n10.0.0.0/8",
    "10.0.0.2\n 1.1.1.1 ,\t198.51.100.1\t\n10.0.0.0/8",
    "10.0.0.2\n10.1.1.1, 10.2.2.2\n10.0.0.0/8",
    "203.0.113.9\n198.51.100.1\n10.0.0.0/8",
    "10.0.0.2\n198.51.100.1, garbage\n10.0.0.0/8",
    "10.0.0.2\n198.51.100.1,\n10.0.0.0/8",
    "10.0.0.2\n198.51.100.1,,1.2.3.4\n10.0.0.0/8",
    "10.0.0.2\n198.51.100.1:4711\n10.0.0.0/8",
    "10.0.0.2\n198.51.100.1;for=x\n10.0.0.0/8",
    "10.0.0.2\n\n10.0.0.0/8",
    "10.0.0.2\n   \n10.0.0.0/8",
    "10.0.0.2\n" + ", ".join("1.1.1.%d" % i for i in range(33)) + "\n10.0.0.0/8",
    "10.0.0.2\n" + ", ".join("1.1.1.%d" % i for i in range(32)) + "\n10.0.0.0/8",
    "::1\n2001:db8::5, ::ffff:1.2.3.4\n::1\n10.0.0.0/8",
    "::ffff:10.0.0.2\n198.51.100.7\n10.0.0.0/8",
    "fe80::1%eth0\n192.0.2.1\nfe80::/10",
    "2001:db8::1\n2001:db8:1::5, 2001:db8::6\n2001:db8::/32\n2001:db8:1::/48",
    "10.0.0.2\n198.51.100.1\n0.0.0.0/0",
    "10.0.0.2\n198.51.100.1\n::/0",
    "10.0.0.2\n198.51.100.1\n10.0.0.1/8\n10.0.0.0/8",
    "not an address\n198.51.100.1\n10.0.0.0/8",
    "10.0.0.2\n" + "1" * 2100 + "\n10.0.0.0/8",
])

write("cursor", [
    "c1", "c2", "c123", "c9223372036854775807", "c9223372036854775808", "c0", "c-1", "c", "",
    "c01", "c+5", "c 5", "C5", "c5x", "c1.5", "123", "cc5",
    struct.pack("<q", 1), struct.pack("<q", 2**63 - 1), struct.pack("<q", -1),
    struct.pack("<q", 1234567) + b"c77",
])

write("prefer", [
    "\x1ewait=5", "\x1ewait=30", "\x1ewait=31", "\x1ewait=0", "\x1erespond-async, wait=10",
    "\x1erespond-async; wait=10", "\x1ewait=10, respond-async", "\x1ewait=5x", "\x1ewait=5.5",
    "\x1ewait=-1", "\x1ewait=", "\x1ewait = 5", "\x1eWait=5", "\x1enowait=5", "\x1ehandling=lenient",
    "\x1e", "\x00wait=5", "\x3fwait=99999999999", "\x1ewait=05", "\x1ewait=5\t", "\x1e\twait=5",
    "\x1ereturn=minimal,wait=7;x", "\x1ewait=1 wait=2",
])

write("exec_reply", [
    '{"id":7,"label":"positive","score":0.93,"detail":{"p":0.93}}',
    '{"id":7,"label":"ok","score":1}',
    '{"id":7,"label":"ok","score":-0.0}',
    '{"id":7,"label":"ok","score":1e308,"detail":null}',
    '{"id":7,"label":"ok","score":1e400}',
    '{"id":7,"label":"ok","score":"0.5"}',
    '{"id":7,"label":5,"score":0.5}',
    '{"id":7,"score":0.5}',
    '{"id":7,"label":"ok"}',
    '{"id":7,"label":"ok","score":0.5,"detail":[1,2]}',
    '{"id":7,"label":"ok","score":0.5,"extra":"ignored","detail":{}}',
    '{"id":7,"error":"input too long"}',
    '{"id":7,"error":' + json.dumps("é" * 600) + '}',
    '{"id":7,"error":42}',
    '{"id":8,"label":"ok","score":1}',
    '{"id":-7,"label":"ok","score":1}',
    '{"id":7.0,"label":"ok","score":1}',
    '{"id":"7","label":"ok","score":1}',
    '{"id":' + json.dumps(list(range(300))) + ',"label":"ok","score":1}',
    '{"id":18446744073709551615,"label":"ok","score":1}',
    '{"label":"ok","score":1}',
    "Loading weights...",
    "",
    "[]",
    "null",
    '{"id":3,"label":"x"}',
    '{"id":7,"label":"ok","score":1}{"id":8}',
    '{"id":7,"label":"\\u00e9\\ud83d\\ude00","score":0.1,"detail":{"k":[{"deep":true}]}}',
])

snap_seed = struct.pack("<QQ", 0x0123456789ABCDEF, 0xFEDCBA9876543210)
def snapshot(entries, seed=snap_seed, count=None):
    n = len(entries) if count is None else count
    return b"MLGRL1" + seed + struct.pack("<Q", n) + b"".join(struct.pack("<Qq", k, t) for k, t in entries)
NOW = 1_700_000_000 * 10**9
write("limiter_snapshot", [
    snapshot([]),
    snapshot([(1, NOW + 10**9)]),
    snapshot([(0xdeadbeef, NOW + 60 * 10**9), (0xfeedface, NOW - 1)]),
    snapshot([(5, 2**63 - 1), (6, -2**63)]),
    snapshot([(0, NOW + 10**9)]),
    snapshot([(i * 7919 + 1, NOW + i * 10**9) for i in range(40)]),
    snapshot([(9, NOW)], count=2),
    snapshot([(9, NOW)], count=2**64 - 1),
    snapshot([(9, NOW)])[:-3],
    b"MLGRL2" + snapshot([(1, NOW)])[6:],
    b"MLGRL1",
    b"",
    snapshot([(1, NOW + 10**15)], seed=b"\0" * 16),
    snapshot([(2**64 - 1, NOW + 5 * 10**9)]),
    snapshot([(7, NOW + 10**9)] * 5),
    snapshot([(i + 1, NOW + 120 * 10**9 + i) for i in range(8)]),
    snapshot([(i + 1, NOW - i * 10**9) for i in range(8)]),
    snapshot([(3, NOW + 10**9)]) + b"\0",
    snapshot([(3, NOW + 10**9)], count=0),
    snapshot([(3, NOW + 10**9)], count=2**60),
    b"MLGRL1" + b"\xff" * 24,
    b"mlgrl1" + snapshot([])[6:],
    snapshot([(i * 0x9E3779B97F4A7C15 % 2**64 or 1, NOW + (i % 7) * 10**10) for i in range(64)]),
    snapshot([(1, NOW + 10**9)], seed=b"\xff" * 16),
])

write("lexicon", [
    "good\t1.9\t0.9\t[2, 2, 1]\nbad\t-2.5\t0.5\t[-3]\n",
    "good\t1.9\n",
    "good\t1.9\r\nbad\t-2.5\r\n",
    "good\t1.9\ngood\t-1.0\n",
    "\n\n  \t\n",
    "",
    "good\n",
    "good\tnot-a-number\n",
    "good\tinf\n",
    "good\tnan\n",
    "good\t1e308\ngreat\t1e308\nbest\t1e308\n",
    "tiny\t5e-324\n",
    "huge\t-1.7976931348623157e308\n",
    "good\t+3\n",
    "good\t0x10\n",
    "good\t 2\n",
    b"caf\xc3\xa9\t2.0\n",
    b"bad\xff\t1\n",
    ":)\t2.0\n:(\t-1.9\n<3\t1.9\n",
    "kind of\t1.0\nno\t-1.2\nbut\t0.5\nvery\t2\n",
    "😀\t3.1\n",
    "a\tb\tc\td\te\n",
    "\tempty token\n",
    "GOOD\t2\n",
    "1\t1\n2\t2\n3\t3\n4\t4\n",
])

probes = []
with open(os.path.join(ROOT, "..", "tests", "data", "vader_probes.tsv"), encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t")[1] for line in f][1:]
probes = rows[::60][:28]
write("sentiment", probes + [
    "",
    "The food was GREAT but the service was not good at all :(",
    "I don't think this is bad, kind of ok",
    "😀 😡 💔 ❤️ 👍🏽",
    b"invalid \xff\xfe utf-8 \xc0\xaf and a truncated \xe2\x82",
    "NUL\0inside",
    "İSTANBUL ΣΊΣΥΦΟΣ ǅemal",
    "!!!!!!!!?????",
    "but but but but good but bad",
    ("good " * 400).strip(),
])
# request_head: three bytes choose the limits and the chunking (see
# fuzz/request_head.cpp), then the bytes of the connection.
ROOMY, TIGHT = b"\xff\xfa\x01", b"\x08\x33\x07"
HEADS = [
    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /jobs/abc HTTP/1.1\r\nHost: x\r\nX-API-Key: mlg_k\r\n\r\n",
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 12\r\nExpect: 100-continue\r\n\r\n{\"text\":\"x\"}",
    b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nX: y\r\nrange: bytes=2-3\r\n\r\n",
    b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n",
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 600 + b"\r\n\r\n",
    b"GET /" + b"a" * 600 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 600 + b"\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 12 + b"\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX:\r\nY:\t v \t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n",
]
write("request_head", [ROOMY + h for h in HEADS] + [TIGHT + h for h in HEADS[:8]])

# gate: method, path, peer, limiter mode, then header lines (fuzz/gate.cpp).
def gate(method, path, headers=(), peer="127.0.0.1", mode="up"):
    return "\n".join([method, path, peer, mode] + list(headers))

JSON_POST = ["Content-Type: application/json", "Content-Length: 20"]
write("gate", [
    gate("GET", "/health"),
    gate("HEAD", "/health"),
    gate("GET", "/"),
    gate("GET", "/jobs", ["X-API-Key: key-read"]),
    gate("GET", "/jobs/abc", ["X-API-Key: key-all"]),
    gate("GET", "/jobs/abc", ["Authorization: Bearer key-all"]),
    gate("GET", "/jobs/abc", ["Authorization: bearer key-odd"]),
    gate("GET", "/jobs/abc", ["X-API-Key: wrong"]),
    gate("GET", "/jobs/abc"),
    gate("DELETE", "/jobs/abc", ["X-API-Key: key-read"]),
    gate("POST", "/predict", ["X-API-Key: key-all"] + JSON_POST),
    gate("POST", "/predict", ["X-API-Key: key-odd"] + JSON_POST),
    gate("POST", "/predict", ["X-API-Key: key-read"] + JSON_POST),
    gate("POST", "/predict", ["X-API-Key: key-all", "Content-Type: text/plain", "Content-Length: 5"]),
    gate("POST", "/predict", ["X-API-Key: key-all", "Content-Type: application/json"]),
    gate("POST", "/predict", ["X-API-Key: key-all", "Content-Length: 2000"] + JSON_POST[:1]),
    gate("POST", "/predict", ["X-API-Key: key-all", "Content-Length: 9999999"] + JSON_POST[:1]),
    gate("POST", "/predict", ["X-API-Key: key-all", "Expect: 100-continue", "Content-Length: 2000"]),
    gate("POST", "/predict", ["X-API-Key: key-all", "Transfer-Encoding: chunked"]),
    gate("POST", "/predict", ["X-API-Key: key-all", "Content-Encoding: gzip"] + JSON_POST),
    gate("POST", "/predict", ["Content-Length: 1", "Content-Length: 1"]),
    gate("GET", "/jobs", ["Content-Length: 4", "X-API-Key: key-read"]),
    gate("GET", "/metrics", ["X-API-Key: key-all"]),
    gate("GET", "/metrics", ["X-API-Key: key-read"]),
    gate("PUT", "/jobs/abc"),
    gate("GET", "/nope"),
    gate("OPTIONS", "/predict", ["Origin: https://app.example"]),
    gate("OPTIONS", "/predict", ["Origin: https://evil.example"]),
    gate("GET", "/", ["X-Forwarded-For: 198.51.100.1, 203.0.113.7"]),
    gate("GET", "/", ["X-Forwarded-For: 203.0.113.7", "X-Forwarded-For: ::1"], peer="::1"),
    gate("GET", "/", ["X-Forwarded-For: 203.0.113.7"], peer="192.0.2.1"),
    gate("GET", "/", peer="2001:db8::1"),
    gate("GET", "/", peer="fe80::1%eth0"),
    gate("GET", "/jobs", ["X-API-Key: key-read"], mode="down-closed"),
    gate("GET", "/jobs", ["X-API-Key: key-read"], mode="down-open"),
    gate("GET", "/jobs", ["X-API-Key: wrong"], mode="down-open"),
    gate("GET", "/health", mode="down-closed"),
])

print("seeds written")
