-- test/soak/client.lua: the clients of the soak test (test/soak/soak.lua
-- starts it; not a test file by itself).
--
--   lua5.4 bin/coutil test/soak/client.lua PORT CLIENTS SEED
--
-- Keeps CLIENTS connections to 127.0.0.1:PORT open until its stdin ends.
-- Each connection (a "session") lives a random 2 to 18 s: a writer sends
-- pseudo-random chunks of 1 B to 64 KiB (sizes spread evenly over their
-- logarithm) while a reader checks every echoed byte, in order, against
-- what was sent. When the session's time is up, nine times in ten the
-- writer shuts its side down and the reader checks the rest up to the end
-- of the stream; the tenth time the writer closes the socket with echoed
-- bytes still in flight (the server then sees a reset). Just before, the
-- slot has opened its next connection (make before break: a slot always
-- holds one), so the accept and close paths of the server are soaked along
-- with the echo. Every wait is bounded (20 s).
--
-- When stdin ends, the writers stop, every session ends gracefully and the
-- program prints one line
--   done checked B sent S sessions N graceful G abrupt A failures F mismatches M
-- then the first failures, one per line ("failure ..."), and exits 0, or 1
-- on any failure.

local system = require "coutil.system"
local event = require "coutil.event"
local timeout = require "coutil.timeout"
local memory = require "memory"

local port = assert(tonumber(arg[1]), "usage: client.lua PORT CLIENTS SEED")
local nclients = assert(tonumber(arg[2]))
local seed = assert(tonumber(arg[3]))
math.randomseed(seed)

local WAIT = 20  -- seconds: the bound of every single wait

-- The bytes: one pseudo-random block of PERIOD bytes (xorshift64), twice
-- back to back, so that any window of up to PERIOD bytes of the endless
-- repetition of the block is one substring of 'doubled'. A session starts
-- at a random offset of it: its byte at stream position p (from 0) is
-- doubled[(offset + p) % PERIOD + 1].
local PERIOD = 1048573
local doubled
do
  local x = 0x9E3779B97F4A7C15 ~ seed
  local parts = {}
  for k = 1, (PERIOD + 7) // 8 do
    x = x ~ (x << 13)
    x = x ~ (x >> 7)
    x = x ~ (x << 17)
    parts[k] = string.pack("<i8", x)
  end
  local block = table.concat(parts):sub(1, PERIOD)
  doubled = block .. block
end

local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

local address = system.address("ipv4", "127.0.0.1", port)
local stopping = false
local checked, sent, sessions, graceful, abrupt = 0, 0, 0, 0, 0
local mismatches, failures = 0, {}
local running = nclients

local function fail (slot, what)
  failures[#failures + 1] = string.format("slot %d session %d: %s", slot,
    sessions, what)
end

-- A chunk size from 1 to 65536, evenly spread over its logarithm.
local function chunksize ()
  return math.min(65536, math.floor(2 ^ (math.random() * 16.0001)))
end

-- A new connection, or nil and the failure.
local function connect ()
  local sock = assert(system.socket("stream", "ipv4"))
  local ok, err = timeout.call(WAIT, sock.connect, sock, address)
  if not ok then
    sock:close()
    return nil, "connect: " .. tostring(err)
  end
  sessions = sessions + 1
  return sock
end

local function writer (sock, s)
  local deadline = system.nanosecs() + s.lifetime * 1e9
  while not stopping and not s.stop and system.nanosecs() < deadline do
    local len = chunksize()
    local i = (s.offset + s.issued) % PERIOD + 1
    s.issued = s.issued + len  -- before the write: the echo may come first
    local ok, err = timeout.call(WAIT, sock.write, sock, doubled, i, i + len - 1)
    if not ok then s.err = "write: " .. tostring(err) break end
    sent = sent + len
  end
  -- make before break: the slot's next connection is open before this one
  -- ends, so the slot always holds one
  if not stopping and not s.stop and s.err == nil then
    s.successor, s.err = connect()
  end
  if s.err == nil then
    if s.abrupt and not stopping then
      s.closed = true
      sock:close()  -- with echoed bytes still on their way: a reset
    else
      s.abrupt = false
      local ok, err = timeout.call(WAIT, sock.shutdown, sock)
      if not ok then s.err = "shutdown: " .. tostring(err) end
    end
  end
  s.writing = false
  event.emitall(s)
end

-- One connection's life; returns the slot's next connection (or nil).
local function session (slot, sock)
  local s = {
    offset = math.random(0, PERIOD - 1),
    lifetime = 2 + 16 * math.random(),
    abrupt = math.random(10) == 1,
    issued = 0, writing = true,
  }
  spawn(writer, sock, s)
  local buf = memory.create(65536)
  local pos = 0  -- bytes checked so far
  local err
  while true do
    local n, rerr = timeout.call(WAIT, sock.read, sock, buf)
    if not n then
      if s.closed then break end  -- the writer's abrupt close
      if rerr ~= "end of file" then err = "read: " .. tostring(rerr) end
      break
    end
    if pos + n > s.issued then
      err = string.format("%d bytes back, only %d sent", pos + n, s.issued)
      break
    end
    local i = (s.offset + pos) % PERIOD + 1
    local got, want = buf:tostring(1, n), doubled:sub(i, i + n - 1)
    if got ~= want then
      local k = memory.diff(got, want)
      mismatches = mismatches + 1
      err = string.format("byte %d is %s, expected %s", pos + k,
        tostring(got:byte(k)), tostring(want:byte(k)))
      break
    end
    pos = pos + n
    checked = checked + n
  end
  if s.writing then
    s.stop = true  -- after a failure of the reader
    local waited = timeout.call(WAIT, event.await, s)
    if s.writing then err = err or "the writer hangs: " .. tostring(waited) end
  end
  if not s.closed then sock:close() end
  err = err or s.err
  if not err and not s.abrupt and pos ~= s.issued then
    err = string.format("%d of %d bytes back at the end", pos, s.issued)
  end
  if err then
    fail(slot, err)
    if s.successor then s.successor:close() end
    return nil
  end
  if s.abrupt then abrupt = abrupt + 1 else graceful = graceful + 1 end
  return s.successor
end

local function slot (id)
  local sock, err = connect()
  if not sock then fail(id, err) end
  while sock and #failures == 0 do sock = session(id, sock) end
  if sock then sock:close() end
  running = running - 1
  if running == 0 then event.emitall("done") end
end

-- stdin's end is the signal to stop
spawn(function ()
  local stdin = assert(system.stdin)
  local buf = memory.create(64)
  repeat until not stdin:read(buf)
  stopping = true
end)

for id = 1, nclients do spawn(slot, id) end
if running > 0 then
  -- bounded only once asked to stop: the slots then finish within 3 waits
  while running > 0 and not stopping do
    timeout.call(1, event.await, "done")
  end
  local deadline = system.nanosecs() + 3 * WAIT * 1e9
  while running > 0 and system.nanosecs() < deadline do
    timeout.call(1, event.await, "done")
  end
end

print(string.format(
  "done checked %d sent %d sessions %d graceful %d abrupt %d failures %d " ..
  "mismatches %d open %d", checked, sent, sessions, graceful, abrupt,
  #failures, mismatches, running))
for i = 1, math.min(#failures, 10) do print("failure " .. failures[i]) end
io.stdout:flush()
os.exit((#failures == 0 and running == 0) and 0 or 1)
