-- test/channel.lua: coutil.channel and system.awaitch (manual, "Channels",
-- "Thread Synchronization"), between coroutines of one state and across
-- system threads (state coroutines, tasks of thread pools).

local H = require "helpers"
local system = require "coutil.system"
local channel = require "coutil.channel"

local spawn, drain = H.spawn, H.drain

local C = require "threads.common"
local guarded = C.guarded
local function newname () return C.newname("test/channel") end

-- --- create, getname, getnames, close --------------------------------------

H.case("create returns a channel with its name", function ()
  local name = newname()
  local ch = H.track(channel.create(name))
  assert(type(ch) == "userdata")
  H.same({name}, channel.getname(ch))
  H.same({name}, ch:getname())
  H.same({true}, ch:close())
end)

H.case("names are binary safe", function ()
  local name = "a\0b" .. newname()
  local ch = channel.create(name)
  H.same({name}, ch:getname())
  assert(channel.getnames()[name] == true)
  assert(channel.getnames()["a"] == nil)
  ch:close()
end)

H.case("the empty string is a valid name", function ()
  local ch = channel.create("")
  H.same({""}, ch:getname())
  ch:close()
end)

H.case("create checks its argument", function ()
  H.badarg(1, "string expected, got no value", channel.create)
  H.badarg(1, "string expected, got table", channel.create, {})
end)

H.case("getnames lists existing channels", function ()
  local n1, n2 = newname(), newname()
  local a, b = channel.create(n1), channel.create(n2)
  local names = channel.getnames()
  assert(names[n1] == true and names[n2] == true)
  a:close()
  names = channel.getnames()
  assert(names[n1] == nil and names[n2] == true)
  b:close()
  assert(channel.getnames()[n2] == nil)
end)

H.case("getnames keeps a name while any channel uses it", function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  a:close()
  assert(channel.getnames()[name] == true)
  b:close()
  assert(channel.getnames()[name] == nil)
end)

H.case("getnames with a table checks its string keys", function ()
  local n1, n2 = newname(), newname()
  local a = channel.create(n1)
  local t = {[n1] = false, [n2] = true, [1] = "x", [true] = 5}
  local r = channel.getnames(t)
  assert(r == t)
  assert(t[n1] == true)
  assert(t[n2] == nil)
  assert(t[1] == "x" and t[true] == 5)  -- non-string keys untouched
  a:close()
  H.same({t}, channel.getnames(t))
  assert(t[n1] == nil)
end)

H.case("getnames checks its argument", function ()
  H.badarg(1, "table expected, got string", channel.getnames, "x")
end)

H.case("close again returns false and the channel is then unusable",
function ()
  local ch = channel.create(newname())
  H.same({true}, channel.close(ch))
  H.same({false}, channel.close(ch))
  H.same({false}, ch:close())
  H.raises("closed channel", ch.getname, ch)
  H.raises("closed channel", ch.sync, ch, "in")
  H.raises("closed channel", function ()
    return system.awaitch(ch, "in")
  end)
end)

H.case("functions check the channel argument", function ()
  H.badarg(1, "coutil.channel expected, got no value", channel.close)
  H.badarg(1, "coutil.channel expected, got table", channel.getname, {})
  H.badarg(1, "coutil.channel expected, got string", channel.sync, "x")
  H.badarg(1, "coutil.channel expected, got nil", system.awaitch, nil)
  -- an object of another class names its class
  local pool = require "coutil.threads".create(0)
  H.badarg(1, "coutil.channel expected, got coutil.threads", channel.close,
           pool)
  H.badarg(1, "coutil.channel expected, got coutil.threads", channel.sync,
           pool)
  pool:close()
end)

H.case("a closable variable closes the channel", function ()
  local name = newname()
  do
    local ch <close> = channel.create(name)
    assert(channel.getnames()[name])
  end
  assert(channel.getnames()[name] == nil)
end)

H.case("GC closes a channel", function ()
  local name = newname()
  H.track(channel.create(name))
  collectgarbage()
  collectgarbage()
  assert(channel.getnames()[name] == nil)
end)

-- --- sync ---------------------------------------------------------------

H.case("sync fails with empty when nobody waits", function ()
  local ch = channel.create(newname())
  H.same({false, "empty"}, ch:sync("in"))
  H.same({false, "empty"}, ch:sync("out", 1, 2))
  H.same({false, "empty"}, ch:sync())
  ch:close()
end)

