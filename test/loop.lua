-- test/loop.lua: system.run, system.isrunning and system.halt (manual,
-- "Event Processing"); errors of coroutines the loop resumes (warnings);
-- lua_close with work still pending, in child processes.

local H = require "helpers"
local system = require "coutil.system"

local spawn, drain = H.spawn, H.drain

-- Runs 'code' in a child lua5.4 (with interpreter 'flags') that must end
-- within 60 s; returns its exit status and output (stdout and stderr).
local function child (code, flags)
  local ok, out, status = H.runlua(code, "timeout -k 5 60", flags)
  assert(status ~= 124 and status ~= 137, "child timed out:\n" .. out)
  return ok, out, status
end

local function nosanitizer (out)
  assert(not out:find("Sanitizer"), out)
  assert(not out:find("runtime error:", 1, true), out)
end

-- --- system.run ------------------------------------------------------------

H.case("run with nothing to do returns false", function ()
  H.same({false}, system.run())
  H.same({false}, system.run(nil))
  H.same({false}, system.run("loop"))
  H.same({false}, system.run("step"))
  H.same({false}, system.run("ready"))
end)

H.case("run 'loop' resumes until nothing waits", function ()
  local woken = 0
  for i = 1, 5 do
    spawn(function ()
      system.suspend(i / 1000)
      system.suspend(0)
      woken = woken + 1
    end)
  end
  H.same({false}, system.run("loop"))
  assert(woken == 5)
end)

H.case("run defaults to 'loop'", function ()
  local woken = false
  spawn(function ()
    system.suspend(0.002)
    system.suspend()
    woken = true
  end)
  H.same({false}, system.run())
  assert(woken)
end)

H.case("run 'ready' does not wait", function ()
  local co = spawn(system.suspend, 5)
  H.same({true}, system.run("ready"))
  assert(coroutine.status(co) == "suspended")
  coroutine.resume(co)
  H.same({false}, system.run("ready"))
end)

H.case("run 'ready' resumes the coroutines already ready", function ()
  local woken = 0
  for _ = 1, 3 do
    spawn(function () system.suspend(0) woken = woken + 1 end)
  end
  H.same({false}, system.run("ready"))
  assert(woken == 3)
end)

