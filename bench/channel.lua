-- bench/channel.lua: channel ping-pong between the main thread, under
-- system.run, and a task in a pool of one thread: n round trips, each one
-- value out and one back. Task side: the bare "yield name, endpoint"
-- protocol, or system.awaitch under system.run in the task. Floor:
-- bench/floor_channel.c, two pthreads and a mutex + condition variable.

local loadfloor = dofile("bench/threads/floor.lua")
loadfloor("channel")  -- built before anything is timed

local tasks = {
  bare = [[
    local yield = require "coroutine".yield
    local name, n = ...
    for _ = 1, n do
      local _, v = yield(name, "in")
      yield(name, "out", v + 1)
    end
  ]],
  awaitch = [[
    local system = require "coutil.system"
    local channel = require "coutil.channel"
    local name, n = ...
    local ch = channel.create(name)
    local awaitch = system.awaitch
    require "coroutine".wrap(function ()
      for _ = 1, n do
        local _, v = awaitch(ch, "in")
        awaitch(ch, "out", v + 1)
      end
    end)()
    system.run()
  ]],
}

-- The main side: n round trips with a task running 'chunk'.
local function pingpong (chunk, n)
  local system = require "coutil.system"
  local channel = require "coutil.channel"
  local threads = require "coutil.threads"
  local name = "bench/channel"
  local ch = channel.create(name)
  local pool = threads.create(1)
  assert(pool:dostring(chunk, "task", "t", name, n))
  local done = 0
  coroutine.wrap(function ()
    local awaitch = system.awaitch
    for i = 1, n do
      awaitch(ch, "out", i)
      local _, v = awaitch(ch, "in")
      if v == i + 1 then done = done + 1 end
    end
  end)()
  system.run()
  pool:close()
  ch:close()
  return done
end

return {
  title = "channel ping-pong, main thread and a task of a 1-thread pool",
  unit = "round trip",
  n = 100000,
  contenders = {
    {name = "floor", floor = true,
     run = function (n) return loadfloor("channel").pingpong(n) end},
    {name = "bare yield", needs = {"coutil.threads"},
     run = function (n) return pingpong(tasks.bare, n) end},
    {name = "awaitch", needs = {"coutil.threads"},
     run = function (n) return pingpong(tasks.awaitch, n) end},
  },
  targets = {
    {slower = "bare yield", than = "floor", atmost = 2},
    {slower = "awaitch", than = "floor", atmost = 2},
    {slower = "awaitch", than = "bare yield", atmost = 1.3},
  },
}
