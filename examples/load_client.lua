-- examples/load_client.lua: a load client for an echo server: hundreds of
-- TCP connections at once, each sending its own pseudo-random bytes and
-- checking every byte that comes back.
--
--   build/bin/coutil examples/load_client.lua [host [port [connections [bytes [chunk]]]]]
--   build/bin/coutil examples/load_client.lua 127.0.0.1 7000          -- 200 x 64 KiB
--   build/bin/coutil examples/load_client.lua 127.0.0.1 7000 500 1048576
--
-- Defaults: 127.0.0.1, port 7000, 200 connections, 65536 bytes per
-- connection, written in chunks of 16384 bytes (at most 1048573). Start
-- the server first (examples/echo_server.lua prints its port). Prints the
-- connections, the bytes, the seconds and the throughput; exits with
-- status 1 if any connection failed or any byte came back wrong.
--
-- What it shows: one coroutine per connection reads while a second one
-- writes on the same socket, so a connection never stalls with both sides'
-- buffers full; every connection is started at once and the main code then
-- simply waits for an event emitted by the last one to finish.

local system = require "coutil.system"
local event = require "coutil.event"
local memory = require "memory"

local host = arg[1] or "127.0.0.1"
local port = tonumber(arg[2]) or 7000
local nconn = tonumber(arg[3]) or 200
local size = tonumber(arg[4]) or 65536
local chunk = tonumber(arg[5]) or 16384

-- The bytes every connection sends: one pseudo-random block of PERIOD
-- bytes (xorshift64), which each connection starts at its own offset and
-- repeats, so connection 'id' sends byte (offset(id) + p) % PERIOD of the
-- block at stream position p. Two copies of the block back to back make
-- any window of up to PERIOD bytes one substring of 'doubled': writes send
-- straight from it and reads are compared with it, so no connection needs
-- a copy of its own.
local PERIOD = 1048573  -- a prime: the offsets of the connections differ
assert(chunk <= PERIOD, "chunk too large")
local doubled
do
  local x = 0x9E3779B97F4A7C15
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

local function offset (id) return (id * 104729) % PERIOD end

-- The position in 'doubled' of byte 'p' (from 0) of connection 'id'.
local function where (id, p) return (offset(id) + p) % PERIOD + 1 end

local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

local address = system.address("ipv4", host, port)

local running, okcount, failures = nconn, 0, {}
local sent, received = 0, 0

local function finish (id, err)
  if err then failures[#failures + 1] = string.format("#%d: %s", id, err)
  else okcount = okcount + 1 end
  running = running - 1
  if running == 0 then event.emitall("done") end
end

local function writer (sock, id, state)
  for p = 0, size - 1, chunk do
    local len = math.min(chunk, size - p)
    local i = where(id, p)
    local ok, err = sock:write(doubled, i, i + len - 1)
    if not ok then state.err = "write: " .. tostring(err) return end
    sent = sent + len
  end
  local ok, err = sock:shutdown()  -- the server sees the end of the stream
  if not ok then state.err = "shutdown: " .. tostring(err) end
end

local function client (id)
  local sock = assert(system.socket("stream", "ipv4"))
  local ok, err = sock:connect(address)
  if not ok then
    sock:close()
    return finish(id, "connect: " .. tostring(err))
  end
  local state = {}
  spawn(writer, sock, id, state)
  local buf = memory.create(65536)
  local pos = 0  -- bytes checked so far
  while true do
    local n, rerr = sock:read(buf)
    if not n then
      if rerr ~= "end of file" then err = "read: " .. tostring(rerr) end
      break
    end
    if pos + n > size then
      err = string.format("got more than the %d bytes sent", size)
      break
    end
    local i = where(id, pos)
    local got, want = buf:tostring(1, n), doubled:sub(i, i + n - 1)
    if got ~= want then
      local k = 1
      while got:byte(k) == want:byte(k) do k = k + 1 end
      err = string.format("byte %d is %s, expected %s", pos + k,
        tostring(got:byte(k)), tostring(want:byte(k)))
      break
    end
    pos = pos + n
    received = received + n
  end
  if not err and pos ~= size then
    err = string.format("got %d of %d bytes back", pos, size)
  end
  sock:close()
  finish(id, err or state.err)
end

local start = system.nanosecs()
for id = 1, nconn do spawn(client, id) end
if running > 0 then event.await("done") end
local secs = (system.nanosecs() - start) / 1e9

print(string.format(
  "connections %d (%d ok, %d failed), bytes %d sent, %d received, " ..
  "seconds %.3f, throughput %.1f MiB/s, %.0f connections/s",
  nconn, okcount, #failures, sent, received, secs,
  (sent + received) / secs / 1048576, nconn / secs))
if #failures > 0 then
  for i = 1, math.min(#failures, 10) do io.stderr:write(failures[i], "\n") end
  error(string.format("%d connections failed", #failures), 0)
end
print(string.format("all %d bytes checked: OK", received))