H.case("run 'step' waits for one and returns", function ()
  local log = {}
  system.time("updated")
  spawn(function () system.suspend(0.01) log[#log + 1] = "first" end)
  spawn(function () system.suspend(0.02) log[#log + 1] = "second" end)
  local last = spawn(function ()
    local woken = system.suspend(30)
    log[#log + 1] = woken and "timer" or "early"
  end)
  -- one step blocks until the first timer is due (the second may be due
  -- as well by then, on a slow machine)
  H.same({true}, system.run("step"))
  assert(log[1] == "first")
  if #log == 1 then H.same({true}, system.run("step")) end
  H.same({"first", "second"}, table.unpack(log))
  assert(coroutine.resume(last, false))
  H.same({false}, system.run("step"))
end)

H.case("run returns true while coroutines still await", function ()
  local co = spawn(system.suspend, 60)
  H.same({true}, system.run("ready"))
  H.same({true}, system.run("ready"))
  coroutine.resume(co)
  H.same({false}, system.run("ready"))
end)

H.case("run rejects a bad mode", function ()
  H.raises("invalid option 'forever'", system.run, "forever")
  H.raises("invalid option 'Loop'", system.run, "Loop")
  H.raises("invalid option ''", system.run, "")
  H.raises("invalid option '0'", system.run, 0)
  H.raises("string expected, got table", system.run, {})
  local co = spawn(system.suspend, 0)
  H.raises("invalid option 'x'", system.run, "x")
  assert(coroutine.status(co) == "suspended", "bad mode ran the loop")
  drain()
end)

H.case("run inside run raises 'already running'", function ()
  local errors = {}
  local other = false
  spawn(function ()
    system.suspend(0)
    for _, mode in ipairs{"loop", "step", "ready"} do
      local ok, err = pcall(system.run, mode)
      assert(not ok)
      errors[#errors + 1] = err
    end
    errors[#errors + 1] = select(2, pcall(system.run))
  end)
  spawn(function () system.suspend(0.005) other = true end)
  H.same({false}, system.run())
  assert(#errors == 4)
  for _, err in ipairs(errors) do
    assert(string.find(err, "already running", 1, true), err)
  end
  assert(other, "the outer run did not go on")
end)

H.case("run inside run, from a nested coroutine, is refused", function ()
  local err
  spawn(function ()
    system.suspend()
    local inner = coroutine.wrap(function ()
      return select(2, pcall(system.run, "ready"))
    end)
    err = inner()
  end)
  drain()
  assert(string.find(err, "already running", 1, true), err)
end)

H.case("run works from a coroutine", function ()
  local woken = false
  spawn(function () system.suspend(0.002) woken = true end)
  local runner = H.track(coroutine.create(function ()
    local alive = system.run()
    return alive, system.isrunning()
  end))
  H.same({true, false, false}, coroutine.resume(runner))
  assert(woken)
end)

H.case("run discards what a woken coroutine returns", function ()
  local co = spawn(function ()
    system.suspend(0)
    return 1, 2, 3
  end)
  H.same({false}, system.run())
  assert(coroutine.status(co) == "dead")
end)

H.case("a woken coroutine that yields is left alone", function ()
  local resumed = 0
  local co = spawn(function ()
    system.suspend(0)
    resumed = resumed + 1
    coroutine.yield("ignored", "values")
    resumed = resumed + 1
  end)
  H.same({false}, system.run())
  assert(resumed == 1 and coroutine.status(co) == "suspended")
  H.same({true}, coroutine.resume(co))
  assert(resumed == 2 and coroutine.status(co) == "dead")
end)

H.case("a woken coroutine that yields and is dropped is collected",
function ()
  spawn(function ()
    system.suspend(0)
    coroutine.yield()
    error("never resumed")
  end)
  H.same({false}, system.run())
end)

-- --- system.isrunning ---

H.case("isrunning is false outside run", function ()
  H.same({false}, system.isrunning())
  spawn(system.suspend)
  H.same({false}, system.isrunning())
  drain()
  H.same({false}, system.isrunning())
end)

H.case("isrunning is true in every coroutine run resumes", function ()
  local seen = {}
  spawn(function ()
    system.suspend(0)
    seen[1] = system.isrunning()
    seen[2] = coroutine.wrap(system.isrunning)()
    system.suspend(0.001)
    seen[3] = system.isrunning()
  end)
  drain()
  H.same({true, true, true}, table.unpack(seen))
end)

H.case("isrunning inside a finalizer follows run", function ()
  local seen = {}
  local function garbage (i)
    setmetatable({}, {__gc = function ()
      seen[i] = system.isrunning()
    end})
  end
  spawn(function ()
    system.suspend(0)
    garbage(1)
    collectgarbage()
  end)
  drain()
  garbage(2)
  collectgarbage()
  H.same({true, false}, seen[1], seen[2])
end)

-- --- system.halt ---

H.case("halt outside run raises 'not running'", function ()
  H.raises("not running", system.halt)
  spawn(system.suspend, 0)
  H.raises("not running", system.halt)
  local co = H.track(coroutine.create(function ()
    return pcall(system.halt)
  end))
  local ok, pok, err = coroutine.resume(co)
  assert(ok and not pok and string.find(err, "not running", 1, true))
  drain()
end)

H.case("halt returns no value and the caller goes on", function ()
  local results, after
  spawn(function ()
    system.suspend(0)
    results = H.pack(system.halt())
    after = true
  end)
  H.same({false}, system.run())
  assert(results.n == 0 and after)
end)

H.case("halt makes run return true while others wait", function ()
  local late
  spawn(function () system.suspend(0) system.halt() end)
  local co = spawn(function () late = system.suspend(30) end)
  H.same({true}, system.run())
  assert(late == nil)
  assert(coroutine.resume(co, "early"))
  H.same({false}, system.run())
  assert(late == "early")
end)

H.case("halt lets the rest of the iteration run", function ()
  local log = {}
  for _, name in ipairs{"c", "b", "a"} do  -- a, queued last, wakes first
    spawn(function ()
      system.suspend(0)
      log[#log + 1] = name
      if name == "a" then system.halt() end
      system.suspend(0)
      log[#log + 1] = name .. "2"
    end)
  end
  H.same({true}, system.run())
  H.same({"a", "b", "c"}, table.unpack(log))
  H.same({false}, system.run())
  assert(#log == 6)
end)

H.case("halt does not carry over to the next run", function ()
  local count = 0
  spawn(function ()
    for _ = 1, 3 do
      system.suspend(0)
      count = count + 1
      system.halt()
    end
  end)
  H.same({true}, system.run())
  assert(count == 1)
  H.same({true}, system.run("step"))
  assert(count == 2)
  H.same({false}, system.run("loop"))
  assert(count == 3)
end)

H.case("halt by the last waiter makes run return false", function ()
  spawn(function () system.suspend(0.001) system.halt() end)
  H.same({false}, system.run())
end)

H.case("halt inside run 'step' and 'ready'", function ()
  spawn(function () system.suspend() system.halt() end)
  H.same({false}, system.run("step"))
  spawn(function () system.suspend() system.halt() end)
  H.same({false}, system.run("ready"))
end)

H.case("halt from a finalizer during run", function ()
  local late
  spawn(function ()
    system.suspend(0)
    setmetatable({}, {__gc = function () system.halt() end})
    collectgarbage()
  end)
  local co = spawn(function () late = system.suspend(30) end)
  H.same({true}, system.run())
  assert(late == nil)
  assert(coroutine.resume(co, "early"))
  assert(late == "early")
end)

-- --- errors of woken coroutines ---

H.case("an error in a woken coroutine does not stop the loop", function ()
  local log = {}
  local bad = spawn(function ()
    system.suspend(0)
    error("oops")
  end)
  spawn(function ()
    system.suspend(0)
    log[#log + 1] = "same iteration"
    system.suspend(0.002)
    log[#log + 1] = "later"
  end)
  H.same({false}, system.run())
  H.same({"same iteration", "later"}, table.unpack(log))
  assert(coroutine.status(bad) == "dead")
end)

-- Regression: the loop left them open (nobody else can close them).
H.case("an erroring coroutine gets its variables closed", function ()
  local closed
  spawn(function ()
    local guard <close> = setmetatable({}, {__close = function (_, err)
      closed = err
    end})
    system.suspend(0)
    error("failed", 0)
  end)
  drain()
  assert(closed == "failed", tostring(closed))
end)

H.case("a failing __close of an erroring coroutine is harmless", function ()
  local count = 0
  spawn(function ()
    local a <close> = setmetatable({}, {__close = function ()
      count = count + 1
    end})
    local b <close> = setmetatable({}, {__close = function ()
      count = count + 1
      error("close failed")
    end})
    system.suspend(0)
    error("failed")
  end)
  drain()
  assert(count == 2)
end)

H.case("errors of woken coroutines go to warn", function ()
  local ok, out = child([[
    local system = require "coutil.system"
    local function go (f)
      coroutine.resume(coroutine.create(function ()
        system.suspend(0)
        f()
      end))
    end
    go(function () error("boom") end)
    go(function () error(42) end)
    go(function () error({}) end)
    go(function () error() end)
    go(function () error("no position", 0) end)
    go(function ()
      local x <close> = setmetatable({}, {__close = function ()
        error("in close", 0)
      end})
      error("before close", 0)
    end)
    go(function () system.suspend(0.001) print("still running") end)
    print("run", system.run())
  ]], "-W")
  assert(ok, out)
  nosanitizer(out)
  local prefix = "Lua warning: coutil: unhandled error in coroutine: "
  local expected = {
    ":8: boom", "42", "(error object is a table value)",
    "(error object is a nil value)", "no position", "before close",
    "in close",
  }
  for _, text in ipairs(expected) do
    assert(out:find(prefix, 1, true))
    local pattern = prefix:gsub("%p", "%%%0") .. "[^\n]*" ..
                    text:gsub("%p", "%%%0") .. "\n"
    assert(out:find(pattern), "missing warning '" .. text .. "':\n" .. out)
  end
  local _, count = out:gsub("Lua warning: ", "")
  assert(count == #expected, out)
  assert(out:find("still running\nrun\tfalse\n", 1, true), out)
end)

H.case("the warning of a failed coroutine has its traceback", function ()
  local ok, out = child([[
    local system = require "coutil.system"
    local function deepest () error("from deep inside") end
    local function middle () deepest() end
    coroutine.wrap(function ()
      system.suspend(0)
      middle()
    end)()
    coroutine.wrap(function ()
      system.suspend(0)
      error(setmetatable({}, {}))
    end)()
    system.run()
  ]], "-W")
  assert(ok, out)
  nosanitizer(out)
  local prefix = "Lua warning: coutil: unhandled error in coroutine: "
  local first = out:find(prefix, 1, true)
  assert(first, out)
  assert(out:find(":2: from deep inside\nstack traceback:\n", 1, true), out)
  assert(out:find("in upvalue 'deepest'", 1, true), out)
  assert(out:find("in upvalue 'middle'", 1, true), out)
  assert(out:find(prefix .. "(error object is a table value)\nstack " ..
                  "traceback:\n", 1, true), out)
end)

H.case("errors of woken coroutines are silent with warnings off",
function ()
  local ok, out = child([[
    local system = require "coutil.system"
    coroutine.resume(coroutine.create(function ()
      system.suspend(0)
      error("boom")
    end))
    print("run", system.run())
  ]])
  assert(ok, out)
  assert(out == "run\tfalse\n", out)
end)

-- --- lua_close with pending work ---

H.case("lua_close with pending timers, waiters and errors", function ()
  local ok, out = child([[
    warn("@on")
    local system = require "coutil.system"
    local function go (f, ...)
      assert(coroutine.resume(coroutine.create(f), ...))
    end
    for i = 1, 1000 do go(system.suspend, 100 + i) end
    for _ = 1, 100 do go(system.suspend, 0) end
    go(function () system.suspend(100) error("never woken") end)
    go(function ()
      system.suspend(0)  -- woken in the first round...
      system.suspend(0)  -- ...but not in the second, that never comes
      error("never woken")
    end)
    go(function () system.suspend(0) error("woken and failed", 0) end)
    go(function ()
      while true do system.suspend(0) system.halt() end
    end)
    local closed = coroutine.create(system.suspend)
    coroutine.resume(closed, 50)
    coroutine.close(closed)
    print("run", system.run())
    print("done")
  ]])
  assert(ok, out)
  nosanitizer(out)
  assert(out:match("^Lua warning: coutil: unhandled error in coroutine: " ..
                   "woken and failed\nstack traceback:\n.*\nrun\ttrue\ndone\n$"),
         out)
  local _, count = out:gsub("Lua warning: ", "")
  assert(count == 1, out)
end)

H.case("lua_close without ever running the loop", function ()
  local ok, out = child([[
    local system = require "coutil.system"
    for _ = 1, 10 do
      coroutine.resume(coroutine.create(system.suspend), 1000)
      coroutine.resume(coroutine.create(system.suspend))
    end
    print("done")
  ]])
  assert(ok, out)
  nosanitizer(out)
  assert(out == "done\n", out)
end)

H.case("os.exit(code, true) from a woken coroutine", function ()
  local ok, out, status = child([[
    local system = require "coutil.system"
    for _ = 1, 5 do
      coroutine.resume(coroutine.create(system.suspend), 100)
      coroutine.resume(coroutine.create(system.suspend), 0)
    end
    coroutine.resume(coroutine.create(function ()
      system.suspend(0)
      print("closing")
      os.exit(7, true)
    end))
    system.run()
    print("not reached")
  ]])
  assert(not ok and status == 7, out)
  nosanitizer(out)
  assert(out == "closing\n", out)
end)

H.case("os.exit(code, true) from a timer wake-up", function ()
  local ok, out, status = child([[
    local system = require "coutil.system"
    for i = 1, 5 do
      coroutine.resume(coroutine.create(system.suspend), 0.001 * i)
    end
    coroutine.resume(coroutine.create(function ()
      system.suspend(0.001)
      os.exit(true, true)
    end))
    system.run()
    print("not reached")
  ]])
  assert(ok and status == 0, out)
  nosanitizer(out)
  assert(out == "", out)
end)

-- Regression: system.run here crashed in uv_run on the closed loop, and
-- system.time returned garbage.
H.case("finalizers after the loop's own get 'closed'", function ()
  local ok, out = child([=[
    local early = setmetatable({}, {__gc = function ()
      local system = require "coutil.system"
      for _, call in ipairs{
        {"run"}, {"run", "ready"}, {"time"}, {"time", "updated"},
        {"suspend", 0}, {"suspend", 1}, {"socket", "stream", "ipv4"},
      } do
        local ok, err = pcall(system[call[1]], call[2], call[3])
        print(call[1], call[2], ok, err)
      end
      print("nanosecs", math.type(system.nanosecs()))
      print("epoch", system.time("epoch") > 0)
      print("blocking", system.suspend(0.001, "~"))
      local ok, err = pcall(function () return system.stdout end)
      print("stdout", ok, (string.match(err, "closed$")))
      print("isrunning", system.isrunning())
      print("halt", pcall(system.halt))
      print("close", coroutine.close(waiter))
    end})
    local system = require "coutil.system"
    coroutine.resume(coroutine.create(system.suspend), 100)
    waiter = coroutine.create(system.suspend)
    coroutine.resume(waiter, 100)
    print("done")
  ]=])
  assert(ok, out)
  nosanitizer(out)
  local expected = [[
done
run	nil	false	closed
run	ready	false	closed
time	nil	false	closed
time	updated	false	closed
suspend	0	false	closed
suspend	1	false	closed
socket	stream	false	closed
nanosecs	integer
epoch	true
blocking	true
stdout	false	closed
isrunning	false
halt	false	not running
close	true
]]
  assert(out == expected, out)
end)

H.done()
