-- examples/tour.lua: a tour of coutil in one process, in a few seconds
-- (`make demo`, or `sh demo.sh` on a fresh machine, runs it).
--
--   build/bin/coutil examples/tour.lua [scale]
--
-- 'scale' (default 1) multiplies the sizes of the parts: 0.1 for a quick
-- run, 4 for a longer one. It runs, one after the other, in one Lua state
-- on one thread (plus a thread pool for part 2):
--
--   1. a TCP echo server and a batch of clients connecting at once, every
--      byte they get back checked (sockets, a coroutine per connection)
--   2. a CPU job (counting primes) done serially, then split across a
--      thread pool whose results come back through a channel
--   3. a child process (wc) fed through a pipe, its output read back
--   4. a file written through a memory buffer and read back
--   5. thousands of timers at once, each coroutine sleeping its own time
--
-- and all along a timer coroutine ticking every 0.1 s, which shows that
-- the loop stays responsive while all that goes on, except while part 2's
-- serial run holds the thread (which is why the job has a thread pool).
-- It prints what happens, how fast, and a summary; exit status 1 if any
-- check failed.

local system = require "coutil.system"
local event = require "coutil.event"
local channel = require "coutil.channel"
local threads = require "coutil.threads"
local memory = require "memory"

local scale = tonumber(arg[1]) or 1
local function scaled (n, min) return math.max(min or 1, math.floor(n * scale)) end

local START = system.nanosecs()
local function now () return (system.nanosecs() - START) / 1e9 end
local function say (fmt, ...)
  io.stdout:write(string.format("[%5.2fs] " .. fmt, now(), ...), "\n")
  io.stdout:flush()
end
local function MiB (bytes) return bytes / 1048576 end

local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

local summary, failures = {}, 0
local function result (part, ok, text)
  summary[#summary + 1] = string.format("  %-8s %s  %s", part, text,
    ok and "OK" or "FAILED")
  if not ok then failures = failures + 1 end
end

-- The ticker: a timer every 0.1 s, measuring how late each tick comes.
local ticker = {count = 0, worst = 0, done = false}
ticker.co = spawn(function ()
  local period = 0.1
  while not ticker.done do
    local t0 = system.nanosecs()
    system.suspend(period)
    local late = (system.nanosecs() - t0) / 1e9 - period
    ticker.count = ticker.count + 1
    if late > ticker.worst then ticker.worst = late end
  end
end)
-- The ticks and the worst lateness since the last call.
local function tickreport ()
  local text = string.format("%d ticks, latest %.0f ms late", ticker.count,
    ticker.worst * 1000)
  ticker.count, ticker.worst = 0, 0
  return text
end

local ncpu = #system.cpuinfo("m")
print(string.format("coutil tour: %s, pid %d, %d CPUs, %s", _VERSION,
  system.procinfo("#"), ncpu, system.procinfo("k") .. " " ..
  system.procinfo("v")))
print()

-- --- 1. echo server and clients -----------------------------------------

