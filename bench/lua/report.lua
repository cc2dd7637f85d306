-- Appended to every scenario: one machine-readable line for wxlogin-bench to read.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WXBENCH {\"requests\":%d,\"duration_us\":%d,\"socket_errors\":%d,\"non2xx\":%d," ..
    "\"p50_us\":%d,\"p99_us\":%d,\"p999_us\":%d}\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
