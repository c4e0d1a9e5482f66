-- bench/scale/coro.lua <kind> <n> <what>: one child of bench/coro_scale.lua.
-- Creates n coroutines that all wait at once, and prints one line of
-- numbers (bytes, seconds of this process's CPU time):
--   what = "mem":  rss0 rss1 lua0 lua1 start halt
--     each coroutine waits 60 s; rss/lua 0 before, 1 with all n waiting
--     (after a full collection); start = creating and suspending all n;
--     halt = coroutine.close of all n, then the loop's run (returns at
--     once: nothing is left to wait for)
--   what = "wake": start wake
--     coroutine i waits 0.001 * (1 + i % 10) s; wake = the loop's run
--     until all n have woken and returned (CPU time: the run sleeps
--     until the deadlines, which costs nothing)
-- kind = "bare": coroutine.yield() (the reference: a suspended Lua
--   coroutine with nothing of any library); wake = resume each in turn
-- kind = "coutil": system.suspend(seconds)
-- kind = "luv": a uv timer per coroutine whose callback resumes it
local kind, n, what = arg[1], math.tointeger(tonumber(arg[2])), arg[3]
assert(kind and n and (what == "mem" or what == "wake"),
       "usage: coro.lua bare|coutil|luv <n> mem|wake")

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

local create, resume, close, yield, running = coroutine.create,
  coroutine.resume, coroutine.close, coroutine.yield, coroutine.running
local clock = os.clock

local function seconds (i)
  if what == "mem" then return 60 end
  return 0.001 * (1 + i % 10)
end

local body, run, halt
local done = 0
local timers = {}  -- luv only: to close the timers on halt
if kind == "bare" then
  body = function () yield(); done = done + 1 end
  run = function (cos) for i = 1, n do assert(resume(cos[i])) end end
  halt = function () end
elseif kind == "coutil" then
  local system = require "coutil.system"
  local suspend = system.suspend
  -- the loop made (and a timer record's kind used) before the baseline
  coroutine.wrap(function () suspend(0.001) end)()
  system.run()
  body = function (s) suspend(s); done = done + 1 end
  run = function () assert(system.run() == false) end
  halt = function () assert(system.run() == false) end
elseif kind == "luv" then
  local uv = require "luv"
  local t = uv.new_timer()
  t:start(1, 0, function () t:close() end)
  uv.run()
  body = function (s, i)
    local co, timer = running(), uv.new_timer()
    timers[i] = timer
    timer:start(math.ceil(s * 1000), 0, function ()
      timer:close()
      timers[i] = false
      assert(resume(co))
    end)
    yield()
    done = done + 1
  end
  run = function () uv.run() end
  halt = function ()
    for i = 1, n do timers[i]:close() end
    uv.run()
  end
else
  error("unknown kind " .. kind)
end
if kind == "luv" then for i = 1, n do timers[i] = false end end

local cos = {}
for i = 1, n do cos[i] = false end  -- the table's array at its full size
local lua0 = heap()
local rss0 = rss()

local t0 = clock()
for i = 1, n do
  local co = create(body)
  cos[i] = co
  assert(resume(co, seconds(i), i))
end
local start = clock() - t0

if what == "mem" then
  local lua1 = heap()
  local rss1 = rss()
  local t1 = clock()
  for i = 1, n do assert(close(cos[i])) end
  halt()
  local stop = clock() - t1
  assert(done == 0)
  print(string.format("%d %d %d %d %.6f %.6f", rss0, rss1, lua0, lua1,
                      start, stop))
else
  local t1 = clock()
  run(cos)
  local wake = clock() - t1
  assert(done == n, "woke " .. done .. " of " .. n)
  print(string.format("%.6f %.6f", start, wake))
end
io.stdout:flush()
os.exit(0, false)  -- not timed: skip closing a state of n coroutines
