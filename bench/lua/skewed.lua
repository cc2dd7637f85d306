-- GET /api/me over a working set of N tokens (args[1], one file line each), a few of them
-- asked for most: token k (from 0) with probability ln((k+2)/(k+1)) / ln(N+1), close to Zipf's
-- law with exponent 1 (the first 1 % of the tokens take 60 % of the requests at N = 10^5). Drawn
-- as floor(exp(u * ln(N+1))) - 1 with u from a xorshift32 stream per thread, seeded with
-- args[2] + 40503 * id, so that wxlogin-bench replays the very trace (`sent` draws per thread;
-- `stats.sum` of the indices checks the replay) through an ideal LRU.
local bit = require("bit")
local tokens = {}
local state
local log_n
sent = 0
stats = { sum = 0 }

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = "Bearer " .. line
  end
  log_n = math.log(#tokens + 1)
  state = bit.tobit((tonumber(args[2]) + 40503 * id) % 4294967296)
  if state == 0 then
    state = 1
  end
end

local function next_index()
  state = bit.bxor(state, bit.lshift(state, 13))
  state = bit.bxor(state, bit.rshift(state, 17))
  state = bit.bxor(state, bit.lshift(state, 5))
  local u = state
  if u < 0 then
    u = u + 4294967296
  end
  local k = math.floor(math.exp(u / 4294967296 * log_n)) - 1
  return math.min(k, #tokens - 1)
end

function request()
  sent = sent + 1
  local k = next_index()
  stats.sum = stats.sum + k
  return wrk.format("GET", "/api/me", { ["Authorization"] = tokens[k + 1] })
end
