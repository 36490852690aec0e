-- Loaded by every wrk run of the benchmark: prints one JSON line with the counts and latency percentiles (µs).
-- ORDER_BODY set: each request is a POST /api/orders/orders with its own Idempotency-Key (-t1, so a counter is unique).
local body = os.getenv("ORDER_BODY")
local prefix = os.getenv("KEY_PREFIX") or "bench"
local counter = 0

if body then
  request = function()
    counter = counter + 1
    wrk.headers["content-type"] = "application/json"
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
    return wrk.format("POST", wrk.path, nil, body)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
