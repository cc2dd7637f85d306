-- Appended to every scenario's script: numbers the threads (`id`, from 0, in each thread's
-- state before its init) and, when wrk is done, prints what wxlogin-bench reads: one WXBENCH
-- line for the whole run and one WXTHREAD line per thread (the requests it sent, and the
-- script's own `stats` and `latency` where it keeps them: flat tables, since wrk 4.1 crashes
-- copying nested ones), so that a slow or stalled thread shows.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

local function json(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do
      parts[#parts + 1] = string.format("%q:%s", tostring(k), json(x))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(v) == "number" then
    return string.format("%.17g", v)
  elseif type(v) == "boolean" then
    return tostring(v)
  end
  return string.format("%q", tostring(v))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WXBENCH {\"requests\":%d,\"duration_us\":%d,\"socket_errors\":%d,\"non2xx\":%d," ..
    "\"p50_us\":%d,\"p99_us\":%d,\"p999_us\":%d,\"max_us\":%d,\"mean_us\":%.1f,\"stdev_us\":%.1f," ..
    "\"connect_errors\":%d,\"read_errors\":%d,\"write_errors\":%d,\"timeouts\":%d," ..
    "\"bytes\":%d}\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    latency.mean, latency.stdev, e.connect, e.read, e.write, e.timeout, summary.bytes))
  for _, thread in ipairs(threads) do
    io.write(string.format("WXTHREAD {\"id\":%d,\"sent\":%d,\"stats\":%s,\"latency\":%s}\n",
      thread:get("id"), thread:get("sent") or 0, json(thread:get("stats") or {}),
      json(thread:get("latency") or {})))
  end
end
