-- test/await.lua: the await core (manual, "Await Function") seen through
-- system.suspend: early wake-ups by coroutine.resume, coroutine.close of
-- a waiting coroutine, garbage collection, yieldable contexts, volume.

local H = require "helpers"
local system = require "coutil.system"

local spawn, drain = H.spawn, H.drain

-- A coroutine that records every result of its suspend calls in 'log'.
local function logger (log, ...)
  local durations = table.pack(...)
  return spawn(function ()
    for i = 1, durations.n do
      local results = H.pack(system.suspend(durations[i]))
      log[#log + 1] = results
    end
  end)
end

-- --- early wake-up by coroutine.resume ---

H.case("an early resume returns the resume values", function ()
  local log = {}
  local co = logger(log, 10)
  H.same({true}, coroutine.resume(co, "a", nil, 3, nil))
  H.same({n = 4, "a", nil, 3, nil}, table.unpack(log[1], 1, log[1].n))
  assert(coroutine.status(co) == "dead")
end)

H.case("an early resume passes values of every type as they are",
function ()
  local log = {}
  local values = {n = 8, {}, print, coroutine.running(), io.stdout, 1.5,
                  math.maxinteger, "s", false}
  local co = logger(log, 1)
  assert(coroutine.resume(co, table.unpack(values, 1, values.n)))
  assert(log[1].n == values.n)
  for i = 1, values.n do assert(rawequal(log[1][i], values[i])) end
  assert(math.type(log[1][6]) == "integer")
end)

H.case("an early resume with no values returns nothing", function ()
  local log = {}
  local co = logger(log, 10)
  assert(coroutine.resume(co))
  assert(log[1].n == 0)
end)

-- Regression: await_k pushed past the frame that the resume values filled
-- (caught by the API checks of the torture interpreter).
H.case("an early resume with many values returns them all", function ()
  local log = {}
  local values = {}
  for i = 1, 250 do values[i] = i end
  local co = logger(log, 10, 0)
  assert(coroutine.resume(co, table.unpack(values)))
  assert(log[1].n == 250 and log[1][1] == 1 and log[1][250] == 250)
  assert(coroutine.resume(co, table.unpack(values, 1, 200)))
  assert(log[2].n == 200 and log[2][200] == 200)
end)

H.case("an early resume cancels the timer", function ()
  local log = {}
  local co = logger(log, 10)
  H.same({true}, system.run("ready"))
  assert(coroutine.resume(co, "early"))
  H.same({false}, system.run("ready"))
  H.same({false}, system.run())
  assert(#log == 1 and log[1][1] == "early")
end)

H.case("a coroutine resumed early can suspend again", function ()
  local log = {}
  local co = logger(log, 10, 0.002, 0, 10)
  assert(coroutine.resume(co, "first"))
  assert(#log == 1)
  H.same({true}, system.run("step"))  -- blocks until the timer wakes it
  assert(#log >= 2)
  -- the suspend(0) after it wakes in the same step if the timer was
  -- already due when the step began
  if #log == 2 then H.same({true}, system.run("step")) end
  assert(#log == 3)
  H.same({true}, table.unpack(log[2], 1, log[2].n))
  H.same({true}, table.unpack(log[3], 1, log[3].n))
  assert(coroutine.resume(co, "last"))
  H.same({"last"}, table.unpack(log[4], 1, log[4].n))
  H.same({false}, system.run("ready"))
end)

H.case("an early resume of suspend(0)", function ()
  local log = {}
  local co = logger(log, 0, 0, 0)
  assert(coroutine.resume(co, "x", "y"))
  H.same({"x", "y"}, table.unpack(log[1], 1, log[1].n))
  -- its second suspend(0) waits out the iteration in progress (in the
  -- original, its handle is still closing), then wakes in the next one
  H.same({true}, system.run("ready"))
  assert(log[2] == nil)
  H.same({true}, system.run("ready"))
  H.same({true}, table.unpack(log[2], 1, log[2].n))
  H.same({false}, system.run("ready"))  -- and the third
  assert(#log == 3)
end)

H.case("an early resume takes one suspend(0) out of the queue", function ()
  for _, which in ipairs{1, 3, 5} do
    local order = {}
    local cos = {}
    for i = 1, 5 do
      cos[i] = spawn(function ()
        local woken = system.suspend(0)
        order[#order + 1] = woken and i or -i
      end)
    end
    assert(coroutine.resume(cos[which], false))
    H.same({false}, system.run("ready"))
    local expected = {}  -- the others, newest first
    for i = 5, 1, -1 do
      if i ~= which then expected[#expected + 1] = i end
    end
    table.insert(expected, 1, -which)
    H.same(expected, table.unpack(order))
  end
end)

H.case("an early resume of the only suspend(0) stops the idle work",
function ()
  local co = spawn(system.suspend, 0)
  assert(coroutine.resume(co))
  H.same({false}, system.run("ready"))
  H.same({false}, system.run("step"))  -- must not block
end)

H.case("an early resume from a coroutine the loop is running", function ()
  local got
  local sleeper = spawn(function ()
    got = H.pack(system.suspend(10))
    return "finished"
  end)
  spawn(function ()
    system.suspend(0.001)
    H.same({true, "finished"}, coroutine.resume(sleeper, "from", "loop"))
  end)
  H.same({false}, system.run())
  H.same({"from", "loop"}, table.unpack(got, 1, got.n))
end)

H.case("an early resume of a later coroutine in the same batch",
function ()
  local log = {}
  local c = spawn(function ()  -- queued first: woken last
    local result = system.suspend(0)
    log[#log + 1] = result
  end)
  spawn(function () system.suspend(0) log[#log + 1] = "b" end)
  spawn(function ()
    system.suspend(0)
    log[#log + 1] = "a"
    assert(coroutine.resume(c, "by a"))
  end)
  H.same({false}, system.run("step"))
  H.same({"a", "by a", "b"}, table.unpack(log))
end)

H.case("a coroutine resumed early during a batch waits for the next",
function ()
  local log = {}
  local c = spawn(function ()  -- queued first: woken last
    system.suspend(0)
    log[#log + 1] = "c early"
    system.suspend(0)
    log[#log + 1] = "c woken"
  end)
  spawn(function ()
    system.suspend(0)
    log[#log + 1] = "a"
    assert(coroutine.resume(c))
  end)
  H.same({true}, system.run("step"))
  H.same({"a", "c early"}, table.unpack(log))
  H.same({false}, system.run("step"))
  H.same({"a", "c early", "c woken"}, table.unpack(log))
end)

H.case("an early resume of a coroutine waiting inside pcall", function ()
  local results
  local co = spawn(function ()
    results = H.pack(pcall(system.suspend, 10))
  end)
  assert(coroutine.resume(co, 1, 2))
  H.same({true, 1, 2}, table.unpack(results, 1, results.n))
end)

-- Checks that a coroutine waiting in suspend(s), after finish(co), is
-- collected once the loop has nothing left to do.
local function collectedafter (s, finish)
  local weak = setmetatable({}, {__mode = "k"})
  do
    local co = coroutine.create(system.suspend)
    weak[co] = true
    assert(coroutine.resume(co, s))
    finish(co)
  end
  drain()
  collectgarbage()
  assert(next(weak) == nil, "not collected")
end

H.case("a coroutine resumed early that finishes is collected", function ()
  collectedafter(10, function (co) assert(coroutine.resume(co)) end)
end)

H.case("a coroutine resumed early then yielding is not woken", function ()
  local co = spawn(function ()
    system.suspend(0.001)
    coroutine.yield("mine")
    return "end"
  end)
  H.same({true, "mine"}, coroutine.resume(co))
  H.same({false}, system.run())
  assert(coroutine.status(co) == "suspended")
  H.same({true, "end"}, coroutine.resume(co))
end)

H.case("early resumes back to back", function ()
  local log = {}
  local co = logger(log, 10, 10, 0, 10, 0)
  for i = 1, 5 do assert(coroutine.resume(co, i)) end
  assert(#log == 5 and log[5][1] == 5)
  assert(coroutine.status(co) == "dead")
  H.same({false}, system.run("ready"))
end)

-- --- coroutine.close of a waiting coroutine ---

H.case("closing a coroutine that waits on a timer", function ()
  local co = spawn(system.suspend, 30)
  H.same({true}, coroutine.close(co))
  assert(coroutine.status(co) == "dead")
  -- the timer was stopped: nothing keeps the loop busy
  H.same({false}, system.run("ready"))
end)

H.case("closing a coroutine waiting inside pcall frames", function ()
  local co = spawn(function ()
    pcall(pcall, function () system.suspend(30) end)
  end)
  H.same({true}, coroutine.close(co))
  H.same({false}, system.run("ready"))
end)

H.case("a closed waiter's __close cannot await", function ()
  local errors = {}
  local co = spawn(function ()
    local guard <close> = setmetatable({}, {__close = function ()
      errors[#errors + 1] = select(2, pcall(system.suspend, 0))
      errors[#errors + 1] = select(2, pcall(system.suspend, 30))
    end})
    system.suspend(30)
  end)
  spawn(function ()
    system.suspend(0)
    assert(coroutine.close(co))  -- closed by a coroutine the loop runs
  end)
  drain()
  assert(#errors == 2)
  for _, e in ipairs(errors) do
    assert(string.find(e, "unable to yield", 1, true), e)
  end
end)

H.case("a closed waiter's timer record serves the next suspend", function ()
  for _ = 1, 3 do
    assert(coroutine.close(spawn(system.suspend, 30)))
    local log = {}
    logger(log, 0.001, 0)
    drain()
    assert(#log == 2 and log[1][1] == true and log[2][1] == true)
  end
end)

H.case("closing a coroutine waiting in suspend(0)", function ()
  local after = false
  local co = spawn(system.suspend, 0)
  spawn(function () system.suspend(0) after = true end)
  H.same({true}, coroutine.close(co))
  H.same({false}, system.run("step"))
  assert(after)
end)

-- test/c/reuse.c, built into a temporary directory: runs a new function on
-- a closed coroutine, as only C code can.
local function loadreuse ()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local lib = dir .. "/reuse.so"
  -- the compiler must not inherit a sanitizer runtime preloaded for us
  assert(os.execute("env -u LD_PRELOAD cc -shared -fPIC " ..
                    "$(pkg-config --cflags lua5.4) test/c/reuse.c -o '" ..
                    lib .. "'"), "cannot build test/c/reuse.c")
  local reuse = assert(package.loadlib(lib, "luaopen_reuse"))()
  os.execute("rm -rf '" .. dir .. "'")  -- loaded: the file may go
  return reuse
end

H.case("a closed coroutine reused by C code is not woken by its old wait",
function ()
  local event = require "coutil.event"
  local reuse = loadreuse()
  -- suspend(0) and writes carry no guard: their record learns that its
  -- coroutine was closed only when the wait ends
  local co = spawn(system.suspend, 0)
  assert(coroutine.close(co))
  local got = "nothing"
  H.same({1}, reuse(co, function (...)  -- now waits on an event
    got = table.pack(event.await("reused"))
  end))
  system.run("ready")  -- the old wait ends here: it must not resume 'co'
  assert(got == "nothing", "woken by the old wait")
  assert(coroutine.status(co) == "suspended")
  event.emitall("reused", 42)
  assert(coroutine.status(co) == "dead")
  H.same({"reused", 42}, table.unpack(got, 1, got.n))
  H.same({false}, system.run("ready"))
end)

H.case("closing a waiter from a woken coroutine", function ()
  local victims = {}
  local log = {}
  victims[1] = spawn(function () system.suspend(0) log[#log + 1] = 1 end)
  victims[2] = spawn(function () system.suspend(30) log[#log + 1] = 2 end)
  spawn(function () system.suspend(0) log[#log + 1] = "other" end)
  spawn(function ()  -- queued last: woken first
    system.suspend(0)
    for _, co in ipairs(victims) do
      assert(coroutine.close(co))
    end
    log[#log + 1] = "closer"
  end)
  drain()
  H.same({"closer", "other"}, table.unpack(log))
end)

H.case("closing a waiter runs its to-be-closed variables", function ()
  local closed = 0
  local co = spawn(function ()
    local guard <close> = setmetatable({}, {__close = function ()
      closed = closed + 1
    end})
    system.suspend(0.002)
    closed = closed + 100
  end)
  assert(coroutine.close(co))
  assert(closed == 1)
  drain()
  assert(closed == 1)
end)

H.case("a closed waiter is collected at once", function ()
  collectedafter(30, function (co) assert(coroutine.close(co)) end)
end)

H.case("many close and suspend cycles", function ()
  for round = 1, 20 do
    local cos = {}
    for i = 1, 50 do
      cos[i] = spawn(system.suspend, (i % 3) / 1000)
    end
    for i = 1, 50, 2 do assert(coroutine.close(cos[i])) end
    if round % 2 == 0 then drain() end
  end
  drain()
end)

-- --- garbage collection ---

H.case("a waiting coroutine with no reference is kept alive", function ()
  local weak = setmetatable({}, {__mode = "k"})
  local finished = 0
  for _, s in ipairs{0, 0.002} do
    local co = coroutine.create(function ()
      system.suspend(s)
      finished = finished + 1
    end)
    weak[co] = s
    H.track(co)
    assert(coroutine.resume(co))
  end
  collectgarbage()
  collectgarbage()
  local alive = 0
  for _ in pairs(weak) do alive = alive + 1 end
  assert(alive == 2, "a waiting coroutine was collected")
  drain()
  assert(finished == 2)
end)

H.case("values on a waiting coroutine's stack stay alive", function ()
  local got
  spawn(function ()
    local t = {}
    for i = 1, 100 do t[i] = string.rep("x", i) end
    system.suspend(0.001)
    got = #t[100]
  end)
  collectgarbage()
  drain()
  assert(got == 100)
end)

H.case("a full GC inside a wake-up", function ()
  local count = 0
  for i = 1, 50 do
    spawn(function ()
      system.suspend(i % 2 == 0 and 0 or 0.001)
      collectgarbage()
      system.suspend(0)
      collectgarbage("step")
      count = count + 1
    end)
  end
  drain()
  assert(count == 50)
end)

H.case("finalizers that call system functions during a wake-up",
function ()
  local seen = {}
  local sleeper = spawn(function ()
    seen.sleeper = H.pack(system.suspend(10))
  end)
  local closed = spawn(system.suspend, 30)
  local function garbage ()
    setmetatable({}, {__gc = function ()
      seen.nanosecs = math.type(system.nanosecs())
      seen.time = type(system.time())
      seen.updated = type(system.time("updated"))
      seen.running = system.isrunning()
      seen.blocking = system.suspend(0.001, "~")
      seen.suspend = select(2, pcall(system.suspend, 0))
      seen.run = select(2, pcall(system.run, "ready"))
      seen.resume = H.pack(coroutine.resume(sleeper, "from __gc"))
      seen.close = coroutine.close(closed)
    end})
  end
  spawn(function ()
    system.suspend(0)
    garbage()
    collectgarbage()
  end)
  drain()
  assert(seen.nanosecs == "integer" and seen.time == "number")
  assert(seen.updated == "number")
  assert(seen.running == true and seen.blocking == true)
  assert(string.find(seen.suspend, "unable to yield", 1, true), seen.suspend)
  assert(string.find(seen.run, "already running", 1, true), seen.run)
  H.same({true}, table.unpack(seen.resume, 1, seen.resume.n))
  H.same({"from __gc"}, table.unpack(seen.sleeper, 1, seen.sleeper.n))
  assert(seen.close == true)
end)

H.case("finalizers that resume waiters outside the loop", function ()
  local got
  local sleeper = spawn(function () got = system.suspend(10) end)
  setmetatable({}, {__gc = function ()
    coroutine.resume(sleeper, "gc")
  end})
  collectgarbage()
  assert(got == "gc")
  H.same({false}, system.run("ready"))
end)

H.case("many unreferenced waiters survive a GC", function ()
  local done = 0
  for i = 1, 1000 do
    local co = coroutine.create(function ()
      system.suspend((i % 4) / 1000)
      done = done + 1
    end)
    assert(coroutine.resume(co))
  end
  collectgarbage()
  collectgarbage()
  drain()
  assert(done == 1000)
end)

H.case("waiters under the generational collector", function ()
  local old = collectgarbage("generational")
  local ok, err = pcall(function ()
    local done = 0
    local cos = {}
    for i = 1, 200 do
      cos[i] = coroutine.create(function ()
        system.suspend(i % 2 == 0 and 0 or 0.001)
        collectgarbage("step")
        done = done + 1
      end)
      assert(coroutine.resume(cos[i]))
    end
    cos = nil
    collectgarbage()
    drain()
    assert(done == 200, done)
  end)
  collectgarbage(old)
  assert(ok, err)
end)

-- --- where an await can yield ---

H.case("suspend inside pcall, metamethods and iterators", function ()
  local log = {}
  local mt = {
    __index = function (_, k) return system.suspend(0) and k end,
    __add = function () return system.suspend(0.001) and "add" end,
    __lt = function () system.suspend() return true end,
    __concat = function () return system.suspend(0) and "cat" end,
  }
  spawn(function ()
    local obj = setmetatable({}, mt)
    log[#log + 1] = select(2, pcall(system.suspend, 0))
    log[#log + 1] = obj.field
    log[#log + 1] = obj + 1
    log[#log + 1] = obj < obj
    log[#log + 1] = obj .. "x"
    for v in function (_, i)
      if i < 2 then system.suspend(0) return i + 1 end
    end, nil, 0 do
      log[#log + 1] = v
    end
  end)
  drain()
  H.same({true, "field", "add", true, "cat", 1, 2}, table.unpack(log))
end)

H.case("suspend inside coroutine.wrap and nested coroutines", function ()
  local log = {}
  local outer = H.track(coroutine.create(function ()
    local inner = coroutine.create(function ()
      system.suspend(0.001)
      log[#log + 1] = "inner woken"
    end)
    assert(coroutine.resume(inner))  -- inner now waits on its own
    log[#log + 1] = "outer goes on"
    coroutine.wrap(function ()
      system.suspend(0)
      log[#log + 1] = "wrapped woken"
    end)()
  end))
  H.same({true}, coroutine.resume(outer))  -- ends without waiting
  drain()
  table.sort(log)
  H.same({"inner woken", "outer goes on", "wrapped woken"},
         table.unpack(log))
end)

H.case("an error after a wake-up inside pcall is caught", function ()
  local result
  spawn(function ()
    result = H.pack(pcall(function ()
      system.suspend(0)
      error("caught", 0)
    end))
  end)
  drain()
  H.same({false, "caught"}, table.unpack(result, 1, result.n))
end)

-- --- volume ---

H.case("10,000 coroutines x 10 suspend(0)", function ()
  local count = 0
  for _ = 1, 10000 do
    local co = coroutine.create(function ()
      for _ = 1, 10 do system.suspend(0) end
      count = count + 1
    end)
    assert(coroutine.resume(co))
  end
  drain(120)
  assert(count == 10000)
end)

H.case("1,000 timers wake shortest first", function ()
  local woken = {}
  for i = 1, 1000 do
    local s = ((i * 7919) % 50 + 1) / 1000
    spawn(function ()
      system.suspend(s)
      woken[#woken + 1] = s
    end)
  end
  drain(60)
  assert(#woken == 1000)
  for i = 2, #woken do assert(woken[i - 1] <= woken[i]) end
end)

H.case("1,000 equal timers wake in call order", function ()
  local woken = {}
  for i = 1, 1000 do
    spawn(function ()
      system.suspend(0.005)
      woken[#woken + 1] = i
    end)
  end
  drain(60)
  assert(#woken == 1000)
  for i = 1, 1000 do assert(woken[i] == i) end
end)

-- Deadlines are buckets of a hash table (time.c): many distinct ones,
-- started in waves while others wake and others are stopped, exercise
-- its growth and its deletions.
H.case("timers of many deadlines wake by deadline, then by start",
function ()
  local seed = 4242
  local function random (n)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  end
  local woken, started, cos = {}, 0, {}
  for wave = 1, 4 do
    for _ = 1, 1500 do
      started = started + 1
      local order = started
      local ms = 1 + random(300)
      local due = math.floor(system.time() * 1000 + 0.5) + ms
      cos[#cos + 1] = spawn(function ()
        system.suspend(ms / 1000)
        woken[#woken + 1] = {due = due, order = order}
      end)
    end
    for _ = 1, 500 do  -- stop some, wherever they are in their bucket
      local co = cos[random(#cos) + 1]
      if coroutine.status(co) == "suspended" then
        assert(coroutine.close(co))
      end
    end
    system.suspend(0.02 * wave, "~")  -- some become due meanwhile
    system.run("step")
  end
  drain(60)
  assert(#woken > 3000, #woken)
  for i = 2, #woken do
    local a, b = woken[i - 1], woken[i]
    assert(a.due < b.due or (a.due == b.due and a.order < b.order),
           string.format("%d: %d/%d then %d/%d", i, a.due, a.order,
                         b.due, b.order))
  end
end)

H.case("churn of early resumes, closes and wake-ups", function ()
  local seed = 12345
  local function random (n)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  end
  local waiting = {}
  local finished = 0
  for _ = 1, 3000 do
    local action = random(4)
    if action == 0 or #waiting == 0 then
      waiting[#waiting + 1] = spawn(function ()
        for _ = 1, 3 do system.suspend(random(3) / 1000) end
        finished = finished + 1
      end)
    elseif action == 1 then
      local co = table.remove(waiting, random(#waiting) + 1)
      if coroutine.status(co) == "suspended" then
        assert(coroutine.resume(co, "early"))
        waiting[#waiting + 1] = co
      end
    elseif action == 2 then
      local co = table.remove(waiting, random(#waiting) + 1)
      assert(coroutine.close(co))
    else
      system.run("ready")
    end
  end
  drain(60)
  for _, co in ipairs(waiting) do
    assert(coroutine.status(co) == "dead")
  end
  assert(finished > 0)
end)

-- A waiting frame's guard is a light userdata (the record's id) that the
-- loop gives a __close metamethod; other light userdata stay harmless.
H.case("a light userdata of other code closed as to-be-closed is let be",
function ()
  local up = 1
  local lud = debug.upvalueid(function () return up end, 1)
  assert(type(lud) == "userdata")
  local co = spawn(system.suspend, 60)
  do local x <close> = lud end  -- not a record's mark: nothing happens
  local ok, err = pcall(function ()
    local y <close> = lud
    error("oops")
  end)
  assert(not ok and err:find("oops", 1, true))
  assert(coroutine.status(co) == "suspended")
  assert(coroutine.close(co))
  H.same({false}, system.run())  -- its timer stopped: nothing keeps the loop
end)

H.case("closing thousands of waiters across many slabs of records",
function ()
  local cos = {}
  for i = 1, 3000 do  -- timers, suspend(0), events: three kinds of record
    local kind = i % 3
    if kind == 0 then cos[i] = spawn(system.suspend, 60)
    elseif kind == 1 then cos[i] = spawn(system.suspend, 0)
    else cos[i] = spawn(require("coutil.event").await, {}) end
  end
  for i = 1, #cos, 2 do assert(coroutine.close(cos[i])) end
  for i = 2, #cos, 2 do
    if coroutine.status(cos[i]) == "suspended" then
      assert(coroutine.close(cos[i]))
    end
  end
  H.same({false}, system.run())
end)

H.done()
