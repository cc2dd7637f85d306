-- POST /api/login with a fresh code each time: every other request a returning user
-- (tok<k>, whom the token set created), the others a user never seen.
local counter = 0
local n = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  returning = tonumber(args[1])
  run = args[2]
end

function request()
  n = n + 1
  local code
  if n % 2 == 0 then
    code = string.format("tok%d.%s-%d-%d", n % returning, run, id, n)
  else
    code = string.format("new%s-%d-%d", run, id, n)
  end
  return wrk.format("POST", "/api/login", { ["Content-Type"] = "application/json" },
    '{"code":"' .. code .. '"}')
end
