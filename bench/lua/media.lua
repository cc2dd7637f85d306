-- GET /media/avatars/{name} over stored avatars' names (args[1], one a line), each in turn;
-- with args[2] = "304", each with the If-None-Match of its ETag (the quoted name), as a client
-- holding the file revalidates it. No token: avatars are public.
local requests = {}
local i = 0
sent = 0

function init(args)
  local revalidate = args[2] == "304"
  for name in io.lines(args[1]) do
    local headers = {}
    if revalidate then
      headers["If-None-Match"] = '"' .. name .. '"'
    end
    requests[#requests + 1] = wrk.format("GET", "/media/avatars/" .. name, headers)
  end
  i = (id * 7919) % #requests
end

function request()
  sent = sent + 1
  i = i % #requests + 1
  return requests[i]
end
