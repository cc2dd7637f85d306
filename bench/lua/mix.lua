-- Reads and logins at once: of every 10 requests, 9 are GET /api/me with the next of a set of
-- valid tokens (args[1], one file line each) and 1 is POST /api/login with a fresh code, for a
-- returning user (tok<k>, k < args[2]) and a new one in turn; args[3] makes the codes this run's
-- own. Each request carries an X-Request-Id of its kind and the time it was sent (both servers
-- echo it), so `response` times reads and logins apart: per kind the answers and the errors
-- (status >= 400) in `stats`, and in `latency` a histogram in buckets 1 % wide (bucket b holds
-- up to 1.01^(b+1) µs; a login's bucket is counted at 100000 + b). wrk's own histogram is of
-- both kinds together. (Flat tables: wrk 4.1 crashes copying nested ones to `done`.)
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } wxbench_timespec;
int clock_gettime(int clock, wxbench_timespec *now);
]]
local clock = ffi.new("wxbench_timespec")
local CLOCK_MONOTONIC = 1
local LOG_STEP = math.log(1.01)

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
end

local tokens = {}
local i = 0
local logins = 0
sent = 0
stats = { me_answers = 0, me_errors = 0, login_answers = 0, login_errors = 0, untagged = 0 }
latency = {}

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = "Bearer " .. line
  end
  i = math.random(#tokens)
  returning = tonumber(args[2])
  run = args[3]
end

function request()
  sent = sent + 1
  if sent % 10 == 0 then
    logins = logins + 1
    local code
    if logins % 2 == 0 then
      code = string.format("tok%d.%s-%d-%d", logins % returning, run, id, logins)
    else
      code = string.format("new%s-%d-%d", run, id, logins)
    end
    return wrk.format("POST", "/api/login", {
      ["Content-Type"] = "application/json",
      ["X-Request-Id"] = string.format("l%d", now_us()),
    }, '{"code":"' .. code .. '"}')
  end
  i = i % #tokens + 1
  return wrk.format("GET", "/api/me", {
    ["Authorization"] = tokens[i],
    ["X-Request-Id"] = string.format("m%d", now_us()),
  })
end

function response(status, headers, body)
  local tag = headers["x-request-id"] or headers["X-Request-Id"]
  if not tag then
    stats.untagged = stats.untagged + 1
    return
  end
  local login = tag:sub(1, 1) == "l"
  local us = math.max(now_us() - tonumber(tag:sub(2)), 1)
  local bucket = math.floor(math.log(us) / LOG_STEP)
  if login then
    bucket = bucket + 100000
    stats.login_answers = stats.login_answers + 1
    if status >= 400 then
      stats.login_errors = stats.login_errors + 1
    end
  else
    stats.me_answers = stats.me_answers + 1
    if status >= 400 then
      stats.me_errors = stats.me_errors + 1
    end
  end
  latency[bucket] = (latency[bucket] or 0) + 1
end
