-- test/time.lua: system.nanosecs, system.time and system.suspend (manual,
-- "Time Measure"): results, argument errors, '~', order of wake-ups.

local H = require "helpers"
local system = require "coutil.system"

local spawn, drain = H.spawn, H.drain

-- A coroutine that appends 'name' to 'log' once woken from suspend(0).
local function wakelog (log, name)
  return spawn(function () system.suspend(0) log[#log + 1] = name end)
end

-- Whole milliseconds from time t1 to time t2 (of system.time).
local function millisecs (t1, t2)
  return math.floor((t2 - t1) * 1000 + 0.5)
end

-- Nanoseconds that f(...) took.
local function elapsed (f, ...)
  local start = system.nanosecs()
  f(...)
  return system.nanosecs() - start
end

-- --- nanosecs ----------------------------------------------------------

H.case("nanosecs returns an integer", function ()
  local t = system.nanosecs()
  assert(math.type(t) == "integer")
  assert(t > 0)
end)

H.case("nanosecs never goes back", function ()
  local last = system.nanosecs()
  for _ = 1, 10000 do
    local now = system.nanosecs()
    assert(now >= last)
    last = now
  end
end)

H.case("nanosecs counts a blocking sleep", function ()
  assert(elapsed(system.suspend, 0.01, "~") >= 10 * 1000000)
end)

H.case("nanosecs ignores arguments", function ()
  assert(math.type(system.nanosecs("x", {})) == "integer")
end)

-- --- time ----------------------------------------------------------------

H.case("time defaults to cached", function ()
  local t = system.time()
  assert(math.type(t) == "float")
  H.same({t}, system.time("cached"))
  H.same({t}, system.time(nil))
end)

H.case("time cached does not move by itself", function ()
  local t = system.time("cached")
  system.suspend(0.005, "~")
  H.same({t}, system.time("cached"))
  H.same({t}, system.time())
end)

H.case("time updated refreshes the cached timestamp", function ()
  local t = system.time()
  system.suspend(0.005, "~")
  local u = system.time("updated")
  assert(millisecs(t, u) >= 5, "updated moved less than the sleep")
  H.same({u}, system.time("cached"))
end)

H.case("time has millisecond precision", function ()
  for _, mode in ipairs{"cached", "updated"} do
    local ms = system.time(mode) * 1000
    assert(math.abs(ms - math.floor(ms + 0.5)) < 1e-3)
  end
end)

H.case("system.run refreshes the cached timestamp", function ()
  local t = system.time()
  system.suspend(0.005, "~")
  local seen
  spawn(function ()
    system.suspend()
    seen = system.time()
  end)
  drain()
  assert(millisecs(t, seen) >= 5, "run did not update the cached time")
  -- drain may run one more iteration (which refreshes it again) after
  -- the coroutine took 'seen': the cached time can only have grown
  assert(system.time() >= seen)
end)

H.case("time epoch is close to os.time", function ()
  local e = system.time("epoch")
  assert(math.type(e) == "float")
  assert(math.abs(e - os.time()) <= 2)
  assert(system.time("epoch") >= e)
end)

H.case("time rejects a bad mode", function ()
  H.raises("invalid option 'utc'", system.time, "utc")
  H.raises("invalid option 'Cached'", system.time, "Cached")
  H.raises("invalid option '1'", system.time, 1)
  H.badarg(1, "(string expected, got table)", system.time, {})
end)

-- --- suspend: results ----------------------------------------------------

H.case("suspend returns true for every kind of duration", function ()
  local durations = {n = 12, nil, 0, -1, -math.huge, 0.0001, 0.001, 0.01,
                     "0.002", 1e-300, -0.0, math.mininteger, 1 // 1000}
  local got = {}
  for i = 1, durations.n do
    spawn(function (s)
      got[i] = H.pack(system.suspend(s))
    end, durations[i])
  end
  drain()
  for i = 1, durations.n do
    assert(got[i], "not woken: #" .. i)
    H.same({true}, table.unpack(got[i], 1, got[i].n))
  end
end)

H.case("suspend without arguments returns true", function ()
  H.same({true}, H.run(function () return system.suspend() end))
end)

H.case("suspend waits at least the time asked", function ()
  local took = H.run(function ()
    system.time("updated")  -- the wait counts from the cached time
    return elapsed(system.suspend, 0.02)
  end)
  assert(took >= 20 * 1000000, "woke up after " .. took .. " ns")
end)

-- The cached time is the real time rounded down to the millisecond. A
-- coroutine that updated it and suspended for 1 ms before system.run
-- started used to wake at run's first update whenever that one came
-- after the next millisecond boundary: 20-30 us after the suspend in the
-- suite's time.lua (1 run in 20: loop creation widens the gap there).
-- Here a 0.3 ms gap makes that happen in about one try out of three.
H.case("suspend(0.001) before system.run waits a whole millisecond", function ()
  for i = 1, 60 do
    local took, before
    coroutine.wrap(function ()
      before = system.nanosecs()
      system.time("updated")
      system.suspend(1e-3)
      took = system.nanosecs() - before
    end)()
    repeat until system.nanosecs() - before > 300000
    assert(system.run() == false)
    assert(took >= 1000000, "try " .. i .. " woke up after " .. took .. " ns")
  end
end)

H.case("suspend counts from the cached timestamp", function ()
  system.time("updated")
  system.suspend(0.03, "~")  -- the cached time is now 30 ms old
  local co = spawn(system.suspend, 0.01)
  -- its timer is already due: one iteration wakes it
  H.same({false}, system.run("step"))
  assert(coroutine.status(co) == "dead")
end)

H.case("suspend yields no value", function ()
  local co = H.track(coroutine.create(system.suspend))
  H.same({true}, coroutine.resume(co, 0.001))
  assert(coroutine.status(co) == "suspended")
  drain()
  assert(coroutine.status(co) == "dead")
end)

H.case("suspend hands its result back through the coroutine", function ()
  local results
  local co = H.track(coroutine.create(function ()
    results = H.pack(system.suspend(0.001))
    return "done"
  end))
  assert(coroutine.resume(co))
  drain()
  H.same({true}, table.unpack(results, 1, results.n))
end)

-- --- suspend: order of wake-ups --------------------------------------------

H.case("shorter suspends wake first", function ()
  local order = {}
  for _, s in ipairs{0.03, 0.01, 0.02, 0.005} do
    spawn(function ()
      system.suspend(s)
      order[#order + 1] = s
    end)
  end
  drain()
  H.same({0.005, 0.01, 0.02, 0.03}, table.unpack(order))
end)

H.case("equal suspends wake in call order", function ()
  local order = {}
  for i = 1, 10 do
    spawn(function ()
      system.suspend(0.005)
      order[#order + 1] = i
    end)
  end
  drain()
  H.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, table.unpack(order))
end)

H.case("suspend(0) callers of one iteration wake newest first", function ()
  local order = {}
  local durations = {n = 5, 0, nil, -1, 0, -0.5}
  for i = 1, durations.n do
    spawn(function ()
      system.suspend(durations[i])
      order[#order + 1] = i
    end)
  end
  -- one iteration wakes them all, the last caller first (as the original
  -- library does)
  H.same({false}, system.run("step"))
  H.same({5, 4, 3, 2, 1}, table.unpack(order))
end)

H.case("suspend(0) again in its wake-up waits for the next iteration",
function ()
  local log = {}
  for _, name in ipairs{"a", "b", "c"} do
    spawn(function ()
      for i = 1, 3 do
        system.suspend(0)
        log[#log + 1] = name .. i
      end
    end)
  end
  H.same({true}, system.run("step"))
  H.same({"c1", "b1", "a1"}, table.unpack(log))
  H.same({true}, system.run("ready"))
  H.same({"c1", "b1", "a1", "a2", "b2", "c2"}, table.unpack(log))
  H.same({false}, system.run("step"))
  assert(#log == 9 and log[7] == "c3" and log[9] == "a3")
end)

H.case("suspend(0) again after an early resume waits one iteration more",
function ()
  local log = {}
  local first = spawn(function ()
    assert(system.suspend(0) == "early")
    system.suspend(0)
    log[#log + 1] = "first"
  end)
  wakelog(log, "second")
  wakelog(log, "third")
  assert(coroutine.resume(first, "early"))
  -- the others were queued before its second call: they wake first
  H.same({true}, system.run("ready"))
  H.same({"third", "second"}, table.unpack(log))
  drain()
  H.same({"third", "second", "first"}, table.unpack(log))
end)

H.case("I/O of the iteration comes before a suspend(0) resumed early",
function ()
  local channel = require "coutil.channel"
  local ch <close> = channel.create("test/time/late")
  local steps = {}
  local sleeper = spawn(function ()
    assert(system.suspend(0) == "early")
    local again = H.pack(system.suspend(0))  -- late
    steps[#steps + 1] = again
  end)
  assert(coroutine.resume(sleeper, "early"))
  spawn(function ()
    assert(system.awaitch(ch))  -- woken by the poll of iteration 1
    steps[#steps + 1] = coroutine.status(sleeper)
    assert(coroutine.resume(sleeper, "again"))
  end)
  assert(channel.sync(ch))
  drain()
  assert(steps[1] == "suspended", steps[1])
  H.same({"again"}, table.unpack(steps[2], 1, steps[2].n))
end)

H.case("suspend(0) joins after the ones already queued", function ()
  local log = {}
  wakelog(log, "b")
  spawn(function ()
    system.suspend(0)
    log[#log + 1] = "a"
    system.suspend(0)
    log[#log + 1] = "a again"
  end)
  drain()
  H.same({"a", "b", "a again"}, table.unpack(log))
end)

H.case("suspend(0) does not wait for pending timers", function ()
  local log = {}
  system.time("updated")
  local timer = spawn(function ()
    local woken = system.suspend(30)
    log[#log + 1] = woken and "timer" or "early"
  end)
  wakelog(log, "ready")
  H.same({true}, system.run("step"))
  H.same({"ready"}, table.unpack(log))
  assert(coroutine.resume(timer, false))
  H.same({"ready", "early"}, table.unpack(log))
end)

-- --- suspend: blocking mode ---------------------------------------------

H.case("suspend '~' blocks in the main chunk", function ()
  local results
  local took = elapsed(function ()
    results = H.pack(system.suspend(0.02, "~"))
  end)
  H.same({true}, table.unpack(results, 1, results.n))
  assert(took >= 20 * 1000000, "slept only " .. took .. " ns")
end)

H.case("suspend '~' does not yield in a coroutine", function ()
  local co = H.track(coroutine.create(function ()
    local before = system.nanosecs()
    local ok = system.suspend(0.01, "~")
    return ok, system.nanosecs() - before
  end))
  local ok, result, took = coroutine.resume(co)
  assert(ok and result == true)
  assert(took >= 10 * 1000000)
  assert(coroutine.status(co) == "dead")
end)

H.case("suspend '~' with no time, zero or negative returns at once",
function ()
  H.same({true}, system.suspend(nil, "~"))
  H.same({true}, system.suspend(0, "~"))
  H.same({true}, system.suspend(-3, "~"))
  local co = H.track(coroutine.create(system.suspend))
  H.same({true, true}, coroutine.resume(co, nil, "~"))
  assert(coroutine.status(co) == "dead")
end)

H.case("suspend '~' does not run the loop", function ()
  local woken = false
  spawn(function ()
    system.suspend(0)
    woken = true
  end)
  system.suspend(0.005, "~")
  assert(not woken)
  drain()
  assert(woken)
end)

H.case("suspend '~' inside a woken coroutine blocks the loop", function ()
  local log = {}
  wakelog(log, "b")
  spawn(function ()
    system.suspend(0)
    log[#log + 1] = "a"
    system.suspend(0.005, "~")
    log[#log + 1] = "a slept"
  end)
  drain()
  H.same({"a", "a slept", "b"}, table.unpack(log))
end)

H.case("suspend with an empty mode yields", function ()
  local co = spawn(system.suspend, 0.001, "")
  assert(coroutine.status(co) == "suspended")
  drain()
  assert(coroutine.status(co) == "dead")
end)

-- --- suspend: misuse ----------------------------------------------------

H.case("suspend in the main chunk cannot yield", function ()
  H.raises("unable to yield", system.suspend)
  H.raises("unable to yield", system.suspend, 0)
  H.raises("unable to yield", system.suspend, 0.01)
  H.raises("unable to yield", system.suspend, 1, "")
end)

H.case("suspend cannot yield across a C call", function ()
  local errors = {}
  local co = H.track(coroutine.create(function ()
    table.sort({3, 2, 1}, function (a, b)
      errors[#errors + 1] = select(2, pcall(system.suspend, 0))
      return a < b
    end)
    string.gsub("x", "x", function ()
      errors[#errors + 1] = select(2, pcall(system.suspend, 0.01))
    end)
    return "finished"
  end))
  H.same({true, "finished"}, coroutine.resume(co))
  assert(#errors >= 2)
  for _, e in ipairs(errors) do
    assert(string.find(e, "unable to yield", 1, true), e)
  end
end)

H.case("suspend rejects a seconds value that is not a number", function ()
  H.badarg(1, "(number expected, got string)", system.suspend, "soon")
  H.raises("number expected, got table", system.suspend, {})
  H.raises("number expected, got boolean", system.suspend, true)
  H.raises("number expected, got function", system.suspend, print)
  H.raises("number expected, got boolean", system.suspend, false, "~")
end)

H.case("suspend rejects durations out of range", function ()
  for _, s in ipairs{math.huge, 1e300, 2^64 / 1000, 1e17, math.maxinteger} do
    H.badarg(1, "(out of range)", system.suspend, s)
    H.raises("out of range", system.suspend, s, "~")
    local co = H.track(coroutine.create(system.suspend))
    local ok, err = coroutine.resume(co, s)
    assert(not ok and string.find(err, "out of range", 1, true))
  end
end)

H.case("suspend rejects NaN as out of range", function ()
  local nan = 0 / 0
  H.raises("out of range", system.suspend, nan)
  H.raises("out of range", system.suspend, nan, "~")
  H.raises("out of range", system.suspend, -nan)
end)

H.case("suspend accepts the longest durations", function ()
  for _, s in ipairs{1e9, 1e16} do
    local co = spawn(system.suspend, s)
    H.same({true}, system.run("ready"))
    H.same({true, "early"}, coroutine.resume(co, "early"))
    H.same({false}, system.run("ready"))
  end
end)

H.case("suspend rejects unknown mode chars", function ()
  H.badarg(2, "(unknown mode char (got 'x'))", system.suspend, 1, "x")
  H.raises("unknown mode char (got 'x')", system.suspend, 1, "~x")
  H.raises("unknown mode char (got 'r')", system.suspend, nil, "r")
  H.raises("unknown mode char (got '1')", system.suspend, 0, 1)
  H.raises("unknown mode char (got ' ')", system.suspend, 0, " ~")
end)

H.case("suspend wants '~' first in the mode", function ()
  H.badarg(2, "('~' must be in the begin of 'mode')", system.suspend, 0, "~~")
  H.raises("'~' must be in the begin of 'mode'", system.suspend, 1, "~~~")
end)

H.case("suspend rejects a mode that is not a string", function ()
  H.badarg(2, "(string expected, got table)", system.suspend, 0, {})
  H.raises("string expected, got boolean", system.suspend, 0, true)
end)

H.case("suspend checks arguments before it yields", function ()
  local co = H.track(coroutine.create(system.suspend))
  local ok, err = coroutine.resume(co, 0.001, "z")
  assert(not ok and string.find(err, "unknown mode char (got 'z')", 1, true))
  assert(coroutine.status(co) == "dead")
  -- the misuse left nothing in the loop (checked by the harness too)
  H.same({false}, system.run("ready"))
end)

H.case("a mode string with an embedded zero is refused", function ()
  H.raises("unknown mode char (got '\\0')", system.suspend, 0, "~\0x")
  H.raises("unknown mode char (got '\\0')", system.suspend, 0, "\0")
end)

H.done()
