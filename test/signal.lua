-- test/signal.lua: system.emitsig and system.awaitsig (manual, "System
-- Processes"): names and numbers, misuse, many waiters on one signal,
-- early wake-ups, closes and collection of waiters, a storm of signals,
-- and what happens to a signal's action once nobody awaits it (child
-- interpreters, as the action kills them).
--
-- A signal is only ever sent to ourselves while some coroutine awaits it:
-- otherwise its usual action would apply to the test process.

local H = require "helpers"
local system = require "coutil.system"

local spawn, drain = H.spawn, H.drain
local pid = system.procinfo("#")

-- Every name awaitsig takes, as the manual lists them.
local awaitable = {
  "abort", "brokenpipe", "child", "clocktime", "continue", "cpulimit",
  "cputime", "cputotal", "filelimit", "hangup", "interrupt", "polling",
  "quit", "stdinoff", "stdoutoff", "stop", "sysargerr", "terminate", "trap",
  "urgentsock", "userdef1", "userdef2", "winresize",
}

-- Sends 'signal' to ourselves; it must succeed.
local function emit (signal)
  H.same({true}, system.emitsig(pid, signal))
end

-- Runs rounds that never block until cond() holds (at most 100 rounds):
-- for cases that leave some coroutine awaiting a signal on purpose.
local function settle (cond)
  for _ = 1, 100 do
    if cond() then return end
    system.run("ready")
  end
  error("the condition never held", 2)
end

-- A coroutine that awaits 'signal' and stores what it got in log[key].
local function waiter (log, key, signal)
  return spawn(function ()
    log[key] = H.pack(system.awaitsig(signal))
  end)
end

-- Did a child die of signal number 'n' (as seen through the shell)?
local function diedof (code, n)
  return code == n or code == 128 + n
end

-- The number of SIGUSR1 on this platform, from the shell's kill -l.
local function usr1number ()
  local p = assert(io.popen(
    "for i in $(seq 1 64); do echo $i $(kill -l $i 2>/dev/null); done"))
  local out = p:read("a")
  p:close()
  return tonumber(out:match("(%d+) USR1\n"))
end

-- --- names and numbers ----------------------------------------------------

H.case("every awaitsig name is delivered and returned", function ()
  for _, name in ipairs(awaitable) do
    local log = {}
    waiter(log, 1, name)
    emit(name)
    drain()
    H.same({name}, table.unpack(log[1], 1, log[1].n))
  end
end)

H.case("awaitsig ignores extra arguments", function ()
  local log = {}
  spawn(function () log[1] = H.pack(system.awaitsig("userdef1", 1, {})) end)
  emit("userdef1")
  drain()
  H.same({"userdef1"}, table.unpack(log[1], 1, log[1].n))
end)

H.case("awaitsig yields no value", function ()
  local co = H.track(coroutine.create(system.awaitsig))
  H.same({true}, coroutine.resume(co, "userdef2"))
  emit("userdef2")
  drain()
  assert(coroutine.status(co) == "dead")
end)

H.case("emitsig takes signal numbers", function ()
  H.same({true}, system.emitsig(pid, 0))  -- the null signal: pid exists
  local n = usr1number()
  if n == nil then return H.skip("emitsig numbers", "no kill -l USR1") end
  local log = {}
  waiter(log, 1, "userdef1")
  H.same({true}, system.emitsig(pid, n))
  drain()
  assert(log[1][1] == "userdef1")
end)

H.case("emitsig STOP and TERMINATE reach another process", function ()
  local p = assert(io.popen("echo $$; exec sleep 30"))
  local child = assert(math.tointeger(tonumber(p:read("l"))))
  H.same({true}, system.emitsig(child, "STOP"))
  local stat = io.open("/proc/" .. child .. "/stat")
  if stat then  -- Linux: the child shows as stopped
    local state
    for _ = 1, 1000 do
      stat:seek("set")
      state = stat:read("a"):match("^%d+ %b() (%a)")
      if state == "T" then break end
      system.suspend(0.001, "~")
    end
    stat:close()
    assert(state == "T", "state " .. tostring(state))
  end
  H.same({true}, system.emitsig(child, "TERMINATE"))
  local _, how, code = p:close()
  assert(how == "signal" and code == 9 or how == "exit" and code == 137,
         tostring(how) .. " " .. tostring(code))
end)

