-- POST /api/login with a fresh code each time: with args[1] > 0 every other request a
-- returning user (tok<k>, k < args[1], whom the token set created) and the others a user never
-- seen; with args[1] = 0 (a burst of sign-ups) only users never seen. args[2] makes the codes
-- this run's own: the fake refuses a code it has seen.
sent = 0

function init(args)
  returning = tonumber(args[1])
  run = args[2]
end

function request()
  sent = sent + 1
  local code
  if returning > 0 and sent % 2 == 0 then
    code = string.format("tok%d.%s-%d-%d", sent % returning, run, id, sent)
  else
    code = string.format("new%s-%d-%d", run, id, sent)
  end
  return wrk.format("POST", "/api/login", { ["Content-Type"] = "application/json" },
    '{"code":"' .. code .. '"}')
end
