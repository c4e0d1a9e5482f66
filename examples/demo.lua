-- examples/demo.lua: a few coroutines on one thread, each waiting in its
-- own way, printing a timeline for about three seconds.
--
--   build/bin/coutil examples/demo.lua
--   LUA_CPATH="build/lib/?.so;;" lua5.4 examples/demo.lua   -- the same
--
-- (It calls system.run itself, so it also runs under the plain lua5.4;
-- `make demo` runs the tour, examples/tour.lua.)
--
--   metronome  beats every 0.5 s and announces each beat with event.emitall
--   ticker     ticks every 0.2 s; every third tick it queues a job
--   worker     takes queued jobs (queued.await) and spends 0.65 s on each,
--              so jobs pile up in the queue while it is busy
--   listener   waits for a beat or the end (event.awaitany)
--
-- Nothing here blocks the process: system.suspend parks only the calling
-- coroutine, and system.run keeps resuming whoever is due.

local system = require "coutil.system"
local event = require "coutil.event"
local queued = require "coutil.queued"

local start = system.nanosecs()
local function now () return (system.nanosecs() - start) / 1e9 end
local function say (who, fmt, ...)
  print(string.format("[%5.2fs] %-9s " .. fmt, now(), who, ...))
end

local BEATS = 6
local finished = false

local metronome = coroutine.wrap(function ()
  for beat = 1, BEATS do
    system.suspend(0.5)
    say("metronome", "beat %d", beat)
    event.emitall("beat", beat)
  end
  finished = true
  event.emitall("end")
  queued.emitone("jobs", false)   -- no more jobs: tells the worker to stop
end)

local ticker = coroutine.wrap(function ()
  local tick, job = 0, 0
  while not finished do
    system.suspend(0.2)
    tick = tick + 1
    if tick % 3 == 0 and not finished then
      job = job + 1
      say("ticker", "tick %d, queues job %d", tick, job)
      queued.emitone("jobs", job, now())   -- stored until taken
    end
  end
  say("ticker", "stopped after %d ticks", tick)
end)

local worker = coroutine.wrap(function ()
  local done = 0
  while true do
    local _, job, queuedat = queued.await("jobs")
    if not job then break end
    say("worker", "took job %d (waited %.2f s in the queue)", job,
      now() - queuedat)
    system.suspend(0.65)             -- the work
    done = done + 1
    say("worker", "finished job %d", job)
  end
  say("worker", "no more jobs, %d done", done)
end)

local listener = coroutine.wrap(function ()
  while true do
    local what, beat = event.awaitany("beat", "end")
    if what == "end" then break end
    say("listener", "heard beat %d%s", beat,
      queued.isqueued("jobs") and ", jobs are waiting" or "")
  end
  say("listener", "the music stopped")
end)

listener()
worker()
ticker()
metronome()
system.run()
say("main", "nothing left to wait for")