H.case("sync matches a waiting coroutine", function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local got
  spawn(function () got = H.pack(system.awaitch(a, "in", "back", 7)) end)
  H.same({true, "back", 7}, b:sync("out", "there", nil, 1.5))
  assert(got == nil)  -- resumed by the loop, not by sync
  drain()
  H.same({true, "there", nil, 1.5}, table.unpack(got, 1, got.n))
  a:close() b:close()
end)

H.case("sync checks endpoints and values", function ()
  local ch = channel.create(newname())
  -- the original's words: no function name
  H.raises("bad argument #2 (invalid option 'up')", ch.sync, ch, "up")
  H.badarg(2, "string expected, got table", ch.sync, ch, {})
  H.raises("unable to transfer argument #3 (got table)", ch.sync, ch, "in", {})
  H.raises("unable to transfer argument #4 (got function)",
           ch.sync, ch, "in", 1, print)
  ch:close()
end)

-- --- awaitch between coroutines of one state --------------------------------

H.case("awaitch matches opposite endpoints and moves values both ways",
function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local r1, r2
  local c1 = spawn(function ()
    r1 = H.pack(system.awaitch(a, "in", 1, "x"))
  end)
  local c2 = H.track(coroutine.create(function ()
    r2 = H.pack(system.awaitch(b, "out", 2, nil, false))
  end))
  assert(coroutine.resume(c2))
  -- the second call matched at once: no yield
  assert(coroutine.status(c2) == "dead")
  H.same({true, 1, "x"}, table.unpack(r2, 1, r2.n))
  assert(r1 == nil)
  drain()
  H.same({true, 2, nil, false}, table.unpack(r1, 1, r1.n))
  assert(coroutine.status(c1) == "dead")
  a:close() b:close()
end)

H.case("same endpoints never match; any matches everything", function ()
  local name = newname()
  for _, case in ipairs{
    {"in", "in", false}, {"out", "out", false},
    {"in", "out", true}, {"out", "in", true},
    {"any", "in", true}, {"in", "any", true},
    {"any", "out", true}, {"out", nil, true},
    {"any", "any", true}, {nil, nil, true},
  } do
    local a, b = channel.create(name), channel.create(name)
    local woke = false
    local co = spawn(function () woke = system.awaitch(a, case[1]) end)
    local r = H.pack(b:sync(case[2]))
    if case[3] then
      H.same({true}, table.unpack(r, 1, r.n))
      drain()
      assert(woke == true)
    else
      H.same({false, "empty"}, table.unpack(r, 1, r.n))
      coroutine.resume(co)  -- stops waiting
      drain()
    end
    a:close() b:close()
  end
end)

