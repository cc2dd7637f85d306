-- GET /api/me, each request with the next of a set of valid tokens (one file line each).
local tokens = {}
local i = 0
sent = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = "Bearer " .. line
  end
  i = math.random(#tokens)
end

function request()
  sent = sent + 1
  i = i % #tokens + 1
  return wrk.format("GET", "/api/me", { ["Authorization"] = tokens[i] })
end
