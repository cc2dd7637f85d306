-- POST /api/me/avatar as wx.uploadFile sends it: the same multipart/form-data body each time
-- (args[2], written by the bench: a phone photo in the part `file`, between boundaries
-- args[3]), each request with the next of a set of valid tokens (args[1], one a line), so
-- each replaces an avatar of its own user.
local tokens = {}
local i = 0
local body, content_type
sent = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = "Bearer " .. line
  end
  local file = assert(io.open(args[2], "rb"))
  body = file:read("*a")
  file:close()
  content_type = "multipart/form-data; boundary=" .. args[3]
  -- Threads apart in the token set: two threads uploading for one user at once is not a
  -- user's path.
  i = (id * 7919) % #tokens
end

function request()
  sent = sent + 1
  i = i % #tokens + 1
  return wrk.format("POST", "/api/me/avatar",
    { ["Authorization"] = tokens[i], ["Content-Type"] = content_type }, body)
end
