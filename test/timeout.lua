-- test/timeout.lua: coutil.timeout (timeout.call) against every kind of
-- await function, nested calls, a timeout that coincides with the end of
-- the operation, the garbage collector, coroutine.close, and the timer's
-- life: it never outlives its call. Every case checks that the process
-- holds the same descriptors after it as before.

local H = require "helpers"
local system = require "coutil.system"
local timeout = require "coutil.timeout"
local event = require "coutil.event"
local queued = require "coutil.queued"
local mutex = require "coutil.mutex"
local promise = require "coutil.promise"
local channel = require "coutil.channel"
local T = dofile("test/socket/common.lua")
local memory = T.memory

local ETIMEDOUT = 110
local TIMEDOUT = {false, "timeout", ETIMEDOUT}

local function now () return system.nanosecs() / 1e9 end

-- Descriptors libuv opens once, on first use (the reserve descriptor of
-- a listening socket, the signal pipe of child processes): opened here,
-- before any case counts descriptors.
do
  local co = coroutine.create(function ()
    local srv = assert(system.socket("passive", "ipv4"))
    assert(srv:bind(T.addr()))
    assert(srv:listen(1))
    srv:close()
    if T.subprocesses then system.execute("true") end
  end)
  assert(coroutine.resume(co))
  H.drain(10)
  assert(coroutine.status(co) == "dead")
end

-- H.case, plus: the loop is drained and the descriptors are back to what
-- they were before the case
local function case (name, f)
  H.case(name, function ()
    local before = H.fds()
    f()
    H.drain(10)
    local after = H.fds()
    assert(after == before, "descriptors: before " .. before ..
                            ", after " .. after)
  end)
end

-- Runs f in a coroutine under the loop (T.run: errors keep their
-- traceback, the whole run is bounded in time).
local function run (f, secs) T.run(f, secs or 20) end

-- Calls f(...) and returns the elapsed seconds followed by its results.
local function timed (f, ...)
  local t0 = now()
  local r = H.pack(f(...))
  return now() - t0, table.unpack(r, 1, r.n)
end

-- Timers count from the loop's cached time (system.time("cached")), which
-- may lag real time by what the last round spent: elapsed real times may
-- come out that much shorter; under a slow interpreter (COUTIL_LUA: the
-- torture build) a round takes far longer.
local SLACK = os.getenv("COUTIL_LUA") and 0.15 or 0.03

-- After a timeout: a later, unrelated suspend is not cut short.
local function fullsuspend (secs)
  local dt, ok = timed(system.suspend, secs)
  assert(ok == true, "a later suspend was cut short: " .. tostring(ok))
  assert(dt >= secs - SLACK, "a later suspend took only " .. dt)
end

-- Checks that 'dt' is the timeout's time (not much earlier, nor later).
local function near (dt, secs)
  assert(dt >= secs - SLACK, "the timeout came early: " .. dt)
  assert(dt < secs + 2, "the timeout came late: " .. dt)
end

-- --- arguments and calls that never wait --------------------------------

case("timeout: arguments", function ()
  H.raises("out of range", timeout.call, -1, print)
  H.raises("out of range", timeout.call, -0.001, print)
  H.raises("out of range", timeout.call, 0/0, print)
  H.raises("number expected", timeout.call, "x", print)
  H.raises("number expected", timeout.call, nil, print)
  H.raises("number expected", timeout.call, {}, print)
  run(function ()
    H.raises("out of range", timeout.call, -1, print)
    H.raises("out of range", timeout.call, 0/0, print)
    H.raises("number expected", timeout.call, "x", print)
    H.raises("number expected", timeout.call, true, print)
  end)
end)

case("timeout: outside a coroutine it just calls f", function ()
  H.same({1, nil, 3, n = 3}, timeout.call(0, function (...) return ... end,
                                          1, nil, 3))
  H.same({n = 0}, timeout.call(1, function () end))
  H.raises("oops", timeout.call, 1, error, "oops")
  -- an await needs a coroutine, timeout or not
  H.raises("unable to yield", timeout.call, 0.01, system.suspend, 1)
  H.same({false}, system.run("ready"))
end)

