-- POST /api/token/refresh, each request spending one of a set of refresh tokens (one file
-- line each) and each answer's new token taking its place: every request moves a session's
-- counter on, as a client's refresh does. args: the file, this wrk's threads, its index among
-- the wrks (one per instance) and their number; each thread of each wrk takes lines of its own.
local queue = {}
local first, last = 1, 0
sent = 0

function init(args)
  local threads, wrk_index, wrks = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  local slots, mine, k = threads * wrks, wrk_index * threads + id, 0
  for line in io.lines(args[1]) do
    if k % slots == mine then
      last = last + 1
      queue[last] = line
    end
    k = k + 1
  end
end

function request()
  sent = sent + 1
  local token = queue[first]
  if first < last then
    queue[first] = nil
    first = first + 1
  end
  return wrk.format("POST", "/api/token/refresh", { ["Content-Type"] = "application/json" },
    '{"refreshToken":"' .. token .. '"}')
end

function response(status, headers, body)
  local token = body:match('"refreshToken":"([^"]+)"')
  if token then
    last = last + 1
    queue[last] = token
  end
end
