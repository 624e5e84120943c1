-- wrk: POST /predict with a wrong key. With the default --limit-auth-fail (20/min) only the
-- first 20 are 401s and the rest 429s from the per-address failure budget (answered before
-- the key is looked at); run against a server with --limit-auth-fail 1000000000/s to time
-- the 401 path itself.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "not-a-key"
wrk.body = '{"text":"This should be rejected before any work"}'
wrk.path = "/predict"