case("timeout: f's results, varargs and errors in a coroutine", function ()
  run(function ()
    H.same({1, nil, 3, n = 3},
           timeout.call(1, function (...) return ... end, 1, nil, 3))
    H.same({n = 0}, timeout.call(1, function () end))
    H.same({"a", "b"}, timeout.call(1, string.match, "ab", "(a)(b)"))
    -- errors come through with their value untouched
    local obj = {}
    local ok, err = pcall(timeout.call, 1, error, obj)
    H.same({false, obj}, ok, err)
    H.raises("bad", timeout.call, 1, function () system.suspend(0)
                                                 error("bad") end)
    H.raises("attempt to call", timeout.call, 1, 42)
    -- zero seconds: f still runs; an await in it times out at once
    H.same({true}, timeout.call(0, function () return true end))
    H.same(TIMEDOUT, timeout.call(0, system.suspend, 5))
    fullsuspend(0.2)
  end)
end)

-- --- suspend, and the life of the timer ---------------------------------

case("timeout: suspend is cut short", function ()
  run(function ()
    local dt, a, b, c = timed(timeout.call, 0.1, system.suspend, 10)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    fullsuspend(0.2)
  end)
end)

case("timeout: an operation that ends in time", function ()
  run(function ()
    H.same({true, "done"}, timeout.call(0.5, function ()
      return system.suspend(0.05), "done"
    end))
    fullsuspend(0.7)  -- well past the call's 0.5 s
  end)
end)

case("timeout: fires at most once; the awaits after it run", function ()
  run(function ()
    local results = H.pack(timeout.call(0.05, function ()
      local first = H.pack(system.suspend(5))
      local dt, second = timed(system.suspend, 0.2)
      return first, second, dt
    end))
    local first, second, dt = table.unpack(results, 1, 3)
    H.same(TIMEDOUT, table.unpack(first, 1, first.n))
    H.same({true}, second)
    assert(dt >= 0.2 - SLACK, dt)
  end)
end)

case("timeout: the timer stops when f raises", function ()
  run(function ()
    H.raises("gone", timeout.call, 0.1, function ()
      system.suspend(0.01)
      error("gone")
    end)
    fullsuspend(0.3)
    H.raises("at once", timeout.call, 0.1, error, "at once")
    fullsuspend(0.3)
  end)
end)

case("timeout: many calls one after the other", function ()
  run(function ()
    for i = 1, 50 do
      H.same({i}, timeout.call(0.05, function () system.suspend(0)
                                                 return i end))
    end
    for _ = 1, 5 do H.same(TIMEDOUT, timeout.call(0.01, system.suspend, 5)) end
    fullsuspend(0.2)
  end)
end)

-- --- sockets --------------------------------------------------------------

case("timeout: TCP accept, connect, read with a server that never answers",
function ()
  run(function ()
    local srv = assert(system.socket("passive", "ipv4"))
    assert(srv:bind(T.addr()))
    assert(srv:listen(4))
    -- accept: nobody connects
    local dt, a, b, c = timed(timeout.call, 0.1, srv.accept, srv)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    -- connect: the kernel completes it from the backlog, in time
    local cli = assert(system.socket("stream", "ipv4"))
    H.same({true}, timeout.call(2, cli.connect, cli, srv:getaddress()))
    -- read: the server never accepts nor writes
    local buf = memory.create(16)
    dt, a, b, c = timed(timeout.call, 0.1, cli.read, cli, buf)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    -- the socket still works: accept, write, read
    local conn = assert(timeout.call(2, srv.accept, srv))
    assert(conn:write("hi"))
    H.same({2}, timeout.call(2, cli.read, cli, buf))
    assert(T.str(buf, 1, 2) == "hi")
    -- a second read times out again
    H.same(TIMEDOUT, timeout.call(0.05, cli.read, cli, buf))
    T.closeall(conn, cli, srv)
    fullsuspend(0.2)
  end)
end)

