-- POST /api/login with a fresh code each time: with args[1] > 0 every other request a
-- returning user (tok<k>, k < args[1], whom the token set created) and the others a user never
-- seen; with args[1] = 0 (a burst of sign-ups) only users never seen. args[2] makes the codes
-- this run's own: the fake refuses a code it has seen. With args[3] > 0, each is sent as if
-- through a trusted reverse proxy from one of args[3] client addresses (X-Forwarded-For
-- 10.a.b.c, taken in turn, each thread from its own place): the server must trust 127.0.0.1
-- (TRUSTED_PROXIES). Without it every login comes from 127.0.0.1, one client for the login
-- rate limit.
sent = 0

function init(args)
  returning = tonumber(args[1])
  run = args[2]
  spread = tonumber(args[3]) or 0
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
