-- test/soak/server.lua: the echo server of the soak test (test/soak/soak.lua
-- starts it; not a test file by itself).
--
--   lua5.4 bin/coutil test/soak/server.lua SECONDS CLIENTS
--
-- One coroutine per connection echoes what it reads into its own 64 KiB
-- memory. It measures itself from /proc/self: it prints lines on stdout
-- for the test to parse, all of "key value" pairs after a first word:
--
--   listening port P
--   before fds N rss KIB             before the first client (after listen)
--   sample t T conns C accepted A bytes B rss KIB rssmin KIB rssmax KIB
--          fds N heap KIB errors E trimmed true|false inuse KIB|-
--                                    at T = 10 s after the first accept (the
--                                    baseline) and every 5 s after, up to
--                                    SECONDS: the median, least and largest
--                                    of SOAK_READINGS (9) readings 0.2 s
--                                    apart, each waiting up to 2 s for a
--                                    moment with exactly CLIENTS
--                                    connections; inuse, the median of
--                                    what malloc has handed out (with
--                                    test/c/trim.c preloaded)
--   loaded                           after the sample at SECONDS
--   after fds N rss KIB conns C heap KIB accepted A bytes B errors E
--                                    once its stdin has ended and every
--                                    connection is closed (or 20 s passed)
--
-- Before each measurement it runs a full garbage collection, so the
-- figures do not depend on how far the collector's cycle has got: the
-- test looks for leaks, not for collector slack.

local system = require "coutil.system"
local event = require "coutil.event"
local memory = require "memory"

local seconds = assert(tonumber(arg[1]), "usage: server.lua SECONDS CLIENTS")
local clients = assert(tonumber(arg[2]), "usage: server.lua SECONDS CLIENTS")
local READINGS = tonumber(os.getenv("SOAK_READINGS")) or 9

local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

local function say (...)
  io.stdout:write(table.concat({...}, " "), "\n")
  io.stdout:flush()
end

local function rss ()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)"))
end

local function fds ()
  local n = 0
  for _ in system.listdir("/proc/self/fd") do n = n + 1 end
  return n
end

-- With test/c/trim.c preloaded (SOAK_SERVER_PRELOAD of soak.lua), glibc
-- gives back its free pages first, so that the resident memory follows
-- what is in use rather than where freed buffers lie in the heap.
local trimmed = false
local function trim ()
  trimmed = os.getenv("SOAK_MALLOC_TRIM") == "1"
end

-- The bytes glibc's malloc has handed out and not had back (KiB; mallinfo2:
-- uordblks + hblkhd), through the same shim; nil without it.
local function allocated ()
  local a, b = (os.getenv("SOAK_MALLINFO") or ""):match("^(%d+) (%d+)$")
  return a and (tonumber(a) + tonumber(b)) // 1024
end

local function heap ()
  return math.floor(collectgarbage("count"))
end

local listener = assert(system.socket("passive", "ipv4"))
assert(listener:bind(system.address("ipv4", "127.0.0.1", 0)))
assert(listener:listen(4096))
local stdin = assert(system.stdin)  -- a descriptor of its own: made first
fds()                                -- anything listdir sets up on first use
collectgarbage("collect")
say("listening port", listener:getaddress().port)
say("before fds", fds(), "rss", rss())

local active, accepted, echoed, errors = 0, 0, 0, 0
local errkinds = {}
local stopping = false

local function failure (what, err)
  errors = errors + 1
  local key = what .. ": " .. tostring(err)
  errkinds[key] = (errkinds[key] or 0) + 1
end

-- One connection: echo until the client ends its side (or resets it).
local function serve (conn)
  local buf = memory.create(65536)
  while true do
    local n, err = conn:read(buf)
    if not n then
      if err ~= "end of file" then failure("read", err) end
      break
    end
    local ok, werr = conn:write(buf, 1, n)
    if not ok then failure("write", werr) break end
    echoed = echoed + n
  end
  conn:close()
  active = active - 1
  if active == 0 then event.emitall("idle") end
end

-- The samples: from the first accept, at 10 s and every 5 s up to
-- 'seconds'.
spawn(function ()
  event.await("first")
  local t0 = system.nanosecs()
  local t = 10
  while t <= seconds do
    local left = t - (system.nanosecs() - t0) / 1e9
    if left > 0 then system.suspend(left) end
    -- the clients open a slot's next connection before they close the
    -- current one: a sample waits (up to 2 s) for a moment with none in
    -- between, so that the figures do not vary with that count
    local readings, inuse, conns = {}, {}, active
    for r = 1, READINGS do
      if r > 1 then system.suspend(0.2) end
      local wait = system.nanosecs() + 2e9
      while active ~= clients and system.nanosecs() < wait do
        system.suspend(0.002)
      end
      if stopping then return end
      collectgarbage("collect")
      collectgarbage("collect")  -- what finalizers kept for one more cycle
      trim()
      readings[r], inuse[r], conns = rss(), allocated(), active
    end
    table.sort(readings)
    table.sort(inuse)
    say("sample t", t, "conns", conns, "accepted", accepted,
        "bytes", echoed, "rss", readings[(READINGS + 1) // 2],
        "rssmin", readings[1], "rssmax", readings[READINGS], "fds", fds(),
        "heap", heap(), "errors", errors, "trimmed", tostring(trimmed),
        "inuse", inuse[1] and inuse[(READINGS + 1) // 2] or "-")
    t = t + 5
  end
  say("loaded")
end)

-- SOAK_SERVER_GC=S: a full collection every S seconds besides.
local gcevery = tonumber(os.getenv("SOAK_SERVER_GC"))
if gcevery then
  spawn(function ()
    while not stopping do
      system.suspend(gcevery)
      collectgarbage("collect")
    end
  end)
end

-- The end: the test closes our stdin once the clients are done.
spawn(function ()
  local buf = memory.create(64)
  repeat until not stdin:read(buf)
  stopping = true
  -- every connection closed, within 20 s
  local deadline = system.nanosecs() + 20e9
  while active > 0 and system.nanosecs() < deadline do system.suspend(0.05) end
  collectgarbage("collect")
  collectgarbage("collect")
  trim()
  say("after fds", fds(), "rss", rss(), "conns", active, "heap", heap(),
      "accepted", accepted, "bytes", echoed, "errors", errors)
  for kind, n in pairs(errkinds) do say("error", n, kind) end
  listener:close()  -- the pending accept returns false, "closed"
end)

while true do
  local conn, err = listener:accept()
  if not conn then
    if err ~= "closed" then failure("accept", err) end
    break
  end
  accepted = accepted + 1
  active = active + 1
  if accepted == 1 then event.emitall("first") end
  spawn(serve, conn)
end
assert(stopping, "the listener closed early")
