-- bench/lib/interleave.lua: two contenders of a benchmark file in one
-- interpreter, taking turns, many short rounds; prints the median and
-- quartiles of the per-round time ratios (b / a, CPU time). A diagnostic
-- for ratios that move from process to process (bench/RESULTS.md, "The
-- event hand-off's time on this machine"): the harness runs each
-- contender in a fresh process, which is what the recorded figures use.
--
--   LUA_CPATH='build/lib/?.so;;' lua5.4 bench/lib/interleave.lua \
--     bench/event.lua coroutine coutil.event [n per round] [rounds]

local path, aname, bname = arg[1], arg[2], arg[3]
assert(path and aname and bname,
       "usage: bench/lib/interleave.lua <bench file> <contender a> <contender b> [n] [rounds]")
local bench = assert(dofile(path))
local n = math.tointeger(tonumber(arg[4])) or 100000
local rounds = math.tointeger(tonumber(arg[5])) or 200

local function find (name)
  for _, c in ipairs(bench.contenders) do
    if c.name == name then return c.run end
  end
  error("no contender '" .. name .. "' in " .. path)
end

local a, b = find(aname), find(bname)
a(n); b(n)  -- warm up: modules loaded, code paths taken once
local ratios = {}
for r = 1, rounds do
  local t0 = os.clock(); a(n)
  local t1 = os.clock(); b(n)
  local t2 = os.clock()
  ratios[r] = (t2 - t1) / (t1 - t0)
end
table.sort(ratios)
local function q (p) return ratios[math.max(1, math.floor(rounds * p + 0.5))] end
print(string.format("%s / %s: median %.3f, quartiles %.3f-%.3f, %d rounds of %d",
                    bname, aname, q(0.5), q(0.25), q(0.75), rounds, n))
