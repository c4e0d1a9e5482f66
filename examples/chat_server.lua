-- examples/chat_server.lua: a line-based TCP chat: every line a client
-- sends goes to every other client.
--
--   build/bin/coutil examples/chat_server.lua [host [port [maxclients [seconds]]]]
--   build/bin/coutil examples/chat_server.lua 127.0.0.1 7001
--   nc 127.0.0.1 7001       -- in two or more other terminals
--
-- Defaults: 127.0.0.1, port 0 (the system picks one: the port is printed
-- on the first line, "listening on HOST:PORT"), no client limit, no time
-- limit. With 'maxclients' it stops accepting after that many clients
-- and exits when the last has left; after 'seconds' it says goodbye to
-- everyone and exits. Either way it prints what it relayed last.
--
-- The protocol: a client that joins gets "welcome NAME" (NAME is userN);
-- the others get "* NAME joined". A line "text" from a client reaches the
-- others as "NAME: text". "/nick NEW" renames the client, "/quit" (or
-- closing the connection) leaves, and the others get "* NAME left".
--
-- What it shows: two coroutines per client: a reader, which buffers the
-- bytes it gets until a whole line is there (a line may come in pieces,
-- and a piece may hold many lines), and a writer, which takes outgoing
-- lines from a queued event on the client (coutil.queued: lines emitted
-- while the writer is busy wait in the queue, in order), so a slow client
-- never holds up the others.

local system = require "coutil.system"
local event = require "coutil.event"
local queued = require "coutil.queued"
local memory = require "memory"

local host = arg[1] or "127.0.0.1"
local port = tonumber(arg[2]) or 0
local maxclients = tonumber(arg[3])
local seconds = tonumber(arg[4])
local MAXLINE = 4096  -- longer lines are cut there

local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

local listener = assert(system.socket("passive", "ipv4"))
assert(listener:bind(system.address("ipv4", host, port)))
assert(listener:listen(128))
print("listening on " .. tostring(listener:getaddress()))
io.stdout:flush()

local clients = {}   -- client -> true, for those in the chat
local online, joined, relayed = 0, 0, 0
local accepting = true

-- Queues 'line' for 'client' (its writer sends it when it can).
local function send (client, line) queued.emitone(client, line .. "\n") end

local function broadcast (from, line)
  for c in pairs(clients) do
    if c ~= from then send(c, line) end
  end
end

local function leave (client)
  if not clients[client] then return end
  clients[client] = nil
  online = online - 1
  queued.emitone(client, false)  -- the writer ends after what is queued
  broadcast(client, "* " .. client.name .. " left")
  if online == 0 then event.emitall("empty") end
end

-- Sends the client's queued lines until told to stop, then closes.
local function writer (client)
  while true do
    local _, line = queued.await(client)
    if not line then break end
    if not client.sock:write(line) then break end
  end
  client.sock:close()  -- a read still waiting on it returns false, "closed"
  leave(client)
end

local function handle (client, line)
  local cmd, rest = line:match("^/(%a+)%s*(.*)$")
  if cmd == "nick" and rest:match("^%S+$") then
    broadcast(client, "* " .. client.name .. " is now " .. rest)
    client.name = rest
    send(client, "you are " .. rest)
  elseif cmd == "quit" then
    send(client, "bye")
    leave(client)
    return false
  else
    relayed = relayed + 1
    broadcast(client, client.name .. ": " .. line)
  end
  return true
end

-- Reads the client's bytes and splits them into lines.
local function reader (client)
  local buf = memory.create(4096)
  local pending = ""
  while clients[client] do
    local n = client.sock:read(buf)
    if not n then break end  -- end of file, closed, or an error
    pending = pending .. buf:tostring(1, n)
    while true do
      local line
      local nl = pending:find("\n", 1, true)
      if nl then
        line, pending = pending:sub(1, nl - 1), pending:sub(nl + 1)
      elseif #pending >= MAXLINE then
        line, pending = pending:sub(1, MAXLINE), pending:sub(MAXLINE + 1)
      else
        break  -- the rest of the line has not come yet
      end
      if not handle(client, (line:gsub("\r$", ""))) then return end
    end
  end
  leave(client)
end

local timer
if seconds then
  timer = spawn(function ()
    system.suspend(seconds)
    if accepting then listener:close() end
    for c in pairs(clients) do
      send(c, "* the server is closing")
      leave(c)
    end
  end)
end

while accepting and (maxclients == nil or joined < maxclients) do
  local sock = listener:accept()
  if not sock then break end  -- closed by the time limit
  joined = joined + 1
  local client = {sock = sock, name = "user" .. joined}
  clients[client] = true
  online = online + 1
  send(client, "welcome " .. client.name)
  broadcast(client, "* " .. client.name .. " joined")
  spawn(writer, client)
  spawn(reader, client)
end
if accepting then
  accepting = false
  if not tostring(listener):find("closed", 1, true) then listener:close() end
end
if online > 0 then event.await("empty") end
if timer and coroutine.status(timer) == "suspended" then coroutine.resume(timer) end
print(string.format("chat over: %d clients joined, %d lines relayed",
  joined, relayed))