-- --- files ----------------------------------------------------------------

case("timeout: reading a FIFO that has no data", function ()
  local path = os.tmpname()
  os.remove(path)
  assert(os.execute("mkfifo " .. path))
  run(function ()
    -- read and write: opening never waits for a writer
    local f = assert(system.openfile(path, "rw"))
    local buf = memory.create(8)
    local dt, a, b, c = timed(timeout.call, 0.1, f.read, f, buf)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    -- the read may go on in a worker thread: give it data, so that it
    -- ends, then let it finish
    local w = assert(io.open(path, "w"))
    w:write("x")
    w:flush()
    system.suspend(0.1)
    -- data there: a read under a timeout gets it
    w:write("yz")
    w:flush()
    local n = timeout.call(2, f.read, f, buf)
    assert(n == 2 or n == 3, tostring(n))  -- "x" may still be there
    w:close()
    assert(f:close())
    fullsuspend(0.2)
  end)
  os.remove(path)
end)

-- --- processes ------------------------------------------------------------

T.childcase("timeout: execute of sleep 5 (the child keeps running)",
function ()
  local before = H.fds()
  run(function ()
    local cmd = {execfile = "sleep", arguments = {"5"}}
    local dt, a, b, c = timed(timeout.call, 0.1, system.execute, cmd)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    assert(math.type(cmd.pid) == "integer", tostring(cmd.pid))
    -- still running: it can be signalled
    assert(system.emitsig(cmd.pid, 0) ~= nil)
    assert(system.emitsig(cmd.pid, "TERMINATE"))
    fullsuspend(0.2)
  end)
  -- reaped: the loop has nothing left (the sleep would take 5 s)
  local t0 = now()
  H.drain(3)
  assert(now() - t0 < 3)
  H.same({false}, system.run("ready"))
  assert(H.fds() == before)
end)

-- --- channels, events, queued events, mutexes, promises ------------------

case("timeout: awaitch on a channel nobody sends to", function ()
  run(function ()
    local ch = channel.create("timeout.test.nobody")
    local dt, a, b, c = timed(timeout.call, 0.1, system.awaitch, ch, "in")
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    -- no longer waiting on it: a matching call does not meet it
    local ch2 = channel.create("timeout.test.nobody")
    H.same(TIMEDOUT, timeout.call(0.05, system.awaitch, ch2, "out", 1))
    ch:close()
    ch2:close()
    fullsuspend(0.2)
  end)
end)

case("timeout: event.await", function ()
  run(function ()
    local e = {}
    local dt, a, b, c = timed(timeout.call, 0.1, event.await, e)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    H.same({false}, event.pending(e))
    H.same({false}, event.emitone(e))  -- nobody waits any more
    H.same(TIMEDOUT, timeout.call(0.05, event.awaitany, e, {}))
    H.same(TIMEDOUT, timeout.call(0.05, event.awaitall, e, {}))
    H.same({false}, event.pending(e))
    fullsuspend(0.2)
  end)
end)

case("timeout: queued.await", function ()
  run(function ()
    local e = {}
    H.same(TIMEDOUT, timeout.call(0.1, queued.await, e))
    H.same({false}, queued.pending(e))
    -- an event emitted now is stored, not given to the late waiter
    H.same({false}, queued.emitone(e, "v"))
    H.same({true}, queued.isqueued(e))
    H.same({e, "v"}, timeout.call(1, queued.await, e))
    fullsuspend(0.2)
  end)
end)

