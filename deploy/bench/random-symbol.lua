-- wrk script: GET the path in TICKBAR_BENCH_PATH with {symbol} replaced by one of
-- TICKBAR_BENCH_SYMBOLS symbols (600000.SH upwards), chosen at random per request.
local template = os.getenv("TICKBAR_BENCH_PATH")
local symbols = tonumber(os.getenv("TICKBAR_BENCH_SYMBOLS") or "50")

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end

request = function()
  local symbol = string.format("%06d.SH", 600000 + math.random(0, symbols - 1))
  return wrk.format("GET", (template:gsub("{symbol}", symbol)))
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