local function echo ()
  local nclients, size, chunk = scaled(200, 10), 262144, 16384
  local server = assert(system.socket("passive", "ipv4"))
  assert(server:bind(system.address("ipv4", "127.0.0.1", 0)))
  assert(server:listen(1024))
  local addr = server:getaddress()
  say("1. echo: server on %s, %d clients x %d KiB", tostring(addr),
    nclients, size // 1024)

  -- the server: one coroutine per connection, echoing until the end
  spawn(function ()
    for _ = 1, nclients do
      local conn = server:accept()
      if not conn then break end
      spawn(function ()
        local buf = memory.create(65536)
        while true do
          local n = conn:read(buf)
          if not n or not conn:write(buf, 1, n) then break end
        end
        conn:close()
      end)
    end
    server:close()
  end)

  -- the clients: each sends bytes of its own (a slice of random bytes
  -- from its own offset) and checks what comes back
  local random = memory.create(1048576)
  assert(system.random(random))
  random = random:tostring()
  random = random .. random:sub(1, size)  -- every slice is in one piece
  local left, good, bytes = nclients, 0, 0
  local function client (id)
    local offset = id * 7919 % #random
    local data = random:sub(offset + 1, offset + size)
    local sock = assert(system.socket("stream", "ipv4"))
    local ok = sock:connect(addr)
    if ok then
      spawn(function ()
        for i = 1, #data, chunk do
          if not sock:write(data, i, i + chunk - 1) then return end
        end
        sock:shutdown()
      end)
      local buf, got = memory.create(65536), {}
      while true do
        local n = sock:read(buf)
        if not n then break end
        got[#got + 1] = buf:tostring(1, n)
        bytes = bytes + 2 * n
      end
      if table.concat(got) == data then good = good + 1 end
    end
    sock:close()
    left = left - 1
    if left == 0 then event.emitall("clients done") end
  end
  local t0 = system.nanosecs()
  for id = 1, nclients do spawn(client, id) end
  if left > 0 then event.await("clients done") end
  local secs = (system.nanosecs() - t0) / 1e9
  say("   %d of %d connections echoed every byte: %.1f MiB in %.3f s " ..
    "(%.0f connections/s, %.1f MiB/s); timer: %s", good, nclients,
    MiB(bytes), secs, nclients / secs, MiB(bytes) / secs, tickreport())
  result("echo", good == nclients, string.format(
    "%d connections, %.1f MiB echoed in %.3f s: %.0f conn/s, %.1f MiB/s",
    nclients, MiB(bytes), secs, nclients / secs, MiB(bytes) / secs))
end

-- --- 2. thread pool -----------------------------------------------------

local WORK = [[
return function (lo, hi)
  local count = 0
  for n = lo, hi do
    if n == 2 or n == 3 then count = count + 1
    elseif n > 3 and n % 2 ~= 0 then
      local prime, d = true, 3
      while d * d <= n do
        if n % d == 0 then prime = false break end
        d = d + 2
      end
      if prime then count = count + 1 end
    end
  end
  return count
end
]]
local TASK = [[
local chname, src, lo, hi = ...
local work = require("_G").load(src)()
require("coroutine").yield(chname, "out", work(lo, hi))
]]

local function pool ()
  local N, nthreads = scaled(2000000, 1000), math.max(2, ncpu)
  local pieces = 8 * nthreads
  say("2. threads: primes up to %d, serially, then in %d pieces on %d " ..
    "threads", N, pieces, nthreads)
  local work = load(WORK)()
  system.suspend(0)  -- the ticker's count starts here
  tickreport()
  local t0 = system.nanosecs()
  local serial = work(1, N)
  local tserial = (system.nanosecs() - t0) / 1e9
  system.suspend(0)  -- let the (late) ticker run
  local blocked = tickreport()

  local chname = "tour.primes"
  local ch = channel.create(chname)
  local p = assert(threads.create(nthreads))
  local cpu0 = system.procinfo("c") + system.procinfo("s")
  t0 = system.nanosecs()
  for k = 1, pieces do
    local lo, hi = (k - 1) * N // pieces + 1, k * N // pieces
    assert(p:dostring(TASK, "=task", "t", chname, WORK, lo, hi))
  end
  local parallel = 0
  for _ = 1, pieces do
    local _, count = system.awaitch(ch, "in")
    parallel = parallel + count
  end
  local tparallel = (system.nanosecs() - t0) / 1e9
  local cores = (system.procinfo("c") + system.procinfo("s") - cpu0) /
                tparallel
  p:close()
  ch:close()
  local free = tickreport()
  say("   serial %.3f s (timer: %s: the loop was blocked)", tserial, blocked)
  say("   pool   %.3f s (timer: %s: the loop stayed free)", tparallel, free)
  say("   %d primes both ways, speedup %.2fx, the pool kept %.2f CPUs busy",
    serial, tserial / tparallel, cores)
  result("threads", serial == parallel, string.format(
    "primes up to %d: %d; serial %.3f s, %d threads %.3f s, speedup %.2fx " ..
    "(%.1f CPUs busy)", N, serial, tserial, nthreads, tparallel,
    tserial / tparallel, cores))
end

-- --- 3. a child process -------------------------------------------------

local function child ()
  local nlines = scaled(20000, 10)
  local lines = {}
  for i = 1, nlines do lines[i] = string.format("line %d of the tour", i) end
  local input = table.concat(lines, "\n") .. "\n"
  local env = system.getenv()
  env.LC_ALL = "C"
  local cmd = {execfile = "wc", arguments = {"-l", "-c"}, stdin = "w",
               stdout = "r", environment = env}
  say("3. child: wc -l -c, fed %d lines (%d bytes) through a pipe", nlines,
    #input)
  local t0 = system.nanosecs()
  local status = {}
  local done = spawn(function ()
    status = {system.execute(cmd)}
    event.emitall("child done")
  end)
  say("   started pid %d", cmd.pid)
  spawn(function ()
    assert(cmd.stdin:write(input))
    assert(cmd.stdin:shutdown())
    cmd.stdin:close()
  end)
  local out, buf = {}, memory.create(4096)
  while true do
    local n = cmd.stdout:read(buf)
    if not n then break end
    out[#out + 1] = buf:tostring(1, n)
  end
  cmd.stdout:close()
  if coroutine.status(done) ~= "dead" then event.await("child done") end
  local secs = (system.nanosecs() - t0) / 1e9
  out = table.concat(out):gsub("%s+$", "")
  local l, c = out:match("^%s*(%d+)%s+(%d+)")
  local ok = status[1] == "exit" and status[2] == 0 and
    tonumber(l) == nlines and tonumber(c) == #input
  say("   output %q, %s %s, in %.3f s", out, tostring(status[1]),
    tostring(status[2]), secs)
  result("child", ok, string.format(
    "wc -l -c said %q for %d lines, %d bytes, in %.3f s", out,
    nlines, #input, secs))
end

-- --- 4. a file ----------------------------------------------------------

local function file ()
  local blocks, bsize = scaled(64, 1), 1048576
  local f, path = system.maketemp(system.procinfo("T") .. "/coutil-tour-",
    "of")
  say("4. file: %d MiB written to %s and read back", blocks, path)
  local block = memory.create(bsize)
  assert(system.random(block))
  local t0 = system.nanosecs()
  for k = 1, blocks do
    block:pack("<j", 1, k)  -- every block differs in its first bytes
    local i = 1
    while i <= bsize do i = i + assert(f:write(block, i)) end
  end
  local twrite = (system.nanosecs() - t0) / 1e9
  local size = assert(f:info("B"))
  local back, same = memory.create(bsize), size == blocks * bsize
  t0 = system.nanosecs()
  for k = 1, blocks do
    local got = 0
    while got < bsize do
      local n = assert(f:read(back, got + 1, bsize, (k - 1) * bsize + got))
      if n == 0 then break end
      got = got + n
    end
    block:pack("<j", 1, k)
    if got ~= bsize or memory.diff(back, block) then same = false end
  end
  local tread = (system.nanosecs() - t0) / 1e9
  assert(f:close())
  assert(system.removefile(path))
  say("   write %.3f s (%.0f MiB/s), read %.3f s (%.0f MiB/s), contents %s;" ..
    " timer: %s", twrite, blocks / twrite, tread, blocks / tread,
    same and "equal" or "DIFFER", tickreport())
  result("file", same, string.format(
    "%d MiB: write %.0f MiB/s, read %.0f MiB/s, contents equal", blocks,
    blocks / twrite, blocks / tread))
end

-- --- 5. timers ----------------------------------------------------------

local function timers ()
  local n = scaled(2000, 10)
  say("5. timers: %d coroutines, each sleeping its own time up to 0.5 s", n)
  local left, late, worst, order, last = n, 0, 0, true, -1
  local t0 = system.nanosecs()
  for i = 1, n do
    local delay = (i * 7919 % n + 1) / n * 0.5  -- a permutation of them
    spawn(function ()
      system.suspend(delay)
      local at = (system.nanosecs() - t0) / 1e9
      local l = at - delay
      late = late + l
      if l > worst then worst = l end
      -- timers count whole milliseconds: those due in the same one may
      -- wake in any order among themselves
      if delay < last - 0.001 then order = false end
      if delay > last then last = delay end
      left = left - 1
      if left == 0 then event.emitall("timers done") end
    end)
  end
  if left > 0 then event.await("timers done") end
  say("   all woke up %s, %.1f ms late on average, %.1f ms at worst",
    order and "in the order of their times (to the millisecond)" or
    "OUT OF ORDER",
    late / n * 1000, worst * 1000)
  result("timers", order and worst >= 0, string.format(
    "%d sleeping coroutines woke in order, %.1f ms late on average", n,
    late / n * 1000))
end

-- --- the parts, one after the other ---------------------------------------

for _, part in ipairs{{"echo", echo}, {"threads", pool}, {"child", child},
                      {"file", file}, {"timers", timers}} do
  local ok, err = xpcall(part[2], debug.traceback)
  if not ok then
    say("   %s failed: %s", part[1], err)
    result(part[1], false, "raised an error")
  end
end

ticker.done = true
coroutine.resume(ticker.co)  -- wakes it early: it ends

print()
print(string.format("Summary (%.2f s in all):", now()))
for _, line in ipairs(summary) do print(line) end
if failures > 0 then error(string.format("%d parts failed", failures), 0) end
print("All parts passed.")