-- mutex.lock is not one of the manual's await functions: a lock waiter
-- resumed early queues up again (src/mutex.c), so a timeout may also
-- leave it waiting until the lock comes free. Either way the timer
-- fires once, and ownership matches what lock returned.
case("timeout: mutex.lock held by another coroutine", function ()
  run(function ()
    local m = {}
    local holder = coroutine.create(function ()
      mutex.lock(m)
      system.suspend(0.3)
      mutex.unlock(m)
    end)
    assert(coroutine.resume(holder))
    assert(mutex.islocked(m))
    local dt, a, b, c = timed(timeout.call, 0.1, mutex.lock, m)
    if a == true then  -- it waited on: the lock is ours after the holder
      assert(b == nil and c == nil, tostring(b))
      assert(dt >= 0.3 - SLACK, dt)
      H.same({true}, mutex.ownlock(m))
      mutex.unlock(m)
    else
      H.same(TIMEDOUT, a, b, c)
      near(dt, 0.1)
      H.same({false}, mutex.ownlock(m))
    end
    -- the unlock resumed us from inside the holder: let it end
    for _ = 1, 100 do
      if coroutine.status(holder) == "dead" then break end
      system.suspend(0.01)
    end
    assert(coroutine.status(holder) == "dead")
    H.same({false}, mutex.islocked(m))
    -- now free: locking it under a timeout works at once
    H.same({true}, timeout.call(1, mutex.lock, m))
    H.same({true}, mutex.ownlock(m))
    mutex.unlock(m)
    fullsuspend(0.2)
  end)
end)

case("timeout: a promise nobody fulfills in time", function ()
  run(function ()
    local p, fulfill = promise.create()
    local dt, a, b, c = timed(timeout.call, 0.1, p)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.1)
    H.same({false}, p(true))
    H.same(TIMEDOUT, timeout.call(0.05, promise.awaitany, p))
    H.same(TIMEDOUT, timeout.call(0.05, promise.awaitall, p))
    H.same({true}, fulfill("late", 2))
    H.same({"late", 2}, timeout.call(1, p))
    fullsuspend(0.2)
  end)
end)

-- --- nested calls ---------------------------------------------------------

case("timeout: nested, the inner one fires first", function ()
  run(function ()
    local dt, inner, after, outer = timed(timeout.call, 0.5, function ()
      local r = H.pack(timeout.call(0.05, system.suspend, 5))
      return r, system.suspend(0.1), "outer"
    end)
    H.same(TIMEDOUT, table.unpack(inner, 1, inner.n))
    H.same({true, "outer"}, after, outer)
    assert(dt < 0.45, dt)
    fullsuspend(0.6)  -- the outer timer is gone too
  end)
end)

case("timeout: nested, the outer one fires first", function ()
  run(function ()
    local dt, a, b, c = timed(timeout.call, 0.05, function ()
      local r = H.pack(timeout.call(5, system.suspend, 10))
      return table.unpack(r, 1, r.n)
    end)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.05)
  end)
  -- the inner 5 s timer went with its call: nothing is left
  local t0 = now()
  H.drain(3)
  assert(now() - t0 < 1, now() - t0)
end)

