-- bench/tasks.lua: task throughput. n tiny tasks ("local a, b = ...;
-- return a + b") given to a pool of 2 threads with pool:dostring, then
-- pool:close() waiting for them. Floor: bench/floor_tasks.c, 2 pthreads
-- that each build a fresh lua_State per task, load the chunk and run it.
-- The harness reports CPU time; run this file directly for wall-clock
-- tasks per second: lua5.4 bench/tasks.lua <libdir> [n]

local loadfloor = dofile("bench/threads/floor.lua")
loadfloor("tasks")  -- built before anything is timed

local chunk = "local a, b = ...; return a + b"

local function coutil (n)
  local threads = require "coutil.threads"
  local pool = threads.create(2)
  local dostring = pool.dostring
  for i = 1, n do assert(dostring(pool, chunk, "task", "t", i, 1)) end
  pool:close()
  return n
end

local function floor (n)
  return loadfloor("tasks").run(n, chunk)
end

local bench = {
  title = "tasks through a 2-thread pool (dostring, then close)",
  unit = "task",
  n = 10000,
  contenders = {
    {name = "floor", floor = true, run = floor},
    {name = "coutil", needs = {"coutil.threads"}, run = coutil},
  },
  targets = {
    {slower = "coutil", than = "floor", atmost = 1.5},
  },
  callgrind = {n = 5000, contenders = {"coutil", "floor"}},
}

-- Standalone: wall-clock rates, alternating contenders, medians.
if arg and arg[0] and arg[0]:match("tasks%.lua$") and arg[1] then
  package.cpath = arg[1] .. "/?.so;" .. package.cpath
  local now = require "coutil.system".nanosecs
  local n = math.tointeger(tonumber(arg[2])) or bench.n
  local rates = {coutil = {}, floor = {}}
  for _ = 1, 5 do
    for _, c in ipairs(bench.contenders) do
      local t0 = now()
      assert(c.run(n) == n)
      table.insert(rates[c.name], n / ((now() - t0) / 1e9))
    end
  end
  for name, list in pairs(rates) do
    table.sort(list)
    print(string.format("%-8s %10.0f tasks/s (median of 5)", name, list[3]))
  end
  print(string.format("ratio floor/coutil: %.2f",
                      rates.floor[3] / rates.coutil[3]))
  return
end

return bench
