-- wrk: authenticated GET /jobs/{id}. BENCH_KEY: a key with scope read; BENCH_JOB: a job of its owner.
wrk.method = "GET"
wrk.headers["X-API-Key"] = os.getenv("BENCH_KEY") or "missing"
wrk.path = "/jobs/" .. (os.getenv("BENCH_JOB") or "missing")
