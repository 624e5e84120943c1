-- wrk: POST /predict with a wrong key, BENCH_KEY (bench/run.sh sets it: "not-a-key", a
-- malformed key refused by its format before any lookup, or a well-formed key with a correct
-- checksum that is in no database, which is looked up and runs the miss-refresh). With the
-- default --limit-auth-fail (20/min) only the first 20 are 401s and the rest 429s from the
-- per-address failure budget (answered before the key is looked at); run against a server
-- with --limit-auth-fail 1000000000/s to time the 401 path itself.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("BENCH_KEY") or "not-a-key"
wrk.body = '{"text":"This should be rejected before any work"}'
wrk.path = "/predict"
