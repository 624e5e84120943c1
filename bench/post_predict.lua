-- wrk: POST /predict with a valid key (BENCH_KEY) and a different valid text each time.
-- Each 202 is a job row committed with synchronous=FULL (group commit). Also the flood
-- scenario: the same requests with a key of a 10/s tier, so nearly all are 429s.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("BENCH_KEY") or "missing"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/predict", nil,
    '{"text":"The service was good and the staff were friendly, visit number ' .. n .. '"}')
end