-- --- failures and misuse ---------------------------------------------------

H.case("emitsig to no process fails", function ()
  H.same({false, "no such process", 3}, system.emitsig(0x7fffffff, 0))
  H.same({false, "no such process", 3},
         system.emitsig(0x7fffffff, "userdef1"))
end)

H.case("emitsig of a number that is no signal fails", function ()
  H.same({false, "invalid argument", 22}, system.emitsig(pid, -1))
  H.same({false, "invalid argument", 22}, system.emitsig(pid, 100000))
end)

H.case("emitsig rejects unknown names", function ()
  H.badarg(2, "invalid signal", system.emitsig, pid, "kill")
  H.badarg(2, "invalid signal", system.emitsig, pid, "Terminate")
  H.badarg(2, "invalid signal", system.emitsig, pid, "")
  H.badarg(2, "invalid signal", system.emitsig, pid, "10")
end)

H.case("emitsig checks the types of its arguments", function ()
  H.badarg(1, "number expected, got string", system.emitsig, "me", 0)
  H.badarg(1, "number expected, got no value", system.emitsig)
  H.badarg(2, "string expected, got no value", system.emitsig, pid)
  H.badarg(2, "string expected, got table", system.emitsig, pid, {})
  H.badarg(2, "number has no integer representation",
           system.emitsig, pid, 1.5)
  H.badarg(1, "out of range", system.emitsig, 2^40, 0)
  H.badarg(2, "out of range", system.emitsig, pid, 2^40)
end)

H.case("awaitsig rejects unknown names", function ()
  for _, name in ipairs{"kill", "STOP", "TERMINATE", "Userdef1", "10", ""} do
    local co = H.track(coroutine.create(system.awaitsig))
    local ok, err = coroutine.resume(co, name)
    assert(not ok and err:find("bad argument #1", 1, true) and
           err:find("invalid signal", 1, true), err)
  end
  local co = H.track(coroutine.create(system.awaitsig))
  local ok, err = coroutine.resume(co)
  assert(not ok and err:find("string expected, got no value", 1, true), err)
end)

H.case("awaitsig in the main chunk cannot yield", function ()
  H.raises("unable to yield", system.awaitsig, "userdef1")
  -- checked before the name
  H.raises("unable to yield", system.awaitsig, "kill")
  H.raises("unable to yield", system.awaitsig)
end)

H.case("awaitsig cannot yield across a C call", function ()
  local co = H.track(coroutine.create(function ()
    return string.gsub("x", "x", function () system.awaitsig("userdef1") end)
  end))
  local ok, err = coroutine.resume(co)
  assert(not ok and err:find("unable to yield", 1, true), err)
  assert(system.run("ready") == false)
end)

-- --- many waiters ----------------------------------------------------------

