-- The login scenario's requests (bench/lua/login.lua: a fresh code each time, every other one
-- a returning user of the token set when args[1] > 0; args[2] makes the codes this run's own),
-- each sent, when args[3] > 0, as if through a trusted reverse proxy from one of args[3]
-- client addresses (X-Forwarded-For 10.a.b.c, taken in turn, each thread from its own place):
-- the server must trust 127.0.0.1 (TRUSTED_PROXIES). With args[3] = 0 every login comes from
-- 127.0.0.1, one client for the login rate limit.
sent = 0

function init(args)
  returning = tonumber(args[1])
  run = args[2]
  spread = tonumber(args[3])
end

function request()
  sent = sent + 1
  local code
  if returning > 0 and sent % 2 == 0 then
    code = string.format("tok%d.%s-%d-%d", sent % returning, run, id, sent)
  else
    code = string.format("new%s-%d-%d", run, id, sent)
  end
  local headers = { ["Content-Type"] = "application/json" }
  if spread > 0 then
    local n = (id * 104729 + sent) % spread
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d",
      math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  end
  return wrk.format("POST", "/api/login", headers, '{"code":"' .. code .. '"}')
end
