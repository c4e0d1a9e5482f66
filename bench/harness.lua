-- bench/harness.lua: runs one benchmark file and prints its table.
--
--   lua5.4 bench/harness.lua <libdir> bench/<name>.lua [repetitions]
--   lua5.4 bench/harness.lua --one bench/<name>.lua <contender> <n>
--
-- A benchmark file returns a table:
--   title       what is measured, printed above the table
--   unit        name of one operation ("hand-off", "suspend")
--   n           operations per run
--   contenders  list of {name =, floor = true|nil, needs = {modules},
--               run = function (n) ... return operations_done end}
--   targets     optional list of {faster = a, than = b, atleast = x}
--               (time(b)/time(a) >= x) or {slower = a, than = b,
--               atmost = x} (time(a)/time(b) <= x); reported, not enforced
--   callgrind   optional {n =, contenders = {names}} for callgrind.sh
--   clock       optional "wall": time runs by the wall clock instead of
--               CPU time (work done by other processes, such as children)
--   reps        optional least number of runs of each contender, for
--               short runs whose times vary much (the socket benchmarks)
--   main        optional function (libdir, reps): a benchmark that does
--               not fit one timed run(n) per contender (memory, several
--               processes, several numbers per run: bench/conn_scale.lua,
--               bench/coro_scale.lua) runs its own children and prints its
--               own tables; it then needs no contenders
-- Exactly one contender is the floor: the same work done the cheapest way,
-- against which every ratio is given.
--
-- Every run happens in a fresh child process ("--one"), so contenders do
-- not share heaps, loops or warm caches; the contenders take turns (run 1
-- of each, then run 2 of each, ..., in a new random order every round) so
-- that drifts of the machine hit all of them alike. The time of a run is the child's CPU time (os.clock:
-- user + system) spent in run(n), which excludes interpreter start-up and
-- module loading. A contender whose modules do not load is reported as
-- missing; one that fails or does less than n operations, as failed.

local S = dofile("bench/lib/stats.lua")
local q, median, shuffled = S.q, S.median, S.shuffled

local function loadbench (path)
  local bench = assert(dofile(path))
  assert(type(bench.contenders) == "table" or type(bench.main) == "function",
         path .. ": no contenders")
  return bench
end

local function contender (bench, name)
  for _, c in ipairs(bench.contenders) do
    if c.name == name then return c end
  end
  error("no contender '" .. name .. "'")
end

-- Child: one run of one contender; prints 'elapsed <s>' or 'missing <m>'.
local function runone (path, name, n)
  local bench = loadbench(path)
  local c = contender(bench, name)
  n = math.tointeger(tonumber(n)) or bench.n
  for _, m in ipairs(c.needs or {}) do
    local ok, err = pcall(require, m)
    if not ok then
      print("missing " .. m .. ": " .. tostring(err):match("^[^\n]*"))
      return
    end
  end
  collectgarbage("collect")
  local clock = os.clock
  if bench.clock == "wall" then  -- coutil's clock, whoever the contender
    clock = function () return require "coutil.system".nanosecs() / 1e9 end
    clock()
  end
  local t0 = clock()
  local done = c.run(n)
  local t1 = clock()
  if done ~= n then
    error(string.format("did %s operations instead of %d", tostring(done), n))
  end
  print(string.format("elapsed %.6f", t1 - t0))
end




-- Parent: every contender 'reps' times, taking turns; then the table.
local function runall (libdir, path, reps)
  local bench = loadbench(path)
  reps = math.max(reps, bench.reps or 0)
  if bench.main then return bench.main(libdir, reps) end
  local lua = os.getenv("BENCH_LUA") or "lua5.4"
  local env = "env LUA_CPATH=" .. q(libdir .. "/?.so;;")
  local times, status = {}, {}
  for _, c in ipairs(bench.contenders) do times[c.name] = {} end
  math.randomseed(1)  -- the same orders in every run of the harness
  for _ = 1, reps do
    for _, c in ipairs(shuffled(bench.contenders)) do
      if not status[c.name] then
        local cmd = string.format("%s %s bench/harness.lua --one %s %s %d 2>&1",
          env, lua, q(path), q(c.name), bench.n)
        local p = assert(io.popen(cmd))
        local out = p:read("a")
        p:close()
        local s = out:match("elapsed (%S+)")
        if s then
          table.insert(times[c.name], tonumber(s))
        elseif out:match("^missing ") then
          status[c.name] = out:match("^(missing[^\n]*)")
        else
          status[c.name] = "failed: " .. (out:match("[^\n]+") or "no output")
        end
      end
    end
  end

  local med = {}
  for _, c in ipairs(bench.contenders) do
    if #times[c.name] > 0 and not status[c.name] then
      med[c.name] = median(times[c.name])
    end
  end
  local floor
  for _, c in ipairs(bench.contenders) do
    if c.floor then floor = c.name end
  end

  print(string.format("## %s (%s x %d, median of %d run%s)", bench.title,
    bench.unit, bench.n, reps, reps == 1 and "" or "s"))
  print()
  print("| contender | median s | ns/" .. bench.unit .. " | x floor |")
  print("|---|---:|---:|---:|")
  for _, c in ipairs(bench.contenders) do
    local label = c.name .. (c.floor and " (floor)" or "")
    local m = med[c.name]
    if m then
      local ratio = med[floor] and string.format("%.2f", m / med[floor]) or "-"
      print(string.format("| %s | %.3f | %.1f | %s |", label, m,
        m / bench.n * 1e9, ratio))
    else
      print(string.format("| %s | %s | | |", label, status[c.name]))
    end
  end
  if bench.targets then print() end
  for _, t in ipairs(bench.targets or {}) do
    local a, b = t.faster or t.slower, t.than
    if not (med[a] and med[b]) then
      print(string.format("- target %s vs %s: not measured", a, b))
    elseif t.faster then
      local x = med[b] / med[a]
      print(string.format("- target: %s at least %gx faster than %s: %.2fx (%s)",
        a, t.atleast, b, x, x >= t.atleast and "met" or "NOT met"))
    else
      local x = med[a] / med[b]
      print(string.format("- target: %s at most %gx the time of %s: %.2fx (%s)",
        a, t.atmost, b, x, x <= t.atmost and "met" or "NOT met"))
    end
  end
  print()
end

if arg[1] == "--one" then
  runone(arg[2], arg[3], arg[4])
else
  local libdir = assert(arg[1], "usage: harness.lua <libdir> <bench.lua> [reps]")
  local path = assert(arg[2], "usage: harness.lua <libdir> <bench.lua> [reps]")
  runall(libdir, path, math.tointeger(tonumber(arg[3] or os.getenv("BENCH_REPS")
    or 5)) or 5)
end
