-- bench/event.lua: ping-pong through an event. A consumer coroutine loops
-- on "await an event"; the main code hands it n values one at a time.
-- Floor: the same hand-off as a bare coroutine.resume/coroutine.yield.

local function floor_run (n)
  local got = 0
  local co = coroutine.create(function ()
    while true do
      coroutine.yield()
      got = got + 1
    end
  end)
  coroutine.resume(co)
  local resume = coroutine.resume
  for i = 1, n do resume(co, i) end
  return got
end

local function coutil_run (n)
  local event = require "coutil.event"
  local e = {}
  local got = 0
  coroutine.wrap(function ()
    local await = event.await
    while true do
      await(e)
      got = got + 1
    end
  end)()
  local emitone = event.emitone
  for i = 1, n do emitone(e, i) end
  return got
end

-- cqueues: a condition variable; the consumer waits on it inside a cqueue,
-- and each signal is followed by one step of the cqueue, which is when
-- cqueues resumes the woken coroutine.
local function cqueues_run (n)
  local cqueues = require "cqueues"
  local condition = require "cqueues.condition"
  local cq = cqueues.new()
  local cond = condition.new()
  local got = 0
  cq:wrap(function ()
    while true do
      cond:wait()
      got = got + 1
    end
  end)
  assert(cq:step(0))
  for i = 1, n do
    cond:signal(1)
    assert(cq:step(0))
  end
  return got
end

return {
  title = "event ping-pong",
  unit = "hand-off",
  n = 1000000,
  contenders = {
    {name = "coroutine", floor = true, run = floor_run},
    {name = "coutil.event", needs = {"coutil.event"}, run = coutil_run},
    {name = "cqueues.condition", needs = {"cqueues", "cqueues.condition"},
     run = cqueues_run},
  },
  targets = {
    {slower = "coutil.event", than = "coroutine", atmost = 1.25},  -- issue 12
  },
  callgrind = {n = 100000, contenders = {"coroutine", "coutil.event",
                                         "cqueues.condition"}},
}