case("timeout: nested, the outer fires while the inner waits on", function ()
  run(function ()
    local trail = {}
    H.same({"outer done"}, timeout.call(0.05, function ()
      local r = H.pack(timeout.call(0.3, function ()
        trail[#trail + 1] = H.pack(system.suspend(5))  -- outer fires
        trail[#trail + 1] = H.pack(system.suspend(5))  -- inner fires
        return "inner done"
      end))
      trail[#trail + 1] = r
      return "outer done"
    end))
    H.same(TIMEDOUT, table.unpack(trail[1], 1, trail[1].n))
    H.same(TIMEDOUT, table.unpack(trail[2], 1, trail[2].n))
    H.same({"inner done"}, table.unpack(trail[3], 1, trail[3].n))
    fullsuspend(0.4)
  end)
end)

case("timeout: a deep nest of calls", function ()
  run(function ()
    local function nest (depth)
      if depth == 0 then return system.suspend(5) end
      return timeout.call(0.05 * depth, nest, depth - 1)
    end
    local dt, a, b, c = timed(nest, 20)
    H.same(TIMEDOUT, a, b, c)
    near(dt, 0.05)
    fullsuspend(0.2)
  end)
end)

-- --- a timeout at the very moment the operation ends -----------------------

case("timeout: fires just as the operation completes", function ()
  run(function ()
    local seen = {}
    for _ = 1, 20 do
      local hits = 0
      local r = H.pack(timeout.call(0.05, function ()
        local got = H.pack(system.suspend(0.05))
        hits = hits + 1
        return table.unpack(got, 1, got.n)
      end))
      assert(hits == 1)
      if r[1] == true then
        H.same({true}, table.unpack(r, 1, r.n))
        seen.done = true
      else
        H.same(TIMEDOUT, table.unpack(r, 1, r.n))
        seen.timeout = true
      end
      -- no later await is hit by that timer
      H.same({true}, system.suspend(0.06))
    end
    fullsuspend(0.2)
  end)
end)

case("timeout: coincides with an event emitted by another coroutine",
function ()
  run(function ()
    for _ = 1, 10 do
      local e = {}
      local emitter = coroutine.create(function ()
        system.suspend(0.05)
        event.emitone(e, "v")
      end)
      assert(coroutine.resume(emitter))
      local r = H.pack(timeout.call(0.05, event.await, e))
      assert(r[1] == e or (r[1] == false and r[2] == "timeout"), r[1])
      H.same({true}, system.suspend(0.1))
      assert(coroutine.status(emitter) == "dead")
    end
  end)
end)

-- --- the garbage collector and abandoned coroutines ------------------------

case("timeout: full collections while timeouts are pending", function ()
  run(function ()
    local results = {}
    for i = 1, 5 do
      local co = H.track(coroutine.create(function ()
        results[i] = H.pack(timeout.call(0.05 * i, event.await, {}))
      end))
      assert(coroutine.resume(co))
    end
    local gc = coroutine.create(function ()
      for _ = 1, 20 do
        collectgarbage("collect")
        system.suspend(0.02)
      end
    end)
    assert(coroutine.resume(gc))
    for _ = 1, 100 do
      if results[5] and coroutine.status(gc) == "dead" then break end
      system.suspend(0.02)
    end
    for i = 1, 5 do H.same(TIMEDOUT, table.unpack(results[i], 1, 3)) end
  end)
end)

case("timeout: a coroutine abandoned inside timeout.call", function ()
  local done = {}
  do
    -- nothing refers to these coroutines: the timer keeps them going
    local co = H.track(coroutine.create(function ()
      done.suspend = H.pack(timeout.call(0.05, system.suspend, 5))
    end))
    assert(coroutine.resume(co))
    co = H.track(coroutine.create(function ()
      done.event = H.pack(timeout.call(0.05, event.await, {}))
    end))
    assert(coroutine.resume(co))
    co = nil
  end
  collectgarbage("collect")
  collectgarbage("collect")
  local t0 = now()
  H.drain(3)
  assert(now() - t0 < 2)
  H.same(TIMEDOUT, table.unpack(done.suspend, 1, 3))
  H.same(TIMEDOUT, table.unpack(done.event, 1, 3))
  -- H.case then checks that both were collected
end)

-- --- coroutine.close ----------------------------------------------------

case("timeout: coroutine.close stops the timer", function ()
  for _, await in ipairs{function () return system.suspend(10) end,
                         function () return event.await({}) end} do
    local after = false
    local co = H.track(coroutine.create(function ()
      timeout.call(5, await)
      after = true
    end))
    assert(coroutine.resume(co))
    assert(coroutine.status(co) == "suspended")
    H.same({true}, coroutine.close(co))
    local t0 = now()
    H.same({false}, system.run())
    assert(now() - t0 < 1, "the loop ran on for " .. (now() - t0))
    assert(not after)
  end
  -- closed inside a nest of calls
  local co = H.track(coroutine.create(function ()
    timeout.call(5, timeout.call, 6, timeout.call, 7, system.suspend, 10)
  end))
  assert(coroutine.resume(co))
  H.same({true}, coroutine.close(co))
  local t0 = now()
  H.same({false}, system.run())
  assert(now() - t0 < 1)
end)

case("timeout: a later suspend in another coroutine is never cut short",
function ()
  run(function ()
    local co = coroutine.create(function ()
      timeout.call(0.1, event.await, {})
    end)
    assert(coroutine.resume(co))
    assert(coroutine.close(co))
    fullsuspend(0.3)  -- in this coroutine, past the closed call's 0.1 s
    H.same(TIMEDOUT, timeout.call(0.05, system.suspend, 1))
    local other = T.spawn(function () return timed(system.suspend, 0.2) end)
    local dt, ok = T.join(other)
    H.same({true}, ok)
    assert(dt >= 0.2 - SLACK, dt)
  end)
end)

-- --- the coroutine dies or runs the loop itself ---------------------------

-- In a child process: a hang there is a failure, not a stuck suite.
local function child (code)
  local ok, out, status = H.runlua([[
    local system = require "coutil.system"
    local timeout = require "coutil.timeout"
    local function now () return system.nanosecs() / 1e9 end
  ]] .. code, "timeout -k 2 20")
  assert(status ~= 124 and status ~= 137, "child hung:\n" .. out)
  assert(ok, out)
  assert(not out:find("Sanitizer", 1, true), out)
  assert(not out:find("runtime error:", 1, true), out)
  return out
end

T.childcase("timeout: a coroutine that dies of f's error under resume",
function ()
  local out = child([[
    -- no pcall around the call: the coroutine dies with the error
    local co = coroutine.create(function ()
      timeout.call(0.2, function () error("x") end)
    end)
    local ok, err = coroutine.resume(co)
    assert(not ok and err:find("x"), err)
    local co2 = coroutine.create(function ()
      timeout.call(0.2, function () system.suspend(0.01) error("y") end)
    end)
    assert(coroutine.resume(co2))
    local t0 = now()
    for i = 1, 100 do
      if not system.run("step") then break end
      assert(now() - t0 < 5, "the loop does not stop")
    end
    assert(coroutine.status(co) == "dead")
    assert(coroutine.status(co2) == "dead")
    -- a later, unrelated suspend is not cut short
    coroutine.wrap(function ()
      local t = now()
      assert(system.suspend(0.3) == true)
      assert(now() - t >= 0.29)
      print("later suspend ok")
    end)()
    system.run()
    print("done", now() - t0 < 3)
  ]])
  assert(out:find("later suspend ok", 1, true), out)
  assert(out:find("done\ttrue", 1, true), out)
end)

T.childcase("timeout: f runs the loop itself", function ()
  local out = child([[
    io.stdout:setvbuf("no")
    -- this coroutine is the loop's runner while it steps: the timeout
    -- cannot resume it then; it comes at its next await
    local co = coroutine.create(function ()
      return timeout.call(0.05, function ()
        local t = now()
        for _ = 1, 20 do system.run("step") end
        assert(now() - t < 5, "steps took too long")
        print("steps ok")
        local r = table.pack(system.suspend(5))
        return table.unpack(r, 1, r.n)
      end)
    end)
    local other = coroutine.wrap(function ()  -- keeps the loop stepping
      for _ = 1, 20 do system.suspend(0.01) end
    end)
    other()
    assert(coroutine.resume(co))
    local t0 = now()
    system.run()
    print("ran", now() - t0 < 3, coroutine.status(co))
  ]])
  assert(out:find("steps ok", 1, true), out)
  assert(out:find("ran\ttrue\tdead", 1, true), out)
end)

-- --- the state closes with a timeout pending -----------------------------

T.childcase("timeout: lua_close with calls pending", function ()
  local out = child([[
    local event = require "coutil.event"
    for i = 1, 3 do
      coroutine.wrap(function ()
        timeout.call(i, event.await, {})
      end)()
      coroutine.wrap(function ()
        timeout.call(5, system.suspend, 10)
      end)()
    end
    system.run("ready")
    print("leaving")
  ]])
  assert(out:find("leaving", 1, true), out)
end)

H.done()
