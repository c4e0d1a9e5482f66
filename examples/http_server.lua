-- examples/http_server.lua: a static HTTP/1.1 file server for one
-- directory.
--
--   build/bin/coutil examples/http_server.lua [dir [host [port [maxconns [seconds [idle]]]]]]
--   build/bin/coutil examples/http_server.lua docs 127.0.0.1 8080
--   curl -s http://127.0.0.1:8080/manual.md
--   curl -s http://127.0.0.1:8080/manual.md http://127.0.0.1:8080/design.md
--
-- Defaults: the current directory, 127.0.0.1, port 0 (the system picks
-- one; the first line printed is "listening on http://HOST:PORT/"), no
-- limit on connections, no time limit. With 'maxconns' it stops accepting
-- after that many connections and exits once they are closed; after
-- 'seconds' it stops accepting and closes idle connections. It logs one
-- line per request ("#conn METHOD target status bytes") and a summary at
-- the end.
--
-- What it serves: GET and HEAD (other methods: 405); files with
-- Content-Length and a Content-Type from their extension; a directory as
-- its index.html, or a listing when it has none (a directory without its
-- final "/" is redirected, 301); 404 for a missing file; 400 for a request
-- that is not HTTP/1.x (or HTTP/1.1 without Host); 403 for a path with a
-- ".." segment (also percent-encoded) or a file that cannot be read.
-- Connections are kept alive (HTTP/1.1 by default, HTTP/1.0 with
-- "Connection: keep-alive") for any number of requests, until the client
-- says "Connection: close", closes, or stays idle for 'idle' seconds
-- (default 10).
--
-- What it shows: a coroutine per connection that reads requests from a
-- buffer of bytes (a read may bring part of a request, or several),
-- coutil.timeout around each read for the idle limit, and files served
-- with system.openfile, file:info and file:read into a memory that
-- socket:write sends, chunk by chunk.

local system = require "coutil.system"
local event = require "coutil.event"
local timeout = require "coutil.timeout"
local memory = require "memory"

local root = arg[1] ~= "" and arg[1] or "."
local host = arg[2] or "127.0.0.1"
local port = tonumber(arg[3]) or 0
local maxconns = tonumber(arg[4])
local seconds = tonumber(arg[5])
local IDLE = tonumber(arg[6]) or 10  -- seconds a connection may wait
local MAXHEAD = 16384    -- the largest request head accepted

root = root:gsub("/+$", "")
if root == "" then root = "/" end

local TYPES = {
  html = "text/html; charset=utf-8", htm = "text/html; charset=utf-8",
  txt = "text/plain; charset=utf-8", md = "text/plain; charset=utf-8",
  lua = "text/plain; charset=utf-8", c = "text/plain; charset=utf-8",
  css = "text/css", js = "text/javascript", json = "application/json",
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg",
  gif = "image/gif", svg = "image/svg+xml", pdf = "application/pdf",
}

