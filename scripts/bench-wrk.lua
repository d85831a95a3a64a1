-- wrk script of scripts/bench. With BENCH_BODY set, each request POSTs it as JSON
-- (with BENCH_KEY as the bearer key); otherwise requests are wrk's plain GETs.
-- After the run, prints one line the benchmark reads.
local body = os.getenv("BENCH_BODY")
if body then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
