-- examples/echo_server.lua: a TCP echo server, one coroutine per
-- connection, all on one thread.
--
--   build/bin/coutil examples/echo_server.lua [host [port [maxclients [seconds]]]]
--   build/bin/coutil examples/echo_server.lua 127.0.0.1 0        -- any free port
--   build/bin/coutil examples/echo_server.lua 127.0.0.1 7000 200 -- 200 clients, then exit
--
-- Defaults: 127.0.0.1, port 0 (the system picks one), no client limit, no
-- time limit. It prints "listening on HOST:PORT" first (so a test or
-- examples/load_client.lua can find the port), and when it stops (after
-- 'maxclients' connections have come and gone, or 'seconds' have passed)
-- a line with the clients served and the bytes echoed.
--
-- What it shows: the accept loop is plain sequential code at the top level
-- (the coutil command runs it in a coroutine under system.run), and each
-- connection gets a coroutine that reads into its own memory buffer and
-- writes back what it read; socket:accept, socket:read and socket:write
-- only suspend the coroutine that calls them.

local system = require "coutil.system"
local event = require "coutil.event"
local memory = require "memory"

local host = arg[1] or "127.0.0.1"
local port = tonumber(arg[2]) or 0
local maxclients = tonumber(arg[3])    -- nil: serve forever
local seconds = tonumber(arg[4])       -- nil: no time limit

-- Starts f(...) in a new coroutine, which runs until its first await.
local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

local listener = assert(system.socket("passive", "ipv4"))
assert(listener:bind(system.address("ipv4", host, port)))
assert(listener:listen(1024))
print(string.format("listening on %s", tostring(listener:getaddress())))
io.stdout:flush()

local active, served, echoed = 0, 0, 0
local finished = false

-- One connection: echo until the client shuts its side down.
local function serve (conn)
  local buf = memory.create(65536)
  while true do
    local n, err = conn:read(buf)
    if not n then
      if err ~= "end of file" then
        io.stderr:write("echo_server: read: ", tostring(err), "\n")
      end
      break
    end
    local ok, werr = conn:write(buf, 1, n)
    if not ok then
      io.stderr:write("echo_server: write: ", tostring(werr), "\n")
      break
    end
    echoed = echoed + n
  end
  conn:close()
  active = active - 1
  served = served + 1
  if active == 0 then event.emitall("idle") end
end

-- A time limit closes the listener: the pending accept returns false.
local timer
if seconds then
  timer = spawn(function ()
    system.suspend(seconds)  -- returns early when resumed by the main code
    if not finished then listener:close() end
  end)
end

while maxclients == nil or served + active < maxclients do
  local conn, err = listener:accept()
  if not conn then
    if err ~= "closed" then io.stderr:write("echo_server: accept: ", err, "\n") end
    break
  end
  assert(conn:setoption("nodelay", true))
  active = active + 1
  spawn(serve, conn)
end
finished = true
if timer and coroutine.status(timer) == "suspended" then
  coroutine.resume(timer)  -- wakes it early: it ends without waiting more
end
if not tostring(listener):find("closed", 1, true) then listener:close() end

-- the connections still open finish on their own; wait for the last one
if active > 0 then event.await("idle") end
print(string.format("served %d clients, echoed %d bytes", served, echoed))