H.case("waiting coroutines are matched in call order", function ()
  local name = newname()
  local order = {}
  local chs = {}
  for i = 1, 5 do
    chs[i] = channel.create(name)
    spawn(function ()
      local _, v = system.awaitch(chs[i], "in", i)
      order[#order + 1] = i .. "=" .. v
    end)
  end
  local other = channel.create(name)
  for i = 1, 5 do H.same({true, i}, other:sync("out", i * 10)) end
  H.same({false, "empty"}, other:sync("out"))
  drain()
  H.same({"1=10", "2=20", "3=30", "4=40", "5=50"}, table.unpack(order))
  for i = 1, 5 do chs[i]:close() end
  other:close()
end)

H.case("two coroutines on one channel object: in use", function ()
  local ch = channel.create(newname())
  local co = spawn(system.awaitch, ch, "in")
  H.raises("in use", function () return system.awaitch(ch, "in") end)
  H.raises("in use", channel.close, ch)
  coroutine.resume(co)
  H.same({true}, ch:close())
end)

H.case("awaitch checks its arguments before anything", function ()
  local ch = channel.create(newname())
  local function await (...) return system.awaitch(...) end
  local function check (...)
    local co = coroutine.wrap(function (...) return pcall(await, ...) end)
    return select(2, co(...))
  end
  for _, bad in ipairs{"up", "i", "input", "", "IN"} do
    local msg = "bad argument #2 (invalid option '" .. bad .. "')"
    assert(check(ch, bad):find(msg, 1, true), bad)
  end
  assert(check(ch, 5):find("bad argument #2 (invalid option '5')", 1, true))
  assert(check(ch, {}):find("bad argument #2 to 'awaitch' (string " ..
                            "expected, got table)", 1, true))
  assert(check(ch, "in", {}):find("unable to transfer argument #3 (got table)",
                                  1, true))
  assert(check(ch, "out", 1, 2, coroutine.create(print))
         :find("unable to transfer argument #5 (got thread)", 1, true))
  assert(check(ch, "out", io.stdout)
         :find("unable to transfer argument #3 (got userdata)", 1, true))
  H.same({false, "empty"}, ch:sync("any"))  -- nothing was queued
  ch:close()
end)

H.case("awaitch cannot be called from the main thread", function ()
  local ch = channel.create(newname())
  H.raises("unable to yield", system.awaitch, ch, "in")
  H.same({false, "empty"}, ch:sync("out"))
  ch:close()
end)

H.case("every transferable type crosses with its subtype", function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local light = debug.upvalueid(newname, 1)
  local big = string.rep("\0\1\255x", 1000)
  local values = {n = 9, nil, true, false, 3, 3.0, -0.0, "a\0b", big, light}
  local got
  spawn(function () got = H.pack(system.awaitch(a, "in")) end)
  H.same({true}, b:sync("out", table.unpack(values, 1, values.n)))
  drain()
  assert(got.n == values.n + 1 and got[1] == true)
  for i = 1, values.n do
    assert(got[i + 1] == values[i], i)
    assert(math.type(got[i + 1]) == math.type(values[i]), i)
  end
  assert(1 / got[7] < 0)  -- negative zero kept
  a:close() b:close()
end)

H.case("many values cross at once", function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local many = {}
  for i = 1, 250 do many[i] = i % 3 == 0 and tostring(i) or i end
  local got
  spawn(function () got = H.pack(system.awaitch(a, "in")) end)
  H.same({true}, b:sync("out", table.unpack(many)))
  drain()
  assert(got.n == 251)
  for i = 1, 250 do assert(got[i + 1] == many[i]) end
  a:close() b:close()
end)

-- --- early wake-ups, close, GC ---------------------------------------------

H.case("coroutine.resume stops the wait and leaves the channel consistent",
function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local co = spawn(system.awaitch, a, "in", "stale")
  H.same({true, "early", 1}, coroutine.resume(co, "early", 1))
  H.same({false, "empty"}, b:sync("out"))  -- nobody waits any more
  -- the channel object is free again
  local got
  spawn(function () got = H.pack(system.awaitch(a, "in", "fresh")) end)
  H.same({true, "fresh"}, b:sync("out", 2))
  drain()
  H.same({true, 2}, table.unpack(got, 1, got.n))
  a:close() b:close()
end)

H.case("resume after a match drops the values but the match holds",
function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local co = spawn(system.awaitch, a, "in", "mine")
  H.same({true, "mine"}, b:sync("out", "yours"))
  -- matched, but the loop has not resumed it yet
  H.same({true, "early"}, coroutine.resume(co, "early"))
  drain()
  H.same({false, "empty"}, b:sync("out"))
  a:close() b:close()
end)

H.case("coroutine.close withdraws a waiting call at once", function ()
  local name = newname()
  local ch = channel.create(name)
  local co = H.track(coroutine.create(function ()
    system.awaitch(ch, "in", "never")
  end))
  assert(coroutine.resume(co))
  H.same({true}, system.run("ready"))
  assert(coroutine.close(co))
  H.same({false}, system.run("ready"))  -- nothing waits any more
  local other = channel.create(name)
  H.same({false, "empty"}, other:sync("out"))
  H.same({true}, ch:close())  -- no longer in use
  other:close()
end)

H.case("a channel collected with its closed coroutine", function ()
  local name = newname()
  local co = coroutine.create(function ()
    local ch = channel.create(name)
    system.awaitch(ch, "in")
  end)
  H.track(co)
  assert(coroutine.resume(co))
  assert(coroutine.close(co))
  collectgarbage()
  collectgarbage()
  drain()
  assert(channel.getnames()[name] == nil)
end)

H.case("the waiting coroutine keeps its channel alive", function ()
  local name = newname()
  local got
  H.track(spawn(function ()
    got = H.pack(system.awaitch(channel.create(name), "out", "kept"))
  end))
  collectgarbage()
  collectgarbage()
  assert(channel.getnames()[name] == true)
  local other = channel.create(name)
  H.same({true, "kept"}, other:sync("in", "ok"))
  drain()
  H.same({true, "ok"}, table.unpack(got, 1, got.n))
  other:close()
end)

H.case("GC inside the resumed coroutine", function ()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local done = false
  spawn(function ()
    system.awaitch(a, "in")
    collectgarbage()
    done = true
  end)
  b:sync("out")
  drain()
  assert(done)
  a:close() b:close()
end)

H.case("system.run keeps running only while awaitch waits", function ()
  local ch = channel.create(newname())
  H.same({false}, system.run("ready"))
  local co = spawn(system.awaitch, ch, "in")
  H.same({true}, system.run("ready"))
  coroutine.resume(co)
  H.same({false}, system.run("ready"))
  ch:close()
end)

local fds = H.fds

H.case("system.run returning false holds no descriptor awaitch made",
function ()
  local before = fds()
  local name = newname()
  local a, b = channel.create(name), channel.create(name)
  local co = spawn(system.awaitch, a, "in")
  assert(fds() ~= before, "awaitch waits on a descriptor of its own")
  H.same({true}, b:sync("out"))
  H.same({false}, system.run())
  H.same({before}, fds())
  -- the same with a match from another thread, and run("step")
  local scoro = require "coutil.coroutine"
  local other = assert(scoro.load([[
    local channel = require "coutil.channel"
    local ch = channel.create(...)
    while not ch:sync("out", "hi") do
      require "coutil.system".suspend(0.001, "~")
    end
  ]]))
  local got
  spawn(function () got = H.pack(system.awaitch(a, "in")) end)
  spawn(system.resume, other, name)
  for _ = 1, 10000 do
    if not system.run("step") then break end
  end
  H.same({true, "hi"}, table.unpack(got, 1, got.n))
  H.same({before}, fds())
  a:close() b:close()
end)

-- --- across threads --------------------------------------------------------

H.case("a state coroutine is the matching side", function ()
  local name = newname()
  local scoro = require "coutil.coroutine"
  local co = assert(scoro.load([[
    local channel = require "coutil.channel"
    local table = require "table"
    local ch = channel.create(...)
    local res = {}
    for _ = 1, 100 do  -- bounded: the other side waits already
      res = {ch:sync("in", "from state")}
      if res[1] then break end
      require "coutil.system".suspend(0.01, "~")
    end
    ch:close()
    return table.unpack(res)
  ]]))
  local ch = channel.create(name)
  guarded(function ()
    local got
    spawn(function () got = H.pack(system.awaitch(ch, "out", 42, "x")) end)
    H.same({true, true, 42, "x"}, system.resume(co, name))
    while got == nil do system.suspend(0.01) end
    H.same({true, "from state"}, table.unpack(got, 1, got.n))
  end)
  co:close()
  ch:close()
end)

H.case("a state coroutine waits with awaitch under its own system.run",
function ()
  local name = newname()
  local scoro = require "coutil.coroutine"
  local co = assert(scoro.load[[
    local system = require "coutil.system"
    local channel = require "coutil.channel"
    local ch = channel.create(...)
    local got
    require "coroutine".wrap(function ()
      got = {system.awaitch(ch, "in", "reply")}
    end)()
    local pending = system.run()
    ch:close()
    return pending, got[1], got[2]
  ]])
  local ch = channel.create(name)
  guarded(function ()
    local res
    spawn(function () res = H.pack(system.resume(co, name)) end)
    local ok, v
    for _ = 1, 1000 do  -- until the state coroutine waits
      ok, v = ch:sync("out", "hello")
      if ok then break end
      system.suspend(0.005)
    end
    H.same({true, "reply"}, ok, v)
    while res == nil do system.suspend(0.005) end
    H.same({true, false, true, "hello"}, table.unpack(res, 1, res.n))
  end)
  co:close()
  ch:close()
end)

H.case("tasks of different pools match each other", function ()
  local threads = require "coutil.threads"
  local name, report = newname(), newname()
  local p1, p2 = threads.create(1), threads.create(1)
  assert(p1:dostring([[
    local yield = require "coroutine".yield
    local name, report = ...
    local ok, v = yield(name, "any", "from p1")
    yield(report, "out", "p1 got " .. v)
  ]], "p1", "t", name, report))
  assert(p2:dostring([[
    local yield = require "coroutine".yield
    local name, report = ...
    local ok, v = yield(name, "any", "from p2")
    yield(report, "out", "p2 got " .. v)
  ]], "p2", "t", name, report))
  local ch = channel.create(report)
  local got = {}
  guarded(function ()
    for i = 1, 2 do got[i] = select(2, system.awaitch(ch, "in")) end
  end)
  table.sort(got)
  H.same({"p1 got from p2", "p2 got from p1"}, table.unpack(got))
  p1:close() p2:close()
  ch:close()
end)

H.case("a task of a thread pool is the matching side", function ()
  local threads = require "coutil.threads"
  local name = newname()
  local ch = channel.create(name)
  local pool = threads.create(1)
  guarded(function ()
    assert(pool:dostring([[
      local coroutine = require "coroutine"
      local name = ...
      local ok, a, b = coroutine.yield(name, "in")
      coroutine.yield(name, "out", ok, a + b, "done")
    ]], "task", "t", name))
    H.same({true}, system.awaitch(ch, "out", 1, 2))
    H.same({true, true, 3, "done"}, system.awaitch(ch, "in"))
  end)
  pool:close()
  ch:close()
end)

H.case("eight threads share channels; every message arrives once",
function ()
  local threads = require "coutil.threads"
  local name = newname()
  local ch = channel.create(name)
  local pool = threads.create(8)
  local producers, consumers, per = 4, 4, 250
  for p = 1, producers do
    assert(pool:dostring([[
      local coroutine = require "coroutine"
      local name, p, per = ...
      for i = 1, per do coroutine.yield(name, "out", p * 100000 + i) end
    ]], "producer", "t", name, p, per))
  end
  for _ = 1, consumers do
    assert(pool:dostring([[
      local coroutine = require "coroutine"
      local assert = require "_G".assert
      local name, report, n = ...
      for _ = 1, n do
        local ok, v = coroutine.yield(name, "in")
        assert(ok)
        coroutine.yield(report, "out", v)
      end
    ]], "consumer", "t", name, name .. "/report",
        producers * per // consumers))
  end
  local report = channel.create(name .. "/report")
  local seen, count = {}, 0
  guarded(function ()
    for _ = 1, producers * per do
      local ok, v = system.awaitch(report, "in")
      assert(ok and math.type(v) == "integer")
      assert(not seen[v], "delivered twice")
      seen[v] = true
      count = count + 1
    end
  end, 60)
  pool:close()
  H.same({producers * per}, count)
  for p = 1, producers do
    for i = 1, per do assert(seen[p * 100000 + i], "lost") end
  end
  ch:close()
  report:close()
end)

C.childcase("lua_close forgets pending awaitch calls", function ()
  local ok, out = H.runlua[[
    local system = require "coutil.system"
    local channel = require "coutil.channel"
    local kept = channel.create("test/channel/close")
    for _ = 1, 3 do
      coroutine.wrap(system.awaitch)(channel.create("test/channel/close"),
                                     "in", "never")
    end
    local matched = channel.create("test/channel/close2")
    coroutine.wrap(system.awaitch)(matched, "in")
    assert(channel.create("test/channel/close2"):sync("out", "late"))
    print("done")
  ]]
  assert(ok, out)
  assert(out:find("done", 1, true), out)
end)

C.childcase("a channel created before coutil.system outlives its loop",
function ()
  local ok, out = H.runlua[[
    local channel = require "coutil.channel"
    local early = channel.create("test/channel/early")
    local system = require "coutil.system"
    coroutine.wrap(system.awaitch)(early, "in")
    print("done")
  ]]
  assert(ok, out)
  assert(out:find("done", 1, true), out)
end)

-- A waiter whose stack cannot take the values of its match used to be
-- left waiting for ever (the values were taken, nothing resumed it).
H.case("a match with more values than the waiter's stack takes fails it", function ()
  local name = newname()
  local rch, sch = channel.create(name), channel.create(name)
  local filler, big = {}, {}
  for i = 1, 20000 do filler[i] = i end
  for i = 1, 990000 do big[i] = i end  -- 1,000,000 slots at most in all
  local res
  local function deep (...)  -- keeps the 20,000 values in its frame
    res = H.pack(system.awaitch(rch, "in"))
    return select("#", ...)
  end
  spawn(deep, table.unpack(filler))
  H.same({true}, sch:sync("out", table.unpack(big)))
  big = nil
  drain(10)
  H.same({false, "stack overflow"}, table.unpack(res, 1, res.n))
  rch:close()
  sch:close()
end)

H.done()