H.case("one delivery wakes every waiter, oldest first", function ()
  local order = {}
  for i = 1, 5 do
    spawn(function ()
      H.same({"userdef1"}, system.awaitsig("userdef1"))
      collectgarbage()  -- with the others still queued for this delivery
      order[#order + 1] = i
    end)
  end
  emit("userdef1")
  drain()
  assert(table.concat(order, " ") == "1 2 3 4 5", table.concat(order, " "))
end)

H.case("a delivery wakes only the waiters of its signal", function ()
  local log = {}
  waiter(log, "u1", "userdef1")
  waiter(log, "u2", "userdef2")
  emit("userdef1")
  settle(function () return log.u1 end)
  assert(log.u1[1] == "userdef1" and log.u2 == nil)
  emit("userdef2")
  drain()
  assert(log.u2[1] == "userdef2")
end)

H.case("a woken coroutine that awaits again waits for the next one",
       function ()
  local count = 0
  spawn(function ()
    for _ = 1, 3 do
      system.awaitsig("userdef1")
      count = count + 1
    end
  end)
  emit("userdef1")
  settle(function () return count == 1 end)
  for _ = 1, 5 do system.run("ready") end
  assert(count == 1)
  emit("userdef1")
  settle(function () return count == 2 end)
  emit("userdef1")
  drain()
  assert(count == 3)
end)

H.case("a woken coroutine may emit the signal for the next wake-up",
       function ()
  local count = 0
  spawn(function ()
    for _ = 1, 4 do
      system.awaitsig("userdef2")
      count = count + 1
      if count < 4 then emit("userdef2") end
    end
  end)
  emit("userdef2")
  drain()
  assert(count == 4)
end)

-- --- early wake-ups, closes, collection -------------------------------------

H.case("an early resume returns the resume values", function ()
  local log = {}
  local co = waiter(log, 1, "userdef1")
  H.same({true}, coroutine.resume(co, "early", nil, 3))
  H.same({"early", nil, 3, n = 3}, table.unpack(log[1], 1, log[1].n))
  assert(system.run("ready") == false, "the handle is still active")
end)

H.case("an early resume leaves the other waiters waiting", function ()
  local log = {}
  local a = waiter(log, "a", "userdef1")
  waiter(log, "b", "userdef1")
  coroutine.resume(a, "early")
  assert(system.run("ready") == true)
  emit("userdef1")
  drain()
  assert(log.a[1] == "early" and log.b[1] == "userdef1")
end)

H.case("a coroutine resumed early can await the signal again", function ()
  local log = {}
  local co = spawn(function ()
    log[1] = system.awaitsig("userdef1")
    log[2] = system.awaitsig("userdef1")
  end)
  coroutine.resume(co, "early")
  emit("userdef1")
  drain()
  assert(log[1] == "early" and log[2] == "userdef1")
end)

H.case("closing a waiting coroutine stops its wait", function ()
  local log = {}
  local co = waiter(log, 1, "userdef2")
  H.same({true}, coroutine.close(co))
  assert(system.run("ready") == false, "the handle is still active")
  assert(log[1] == nil)
end)

H.case("closing one waiter leaves the others waiting", function ()
  local log = {}
  local a = waiter(log, "a", "userdef2")
  waiter(log, "b", "userdef2")
  coroutine.close(a)
  emit("userdef2")
  drain()
  assert(log.a == nil and log.b[1] == "userdef2")
end)

H.case("a to-be-closed variable of a closed waiter is closed", function ()
  local closed = false
  local co = spawn(function ()
    local _ <close> = setmetatable({}, {__close = function ()
      closed = true
    end})
    system.awaitsig("userdef1")
  end)
  coroutine.close(co)
  assert(closed)
end)

H.case("a waiter resumed early by one woken first is not woken", function ()
  local log, b = {}, nil
  spawn(function ()
    log.a = system.awaitsig("userdef1")
    H.same({true}, coroutine.resume(b, "from a"))
  end)
  b = waiter(log, "b", "userdef1")
  waiter(log, "c", "userdef1")
  emit("userdef1")
  drain()
  assert(log.a == "userdef1" and log.b[1] == "from a" and
         log.c[1] == "userdef1")
end)

H.case("a waiter closed by one woken first is not woken", function ()
  local log, b = {}, nil
  spawn(function ()
    log.a = system.awaitsig("userdef2")
    H.same({true}, coroutine.close(b))
  end)
  b = waiter(log, "b", "userdef2")
  waiter(log, "c", "userdef2")
  emit("userdef2")
  drain()
  assert(log.a == "userdef2" and log.b == nil and log.c[1] == "userdef2")
end)

H.case("a waiting coroutine nobody refers to is kept until woken",
       function ()
  local got
  spawn(function () got = system.awaitsig("userdef1") end)
  collectgarbage()
  collectgarbage()
  emit("userdef1")
  drain()
  assert(got == "userdef1")
end)  -- the case's end checks that it was collected afterwards

H.case("errors of woken coroutines do not stop the delivery", function ()
  local code = [[
    local system = require "coutil.system"
    warn("@on")
    local got = 0
    coroutine.wrap(function () system.awaitsig("userdef1") error("oops") end)()
    coroutine.wrap(function () got = #system.awaitsig("userdef1") end)()
    system.emitsig(system.procinfo("#"), "userdef1")
    system.run()
    print("got", got)
  ]]
  local ok, out = H.runlua(code)
  assert(ok, out)
  assert(out:find("coutil: unhandled error in coroutine: ", 1, true), out)
  assert(out:find("oops", 1, true) and out:find("got\t8", 1, true), out)
end)

H.case("every state awaiting a signal gets each arrival", function ()
  local threads = require "coutil.threads"
  local channel = require "coutil.channel"
  local C = require "threads.common"
  local name = C.newname("test/signal")
  local pool = threads.create(1)
  assert(pool:dostring([[
    require "_G"
    local coroutine = require "coroutine"
    local system = require "coutil.system"
    local channel = require "coutil.channel"
    local name = ...
    local got
    coroutine.wrap(function () got = system.awaitsig("userdef2") end)()
    coroutine.wrap(function ()  -- tells that it awaits the signal
      assert(system.awaitch(channel.create(name .. "/ready"), "out"))
    end)()
    system.run()
    coroutine.yield(name, "out", got)
  ]], "signal task", "t", name))
  local log = {}
  waiter(log, 1, "userdef2")
  local ready, result = channel.create(name .. "/ready"), channel.create(name)
  C.guarded(function () assert(system.awaitch(ready, "in")) end)
  emit("userdef2")
  local res = H.pack(C.guarded(function ()
    return system.awaitch(result, "in")
  end))
  H.same({true, "userdef2"}, table.unpack(res, 1, res.n))
  drain()
  assert(log[1][1] == "userdef2")
  ready:close()
  result:close()
  pool:close()
end)

-- --- a storm ------------------------------------------------------------------

H.case("signals during blocking (~) calls do not cut them short",
function ()
  -- a child signals us while we sleep and resolve names in blocking
  -- mode; the handler libuv installed for the waiter interrupts those
  -- system calls (EINTR), which must be retried, not reported. The
  -- waiter awaits until the child is gone, so no signal finds us without
  -- a handler.
  local count = 0
  local w = spawn(function ()
    while system.awaitsig("userdef1") == "userdef1" do count = count + 1 end
  end)
  local child = {execfile = "/bin/sh",
                 arguments = {"-c", "for i in 1 2 3 4 5; do sleep 0.05; " ..
                              "kill -USR1 " .. pid .. "; done"}}
  local ended
  spawn(function () ended = H.pack(system.execute(child)) end)
  local t0 = system.nanosecs()
  H.same({true}, system.suspend(0.4, "~"))
  assert(system.nanosecs() - t0 >= 0.4e9, "the blocking sleep was cut short")
  local list = assert(system.findaddr("localhost", nil, "~"))
  assert(list:getaddress())
  list:close()
  for _ = 1, 1000 do
    if ended then break end
    system.run("step")
  end
  H.same({"exit", 0}, table.unpack(ended, 1, ended.n))
  assert(count >= 1)
  assert(coroutine.resume(w, "stop"))  -- its loop ends
  assert(coroutine.status(w) == "dead")
end)

H.case("a storm of signals reaches every waiter", function ()
  local counts, done = {}, false
  for i = 1, 8 do
    counts[i] = 0
    spawn(function ()
      while not done and counts[i] < 1000 do
        H.same({"userdef1"}, system.awaitsig("userdef1"))
        counts[i] = counts[i] + 1
      end
    end)
  end
  spawn(function ()
    for i = 1, 300 do
      emit("userdef1")
      if i % 7 == 0 then system.suspend(0) end
    end
    -- every waiter awaits again at once, so one more emission after
    -- 'done' reaches them all, and they leave
    done = true
    emit("userdef1")
  end)
  drain(30)
  for i = 1, 8 do assert(counts[i] >= 1, "waiter " .. i .. " got none") end
end)

-- --- the action of a signal nobody awaits -------------------------------------

-- A child that awaits "terminate" once, stops waiting in the way 'how'
-- names, and then gets SIGTERM.
local function terminatechild (how)
  return H.runlua(string.format([[
    local system = require "coutil.system"
    local pid = system.procinfo("#")
    local co = coroutine.create(function ()
      return system.awaitsig("terminate")
    end)
    assert(coroutine.resume(co))
    local how = %q
    if how == "delivery" then
      assert(system.emitsig(pid, "terminate"))
      assert(system.run() == false)
    elseif how == "resume" then
      assert(coroutine.resume(co, "early"))
    else
      assert(coroutine.close(co))
    end
    assert(coroutine.status(co) == "dead")
    io.stdout:write("stopped waiting\n")
    io.stdout:flush()
    system.emitsig(pid, "terminate")
    system.suspend(1, "~")  -- were the delivery late
    io.stdout:write("survived\n")
  ]], how))
end

for _, how in ipairs{"delivery", "resume", "close"} do
  H.case("SIGTERM kills again once its waiter leaves by " .. how, function ()
    local ok, out, code = terminatechild(how)
    assert(not ok, out)
    assert(out:find("stopped waiting", 1, true), out)
    assert(not out:find("survived", 1, true), out)
    assert(diedof(code, 15), "exit code " .. tostring(code))
  end)
end

H.case("a state closed with waiters ends cleanly", function ()
  local ok, out = H.runlua([[
    local system = require "coutil.system"
    for _, name in ipairs{"userdef1", "userdef1", "userdef2", "brokenpipe"} do
      coroutine.wrap(system.awaitsig)(name)
    end
    print("leaving")
  ]])
  assert(ok and out == "leaving\n", out)
end)

-- A child, with SIGPIPE at its default action, that after 'setup' writes
-- with plain io to a pipe whose reader is gone, then runs 'after'.
local function pipechild (setup, after)
  return H.runlua(setup .. [[

    local p = assert(io.popen("true", "w"))
    p:setvbuf("no")
    local ok, msg, code
    for _ = 1, 1000 do
      ok, msg, code = p:write(string.rep("x", 4096))
      if not ok then break end
    end
    print("write", ok, code)
  ]] .. (after or ""), "env --default-signal=PIPE")
end

local haveenv = os.execute("env --default-signal=PIPE true >/dev/null 2>&1")

H.case("SIGPIPE kills a plain interpreter (the control)", function ()
  if not haveenv then return H.skip("SIGPIPE control", "no env --default-signal") end
  local ok, out, code = pipechild("")
  assert(not ok and diedof(code, 13), out .. tostring(code))
end)

H.case("coutil.system makes a write to a dead pipe fail instead", function ()
  if not haveenv then return H.skip("SIGPIPE", "no env --default-signal") end
  local ok, out = pipechild([[require "coutil.system"]])
  assert(ok and out == "write\tnil\t32\n", out)
end)

H.case("SIGPIPE stays ignored once brokenpipe is not awaited", function ()
  if not haveenv then return H.skip("SIGPIPE", "no env --default-signal") end
  local ok, out = pipechild([[
    local system = require "coutil.system"
    local got
    coroutine.wrap(function () got = system.awaitsig("brokenpipe") end)()
    system.emitsig(system.procinfo("#"), "brokenpipe")
    system.run()
    assert(got == "brokenpipe")
    local co = coroutine.create(system.awaitsig)
    coroutine.resume(co, "brokenpipe")
    coroutine.close(co)
  ]])
  assert(ok and out == "write\tnil\t32\n", out)
end)

H.case("a write to a dead pipe wakes a brokenpipe waiter", function ()
  if not haveenv then return H.skip("SIGPIPE", "no env --default-signal") end
  local ok, out = pipechild([[
    local system = require "coutil.system"
    coroutine.wrap(function ()
      print("woken", system.awaitsig("brokenpipe"))
    end)()
  ]], [[
    assert(system.run() == false)
  ]])
  assert(ok and out == "write\tnil\t32\nwoken\tbrokenpipe\n", out)
end)

H.done()