local REASONS = {
  [200] = "OK", [301] = "Moved Permanently", [400] = "Bad Request",
  [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
  [413] = "Content Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented",
}

local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

local function log (fmt, ...)
  io.stdout:write(string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local function htmlescape (s)
  return (s:gsub("[&<>\"]", {["&"] = "&amp;", ["<"] = "&lt;",
                             [">"] = "&gt;", ['"'] = "&quot;"}))
end

local function urlencode (s)
  return (s:gsub("[^%w%-%._~/]", function (c)
    return string.format("%%%02X", c:byte())
  end))
end

-- The decoded path of a request target, or nil and a status.
local function decodepath (target)
  local path = target:gsub("[?#].*$", ""):gsub("^[Hh][Tt][Tt][Pp]://[^/]*", "")
  if path:sub(1, 1) ~= "/" then return nil, 400 end
  local bad = false
  path = path:gsub("%%(%x?%x?)", function (hex)
    if #hex < 2 then bad = true return "" end
    return string.char(tonumber(hex, 16))
  end)
  if bad or path:find("\0", 1, true) then return nil, 400 end
  for segment in path:gmatch("[^/]+") do
    if segment == ".." then return nil, 403 end
  end
  return path
end

-- One connection: requests read from 'pending' plus what arrives.
local Connection = {}
Connection.__index = Connection

-- Reads more bytes into c.pending; false at the end, after an error or
-- after IDLE seconds without any byte.
function Connection:fill ()
  local n, err = timeout.call(IDLE, self.sock.read, self.sock, self.buf)
  if not n then
    if err ~= "end of file" and err ~= "timeout" and err ~= "closed" then
      log("#%d read failed: %s", self.id, tostring(err))
    end
    return false
  end
  self.pending = self.pending .. self.buf:tostring(1, n)
  return true
end

-- The next request head (the text before the empty line), or nil.
function Connection:readhead ()
  while true do
    local e, stop = self.pending:find("\r?\n\r?\n")
    if e then
      local head = self.pending:sub(1, e - 1)
      self.pending = self.pending:sub(stop + 1)
      return head
    end
    if #self.pending > MAXHEAD then return nil, 413 end
    if not self:fill() then return nil end
  end
end

-- Skips 'n' bytes of request body.
function Connection:skip (n)
  while #self.pending < n do
    n = n - #self.pending
    self.pending = ""
    if not self:fill() then return false end
  end
  self.pending = self.pending:sub(n + 1)
  return true
end

function Connection:send (data, i, j)
  local ok, err = self.sock:write(data, i, j)
  if not ok then self.broken = err end
  return ok
end

-- Sends the status line and the headers (a table of name, value pairs).
function Connection:head (status, headers, length, keep)
  local lines = {string.format("HTTP/1.1 %d %s", status, REASONS[status]),
    "Server: coutil-example",
    "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S GMT"),
    "Content-Length: " .. length,
    "Connection: " .. (keep and "keep-alive" or "close")}
  for _, h in ipairs(headers) do lines[#lines + 1] = h[1] .. ": " .. h[2] end
  lines[#lines + 1] = "\r\n"
  return self:send(table.concat(lines, "\r\n"))
end

-- A whole response with a short text body (errors, listings, redirects).
function Connection:reply (req, status, body, headers)
  body = body or string.format("%d %s\n", status, REASONS[status])
  headers = headers or {}
  if not headers.typed then
    headers[#headers + 1] = {"Content-Type", "text/plain; charset=utf-8"}
  end
  req.status, req.bytes = status, #body
  if not self:head(status, headers, #body, req.keep) then return false end
  if req.method == "HEAD" then return true end
  return self:send(body)
end

function Connection:listing (req, path, dir)
  local names = {}
  for name, kind in system.listdir(dir) do
    names[#names + 1] = kind == "directory" and name .. "/" or name
  end
  table.sort(names)
  local title = htmlescape(path)
  local html = {"<!DOCTYPE html>\n<title>", title, "</title>\n<h1>", title,
    "</h1>\n<ul>\n"}
  for _, name in ipairs(names) do
    html[#html + 1] = string.format('<li><a href="%s">%s</a></li>\n',
      urlencode(name), htmlescape(name))
  end
  html[#html + 1] = "</ul>\n"
  return self:reply(req, 200, table.concat(html),
    {{"Content-Type", "text/html; charset=utf-8"}, typed = true})
end

-- Serves an open regular file of 'size' bytes.
function Connection:file (req, file, size, path)
  local ext = path:match("%.([%w]+)$")
  local ctype = TYPES[ext and ext:lower()] or "application/octet-stream"
  req.status, req.bytes = 200, 0
  if not self:head(200, {{"Content-Type", ctype}}, size, req.keep) then
    return false
  end
  if req.method == "HEAD" then return true end
  local left = size
  while left > 0 do
    local n, err = file:read(self.filebuf)
    if not n or n == 0 then  -- the file shrank or failed: cut the reply
      log("#%d %s: read failed: %s", self.id, path, tostring(err or "short"))
      return false
    end
    n = math.min(n, left)
    if not self:send(self.filebuf, 1, n) then return false end
    left = left - n
    req.bytes = req.bytes + n
  end
  return true
end

-- Answers one request; false when the connection cannot go on.
function Connection:respond (req)
  if req.method ~= "GET" and req.method ~= "HEAD" then
    return self:reply(req, 405, nil, {{"Allow", "GET, HEAD"}})
  end
  local path, status = decodepath(req.target)
  if not path then return self:reply(req, status) end
  local fspath = root .. path
  local file = system.openfile(fspath, "r")
  if not file then return self:reply(req, 404) end
  local kind, size = file:info("?B")
  if kind == "directory" then
    file:close()
    if path:sub(-1) ~= "/" then
      local to = urlencode(path) .. "/"
      return self:reply(req, 301, "moved to " .. to .. "\n",
        {{"Location", to}})
    end
    local index = system.openfile(fspath .. "index.html", "r")
    if not index then return self:listing(req, path, fspath) end
    file, path = index, path .. "index.html"
    kind, size = file:info("?B")
  end
  if kind ~= "file" then
    file:close()
    return self:reply(req, 403)
  end
  local ok = self:file(req, file, size, path)
  file:close()
  return ok
end

-- Parses a head: the request, or nil, a status and what was understood
-- of the request (for the log).
local function parse (head)
  local line, rest = head:match("^([^\r\n]*)\r?\n?(.*)$")
  local method, target, major, minor =
    line:match("^(%u+) (%S+) HTTP/(%d)%.(%d)$")
  if not method or major ~= "1" then return nil, 400 end
  local req = {method = method, target = target, minor = tonumber(minor),
               headers = {}}
  for hl in rest:gmatch("[^\r\n]+") do
    local name, value = hl:match("^([%w!#$%%&'*+%-.^_`|~]+):[ \t]*(.-)[ \t]*$")
    if not name then return nil, 400, req end
    name = name:lower()
    if req.headers[name] then req.headers[name] = req.headers[name] .. ", " .. value
    else req.headers[name] = value end
  end
  local h = req.headers
  if req.minor >= 1 and not h.host then return nil, 400, req end
  local conn = (h.connection or ""):lower()
  if req.minor >= 1 then req.keep = not conn:find("close", 1, true)
  else req.keep = conn:find("keep-alive", 1, true) ~= nil end
  if h["transfer-encoding"] then return nil, 501, req end
  if h["content-length"] then
    req.bodylen = h["content-length"]:match("^%d+$") and
                  tonumber(h["content-length"])
    if not req.bodylen then return nil, 400, req end
  end
  return req
end

local stats = {connections = 0, requests = 0, bytes = 0}
local open = {}          -- connection -> true while it is open
local active = 0
local stopping = false  -- no more connections are accepted
local draining = false  -- the time is up: connections end after a request

local function serve (c)
  while true do
    c.idle = true
    local head, toolarge = c:readhead()
    c.idle = false
    if not head then
      if toolarge then c:reply({keep = false}, toolarge) end
      break
    end
    local req, status, partial = parse(head)
    if not req then
      req = partial or {method = "-", target = "-"}  -- for the log
      req.keep = false  -- who knows where the next request would start
      c:reply(req, status)
    else
      if draining then req.keep = false end
      if req.bodylen and not c:skip(req.bodylen) then break end
      c:respond(req)
    end
    c.requests = c.requests + 1
    stats.requests = stats.requests + 1
    stats.bytes = stats.bytes + (req.bytes or 0)
    log("#%d %s %s %d %d", c.id, req.method, req.target, req.status or 0,
      req.bytes or 0)
    if c.broken or not req.keep then break end
  end
  open[c] = nil
  if not tostring(c.sock):find("closed", 1, true) then c.sock:close() end
  active = active - 1
  if active == 0 then event.emitall("idle") end
end

local listener = assert(system.socket("passive", "ipv4"))
assert(listener:bind(system.address("ipv4", host, port)))
assert(listener:listen(128))
log("listening on http://%s/ (serving %s)", tostring(listener:getaddress()),
  root)

-- The time limit: no more connections, and the idle ones are closed.
local timer
if seconds then
  timer = spawn(function ()
    system.suspend(seconds)
    if stopping then return end
    stopping, draining = true, true
    listener:close()
    -- an idle connection's read returns false, "closed": it ends; busy
    -- ones end after the request they are answering
    for c in pairs(open) do
      if c.idle then c.sock:close() end
    end
  end)
end

while maxconns == nil or stats.connections < maxconns do
  local sock = listener:accept()
  if not sock then break end  -- closed by the time limit
  stats.connections = stats.connections + 1
  active = active + 1
  local c = setmetatable({id = stats.connections, sock = sock, pending = "",
    requests = 0, buf = memory.create(8192),
    filebuf = memory.create(65536)}, Connection)
  open[c] = true
  spawn(serve, c)
end
if not stopping then
  -- 'maxconns' reached: the open connections go on until their clients
  -- are done
  stopping = true
  listener:close()
  if timer then coroutine.resume(timer) end  -- wakes it early: it ends
end
if active > 0 then event.await("idle") end
log("served %d connections, %d requests, %d body bytes", stats.connections,
  stats.requests, stats.bytes)
