-- bench/timer.lua: 10,000 coroutines each give way 100 times ("suspend
-- for zero seconds"), all taking turns in one scheduler. n counts the
-- suspends of all coroutines together (n / 10,000 rounds each).
-- Floor: a plain-Lua round-robin scheduler doing the same switches with
-- coroutine.yield and no event loop at all.

local COROUTINES = 10000

local function rounds (n)
  assert(n % COROUTINES == 0, "n must be a multiple of 10,000")
  return n // COROUTINES
end

local function floor_run (n)
  local r = rounds(n)
  local yield, resume, status = coroutine.yield, coroutine.resume,
                                coroutine.status
  local done = 0
  local queue, head, tail = {}, 1, 0
  for _ = 1, COROUTINES do
    tail = tail + 1
    queue[tail] = coroutine.create(function ()
      for _ = 1, r do yield() end
      done = done + 1
    end)
  end
  -- a FIFO ring: each coroutine runs until its next yield, then queues up
  while head <= tail do
    local co = queue[head]
    queue[head] = nil
    head = head + 1
    assert(resume(co))
    if status(co) ~= "dead" then
      tail = tail + 1
      queue[tail] = co
    end
  end
  return done * r
end

local function coutil_run (n)
  local system = require "coutil.system"
  local r = rounds(n)
  local suspend = system.suspend
  local done = 0
  for _ = 1, COROUTINES do
    coroutine.wrap(function ()
      for _ = 1, r do suspend(0) end
      done = done + 1
    end)()
  end
  assert(system.run() == false)
  return done * r
end

-- luv: each coroutine owns a timer; "suspend" starts it with a zero
-- timeout and yields, and the timer callback resumes the coroutine.
local function luv_run (n)
  local uv = require "luv"
  local r = rounds(n)
  local done = 0
  for _ = 1, COROUTINES do
    local timer = uv.new_timer()
    local co
    local function wake () assert(coroutine.resume(co)) end
    co = coroutine.create(function ()
      for _ = 1, r do
        timer:start(0, 0, wake)
        coroutine.yield()
      end
      timer:close()
      done = done + 1
    end)
    assert(coroutine.resume(co))
  end
  uv.run()
  return done * r
end

local function cqueues_run (n)
  local cqueues = require "cqueues"
  local r = rounds(n)
  local sleep = cqueues.sleep
  local cq = cqueues.new()
  local done = 0
  for _ = 1, COROUTINES do
    cq:wrap(function ()
      for _ = 1, r do sleep(0) end
      done = done + 1
    end)
  end
  assert(cq:loop())
  return done * r
end

return {
  title = "10,000 coroutines suspending for zero seconds",
  unit = "suspend",
  n = 1000000,
  contenders = {
    {name = "round-robin", floor = true, run = floor_run},
    {name = "coutil.system", needs = {"coutil.system"}, run = coutil_run},
    {name = "luv", needs = {"luv"}, run = luv_run},
    {name = "cqueues", needs = {"cqueues"}, run = cqueues_run},
  },
  targets = {
    {slower = "coutil.system", than = "round-robin", atmost = 1.0}, -- issue 12
    {faster = "coutil.system", than = "luv", atleast = 2},
    {faster = "coutil.system", than = "cqueues", atleast = 2},
  },
  callgrind = {n = 100000, contenders = {"round-robin", "coutil.system",
                                         "luv", "cqueues"}},
}
