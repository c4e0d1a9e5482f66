-- bench/scale/coro_parts.lua [n]: where the memory of a coroutine waiting
-- in system.suspend(60) goes, measured in one process (n = 200,000):
--   LUA_CPATH='build/lib/?.so;;' lua5.4 bench/scale/coro_parts.lua
-- Lua heap (collectgarbage "count") of a coroutine just created, after it
-- yielded, and after it called suspend(60) instead; the registry slots
-- taken per waiting coroutine (the registry's border); and VmRSS, whose
-- excess over the Lua heap is what was malloc'ed outside Lua (coutil's
-- records). The C sizes come from src/await.h (see bench/RESULTS.md).
-- Each case runs in a fresh process (this file again, with the case's
-- number), since freed memory would be reused by the next case.
local n = math.tointeger(tonumber(arg[1])) or 200000
local case = math.tointeger(tonumber(arg[2]))
if not case then
  for c = 1, 4 do
    local p = assert(io.popen(string.format("%s %s %d %d", arg[-1], arg[0], n, c)))
    io.write(p:read("a"))
    p:close()
  end
  return
end
local system = require "coutil.system"

local function rss ()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")) * 1024
end
local function heap ()
  collectgarbage("collect")
  collectgarbage("collect")
  return collectgarbage("count") * 1024
end
local reg = debug.getregistry()

coroutine.wrap(function () system.suspend(0.001) end)()  -- the loop, first
system.run()

local function measure (label, make, show)
  local cos = {}
  for i = 1, n do cos[i] = false end
  local h0, r0, g0 = heap(), rss(), #reg
  for i = 1, n do cos[i] = make() end
  local h1, r1, g1 = heap(), rss(), #reg
  if show then print(string.format("%-34s Lua heap %7.1f B  RSS %7.1f B  outside Lua %6.1f B" ..
    "  registry slots %.2f (array now %d)", label, (h1 - h0) / n, (r1 - r0) / n,
    ((r1 - r0) - (h1 - h0)) / n, (g1 - g0) / n, g1)) end
  for i = 1, n do
    if coroutine.status(cos[i]) == "suspended" then coroutine.close(cos[i]) end
  end
  cos = nil
  assert(system.run() == false)
end

local function nothing () end
local function yielder () coroutine.yield() end
local function sleeper () system.suspend(60) end
local function yielding () local co = coroutine.create(yielder)
  coroutine.resume(co)
  return co
end
local function sleeping () local co = coroutine.create(sleeper)
  coroutine.resume(co)
  return co
end
if case == 1 then
  measure("created, not started", function () return coroutine.create(nothing) end, true)
elseif case == 2 then
  measure("coroutine.yield()", yielding, true)
elseif case == 3 then
  measure("system.suspend(60), new records", sleeping, true)
else
  -- the records of a first round go to the loop's free list: a second
  -- round allocates its coroutines only (records, guards and slots are
  -- reused; its RSS delta is meaningless, the first round's memory reused)
  measure("", sleeping, false)
  measure("system.suspend(60), reused records", sleeping, true)
end
