-- test/spawn.lua: coutil.spawn (manual: "Coroutine Finalizers").
local H = require "helpers"
local spawn = require "coutil.spawn"
local event = require "coutil.event"

local function unpacked (t) return table.unpack(t, 1, t.n) end

local function never () error("handler called") end

H.case("catch runs f at once with its arguments", function ()
  local got
  local co = H.track(spawn.catch(never, function (...)
    got = H.pack(...)
    return "ignored"
  end, 1, nil, 3))
  assert(type(co) == "thread" and coroutine.status(co) == "dead")
  H.same({1, nil, 3, n = 3}, unpacked(got))
end)

H.case("catch calls h with the error, in the error's context", function ()
  local got, trace
  local co = H.track(spawn.catch(function (err)
    got = err
    trace = debug.traceback("tb", 1)
    return "handled"
  end, function ()
    local function deepinner () error("boom", 0) end
    deepinner()
  end))
  assert(coroutine.status(co) == "dead")
  assert(got == "boom")
  assert(trace:find("deepinner", 1, true), trace)
end)

H.case("catch passes any error value", function ()
  local obj, got = {}, nil
  H.track(spawn.catch(function (err) got = err end, error, obj))
  assert(got == obj)
end)

H.case("f may await; errors after a yield reach h in context", function ()
  local e, got, trace = {}, nil, nil
  local co = spawn.catch(function (err)
    got = err
    trace = debug.traceback()
  end, function (x)
    local function waitthenfail ()
      local _, v = event.await(e)
      error(x .. v, 0)
    end
    waitthenfail()
  end, "late ")
  H.track(co)
  assert(coroutine.status(co) == "suspended")
  assert(event.emitone(e, "boom") == true)
  assert(coroutine.status(co) == "dead")
  assert(got == "late boom")
  assert(trace:find("waitthenfail", 1, true), trace)
end)

H.case("a caught coroutine can be resumed by hand", function ()
  local co = H.track(spawn.catch(never, function (a)
    local b = coroutine.yield(a + 1)
    return b
  end, 1))
  assert(coroutine.status(co) == "suspended")
  H.same({true, 5}, coroutine.resume(co, 5))
  assert(coroutine.status(co) == "dead")
end)

H.case("trap calls h(true, results) on success", function ()
  local got
  local co = H.track(spawn.trap(function (...) got = H.pack(...) end,
    function (a, b) return b, nil, a end, "a", "b"))
  assert(coroutine.status(co) == "dead")
  H.same({true, "b", nil, "a", n = 4}, unpacked(got))
end)

H.case("a trapped coroutine returns what h returns", function ()
  local co = H.track(spawn.trap(function (ok, v)
    return ok, coroutine.yield(v)
  end, function () return "r" end))
  assert(coroutine.status(co) == "suspended")
  H.same({true, true, 1, 2}, coroutine.resume(co, 1, 2))
  local co2 = H.track(spawn.catch(never, function ()
    return coroutine.yield()
  end))
  H.same({true, "x", "y"}, coroutine.resume(co2, "x", "y"))
  local co3 = H.track(spawn.catch(function () return "h" end, function ()
    coroutine.yield()
    error("e")
  end))
  H.same({true}, coroutine.resume(co3))
end)

H.case("trap after yields, and h may await too", function ()
  local e, f, got = {}, {}, nil
  local co = H.track(spawn.trap(function (...)
    event.await(f)
    got = H.pack(...)
  end, function ()
    local _, v = event.await(e)
    return v
  end))
  assert(event.emitone(e, 42) == true)
  assert(coroutine.status(co) == "suspended")
  assert(event.emitone(f) == true)
  H.same({true, 42}, unpacked(got))
  assert(coroutine.status(co) == "dead")
end)

H.case("trap calls h(false, err) in the error's context", function ()
  local got, trace
  local co = H.track(spawn.trap(function (...)
    got = H.pack(...)
    trace = debug.traceback()
  end, function ()
    local function trapinner () error({code = 1}) end
    trapinner()
  end))
  assert(coroutine.status(co) == "dead")
  assert(got.n == 2 and got[1] == false and got[2].code == 1)
  assert(trace:find("trapinner", 1, true), trace)
end)

H.case("an error in h kills the coroutine with a warning", function ()
  local ok, out = H.runlua([[
    warn("@on")
    local spawn = require "coutil.spawn"
    local co = spawn.catch(function (err) error("handler failed") end,
                           error, "first")
    print("status", coroutine.status(co))
    co = spawn.trap(function (ok) error("trap handler " .. tostring(ok)) end,
                    function () end)
    print("status", coroutine.status(co))
  ]])
  assert(ok, out)
  assert(out:find("coutil: unhandled error in coroutine: ", 1, true), out)
  assert(out:find("trap handler true", 1, true), out)
  assert(select(2, out:gsub("status\tdead", "")) == 2, out)
end)

H.case("an error in h after a yield goes to the resumer", function ()
  local co = H.track(spawn.trap(function () error("h fails", 0) end,
    function () coroutine.yield() end))
  H.same({false, "h fails"}, coroutine.resume(co))
end)

H.case("bad arguments", function ()
  -- h and f are not checked: a nil f is an error h handles; catch
  -- without a handler does not call f; trap's h fails as a handler does
  local calls = 0
  local function count () calls = calls + 1 end
  for _, make in ipairs{spawn.catch, spawn.trap} do
    assert(coroutine.status(make()) == "dead")
    assert(coroutine.status(make(nil, nil)) == "dead")
    calls = 0
    assert(coroutine.status(make(count, nil)) == "dead")
    assert(calls == 1)  -- the handler ran for 'attempt to call a nil value'
  end
  calls = 0
  assert(coroutine.status(spawn.catch(nil, count)) == "dead")
  assert(calls == 0)
  assert(coroutine.status(spawn.trap(nil, count)) == "dead")
  assert(calls == 1)
end)

H.case("a handler that raises ends the coroutine normally", function ()
  local function raise () error("oops") end
  local function later (fail)
    coroutine.yield()
    if fail then error("failed") end
    return "done"
  end
  -- catch: xpcall's results, false and Lua's message for a failed handler
  local co = spawn.catch(raise, later, true)
  H.same({true, false, "error in error handling"}, coroutine.resume(co))
  assert(coroutine.status(co) == "dead")
  -- a handler that is no function fails the same way
  co = spawn.catch(42, later, true)
  H.same({true, false, "error in error handling"}, coroutine.resume(co))
  -- trap: nothing after an error
  co = spawn.trap(raise, later, true)
  H.same({true}, coroutine.resume(co))
  assert(coroutine.status(co) == "dead")
  -- trap's h raising after a success is an error of the coroutine
  co = spawn.trap(raise, later, false)
  local ok, err = coroutine.resume(co)
  assert(not ok and err:find("oops"), err)
end)

H.case("a spawned coroutine awaiting a lost value is collected", function ()
  local co = H.track(spawn.catch(never, event.await, H.track({})))
  assert(coroutine.status(co) == "suspended")
end)

H.done()
