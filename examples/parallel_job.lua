-- examples/parallel_job.lua: a CPU-bound job (counting the primes up to N
-- by trial division) split into ranges that a thread pool computes at
-- once, measured against the same job done serially in the same run.
--
--   build/bin/coutil examples/parallel_job.lua [N [threads [pieces]]]
--   build/bin/coutil examples/parallel_job.lua 2000000
--   build/bin/coutil examples/parallel_job.lua 5000000 4 64
--
-- Defaults: N = 2000000, as many threads as the system has CPUs, and 8
-- pieces per thread (later ranges cost more, so small pieces keep every
-- thread busy until the end). Prints both times, the speedup, and checks
-- that both ways give the same count (exit status 1 otherwise).
--
-- What it shows: coutil.threads runs each piece as a task, a chunk in an
-- independent Lua state on one of the pool's system threads; values cross
-- between states only as copies (numbers and strings here). Each task
-- sends its result back on a channel (coutil.channel) with the bare
-- 'coroutine.yield(channelname, "out", ...)' of tasks, and the main
-- coroutine collects them with system.awaitch on the "in" endpoint: it
-- waits without blocking the event loop, which stays free for other
-- coroutines while the pool computes.

local system = require "coutil.system"
local channel = require "coutil.channel"
local threads = require "coutil.threads"

local N = math.tointeger(tonumber(arg[1])) or 2000000
local nthreads = math.tointeger(tonumber(arg[2])) or #system.cpuinfo("m")
local npieces = math.tointeger(tonumber(arg[3])) or 8 * nthreads

-- The work, as source text, so the tasks (other Lua states) compile
-- exactly the same function as the serial run.
local WORK = [[
return function (lo, hi)  -- how many primes in lo..hi
  local count = 0
  for n = lo, hi do
    if n == 2 or n == 3 then
      count = count + 1
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

-- The chunk of every task. Independent states start with only 'require':
-- the libraries it needs are required, not taken from globals.
local TASK = [[
local chname, src, index, lo, hi = ...
local coroutine = require "coroutine"
local load = require("_G").load
local work = load(src, "=work")()
local count = work(lo, hi)
-- the bare yield of tasks: the same as system.awaitch(ch, "out", ...) on
-- a channel of that name, without a loop in this state
coroutine.yield(chname, "out", index, count)
]]

-- The ranges: 'npieces' consecutive slices of 1..N.
local ranges = {}
for k = 1, npieces do
  local lo = (k - 1) * N // npieces + 1
  local hi = k * N // npieces
  ranges[k] = {lo, hi}
end

-- serial: the same function, in this state, one range after the other
local work = load(WORK, "=work")()
local t0 = system.nanosecs()
local serial = 0
for _, r in ipairs(ranges) do serial = serial + work(r[1], r[2]) end
local tserial = (system.nanosecs() - t0) / 1e9

-- parallel: one task per range, results through the channel
local chname = "parallel_job.results"
local results = channel.create(chname)
local pool = assert(threads.create(nthreads))
local function cputime ()  -- of the process: every thread, user and system
  local user, sys = system.procinfo("cs")
  return user + sys
end
local cpu0 = cputime()
t0 = system.nanosecs()
for k, r in ipairs(ranges) do
  assert(pool:dostring(TASK, "=task", "t", chname, WORK, k, r[1], r[2]))
end
local parallel, got = 0, {}
for _ = 1, #ranges do
  local ok, index, count = system.awaitch(results, "in")
  assert(ok, index)
  assert(not got[index], "a range came twice")
  got[index] = count
  parallel = parallel + count
end
local tparallel = (system.nanosecs() - t0) / 1e9
local cores = (cputime() - cpu0) / tparallel
pool:close()
results:close()

print(string.format("primes up to %d: %d", N, serial))
print(string.format("serial:   %.3f s", tserial))
print(string.format("parallel: %.3f s (%d threads, %d pieces)", tparallel,
  nthreads, npieces))
print(string.format("speedup:  %.2fx (the pool kept %.2f CPUs busy; " ..
  "other programs running take some)", tserial / tparallel, cores))
if parallel ~= serial then
  error(string.format("results differ: serial %d, parallel %d", serial,
    parallel), 0)
end
print("results equal: OK")
