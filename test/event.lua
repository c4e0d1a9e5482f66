-- test/event.lua: coutil.event (manual: "Events").
local H = require "helpers"
local event = require "coutil.event"

local function unpacked (t) return table.unpack(t, 1, t.n) end

local function suspended (co) return coroutine.status(co) == "suspended" end

-- Starts f in a tracked coroutine that records what each await returned.
local function waiter (f, ...)
  local log = {}
  local co = H.spawn(function (...) return f(log, ...) end, ...)
  return co, log
end

H.case("await returns the value and the emit's arguments", function ()
  local e = {}
  local co, log = waiter(function (log)
    log[1] = H.pack(event.await(e))
  end)
  assert(event.pending(e) == true)
  H.same({true}, event.emitone(e, 1, nil, "x"))
  H.same({e, 1, nil, "x", n = 4}, unpacked(log[1]))
  assert(coroutine.status(co) == "dead")
  assert(event.pending(e) == false)
end)

H.case("emits without waiters return false", function ()
  local e = {}
  H.same({false}, event.emitone(e))
  H.same({false}, event.emitall(e, 1, 2))
  H.same({false}, event.pending(e))
end)

H.case("any value but nil and NaN can be an event", function ()
  for _, e in ipairs{"str", 1, 2.5, true, false, print,
                     coroutine.create(print), math.huge} do
    local got
    H.spawn(function () got = H.pack(event.await(e)) end)
    assert(event.pending(e) == true)
    assert(event.emitone(e, "v") == true)
    H.same({e, "v"}, unpacked(got))
  end
end)

H.case("emitone resumes the first waiter, in suspension order", function ()
  local e, order = {}, {}
  for i = 1, 3 do
    H.spawn(function () event.await(e); order[#order + 1] = i end)
  end
  assert(event.emitone(e) == true)
  H.same({1}, table.unpack(order))
  assert(event.emitone(e) == true)
  assert(event.emitone(e) == true)
  H.same({1, 2, 3}, table.unpack(order))
  assert(event.emitone(e) == false)
end)

H.case("emitall resumes every waiter in suspension order", function ()
  local e, order = {}, {}
  for i = 1, 50 do
    H.spawn(function () event.await(e); order[#order + 1] = i end)
  end
  assert(event.emitall(e, "x") == true)
  assert(#order == 50)
  for i = 1, 50 do assert(order[i] == i) end
  assert(event.pending(e) == false)
end)

H.case("emitall resumes only those waiting when it began", function ()
  local e, count = {}, {0, 0}
  for i = 1, 2 do
    H.spawn(function ()
      for _ = 1, 3 do event.await(e); count[i] = count[i] + 1 end
    end)
  end
  assert(event.emitall(e) == true)
  H.same({1, 1}, table.unpack(count))
  assert(event.pending(e) == true)
  assert(event.emitall(e) == true)
  H.same({2, 2}, table.unpack(count))
  event.emitall(e)
  assert(event.pending(e) == false)
end)

H.case("a waiter that joins during emitall waits for the next one", function ()
  local e, log = {}, {}
  H.spawn(function ()
    event.await(e)
    log[#log + 1] = "first"
    H.spawn(function () event.await(e); log[#log + 1] = "joined" end)
  end)
  assert(event.emitall(e) == true)
  H.same({"first"}, table.unpack(log))
  assert(event.pending(e) == true)
  assert(event.emitall(e) == true)
  H.same({"first", "joined"}, table.unpack(log))
end)

H.case("a hand-off keeps the order when others join meanwhile", function ()
  local e, log = {}, {}
  H.spawn(function ()
    event.await(e)
    H.spawn(function () event.await(e); log[#log + 1] = "B" end)
    event.await(e)
    log[#log + 1] = "A"
  end)
  event.emitone(e)
  event.emitone(e)
  H.same({"B"}, table.unpack(log))
  event.emitone(e)
  H.same({"B", "A"}, table.unpack(log))
  assert(event.pending(e) == false)
end)

H.case("a long hand-off resumes the same coroutine every time", function ()
  local e, got = {}, 0
  local co = H.spawn(function ()
    while true do
      local v, i = event.await(e)
      assert(v == e)
      got = got + i
    end
  end)
  for i = 1, 1000 do assert(event.emitone(e, i) == true) end
  assert(got == 500500)
  assert(suspended(co))
  coroutine.close(co)
  assert(event.pending(e) == false)
end)

H.case("what a resumed coroutine yields is discarded", function ()
  local e = {}
  local co = H.spawn(function ()
    event.await(e)
    coroutine.yield(1, 2, 3)
    return "done"
  end)
  H.same({true}, event.emitone(e))
  assert(suspended(co))
  H.same({true, "done"}, coroutine.resume(co))
end)

H.case("awaitany returns the value emitted and its arguments", function ()
  local a, b = {}, {}
  local co, log = waiter(function (log)
    log[1] = H.pack(event.awaitany(nil, a, nil, b))
  end)
  assert(event.pending(a) and event.pending(b))
  H.same({true}, event.emitone(b, "x", "y"))
  H.same({b, "x", "y"}, unpacked(log[1]))
  assert(coroutine.status(co) == "dead")
  H.same({false}, event.pending(a))
  H.same({false}, event.emitone(a))
end)

H.case("awaitany on a repeated value is resumed once", function ()
  local a, n = {}, 0
  H.spawn(function () event.awaitany(a, a, a); n = n + 1 end)
  assert(event.emitall(a) == true)
  assert(n == 1)
  assert(event.pending(a) == false)
end)

H.case("awaitany needs a value", function ()
  H.spawn(function ()
    H.badarg(1, "value expected", event.awaitany)
    H.badarg(1, "value expected", event.awaitany, nil, nil)
    H.raises("table index is NaN", event.awaitany, nil, 0/0)
    event.await({})  -- leaves the coroutine suspended for H.spawn
  end)
end)

H.case("awaitall returns true once every value was emitted", function ()
  local a, b, c = {}, {}, {}
  local co, log = waiter(function (log)
    log[1] = H.pack(event.awaitall(a, nil, b, a, c, b))
  end)
  assert(event.emitone(b, "ignored") == true)
  assert(suspended(co))
  H.same({false}, event.pending(b))
  H.same({true}, event.pending(a))
  assert(event.emitall(a) == true)
  H.same({false}, event.emitone(a))
  assert(suspended(co))
  assert(event.emitone(c) == true)
  H.same({true}, unpacked(log[1]))
  assert(coroutine.status(co) == "dead")
end)

H.case("awaitall with no value returns true at once", function ()
  local co = H.track(coroutine.create(function ()
    return event.awaitall(), event.awaitall(nil, nil)
  end))
  H.same({true, true, true}, coroutine.resume(co))
  assert(coroutine.status(co) == "dead")
end)

H.case("await functions raise 'unable to yield' outside coroutines",
function ()
  H.raises("unable to yield", event.await, {})
  H.raises("unable to yield", event.awaitany, {})
  H.raises("unable to yield", event.awaitall, {})
  H.raises("unable to yield", event.awaitall)
  H.raises("unable to yield", event.await)  -- checked first
end)

H.case("'unable to yield' across a C call boundary", function ()
  local co = H.track(coroutine.create(function ()
    local ok, err = pcall(table.sort, {1, 2}, function ()
      event.await({})
    end)
    return ok, err
  end))
  local ok, okcall, err = coroutine.resume(co)
  assert(ok and okcall == false, err)
  assert(err:find("unable to yield", 1, true), err)
end)

H.case("bad arguments", function ()
  H.spawn(function ()
    -- events are table keys: waiting on one that cannot be fails as
    -- indexing a table with it does
    H.raises("table index is nil", event.await)
    H.raises("table index is nil", event.await, nil)
    H.raises("table index is NaN", event.await, 0/0)
    H.raises("table index is NaN", event.awaitall, 1, 2, 0/0)
    event.await({})
  end)
  -- looking one up finds no waiter
  H.same({false}, event.emitone())
  H.same({false}, event.emitall(nil, 1))
  H.same({false}, event.emitone(0/0))
  H.same({false}, event.pending())
  H.same({false}, event.pending(nil))
  H.same({false}, event.pending(0/0))
end)

H.case("an emitall wakes only those waiting when it began", function ()
  local e, log = {}, {}
  for i = 1, 3 do
    H.spawn(function ()
      local _, v = event.await(e)
      log[#log + 1] = i .. ":" .. v
      if i == 1 then
        -- the others belong to the outer emission: this one finds none
        log[#log + 1] = tostring(event.emitall(e, "inner"))
        log[#log + 1] = tostring(event.pending(e))
      end
    end)
  end
  H.same({true}, event.emitall(e, "outer"))
  H.same({"1:outer", "false", "false", "2:outer", "3:outer"},
         table.unpack(log))
end)

H.case("a waiter of an emitall that awaits again can be woken inside it",
function ()
  local e, log = {}, {}
  H.spawn(function ()
    local _, v = event.await(e)
    log[#log + 1] = "a:" .. v
    _, v = event.await(e)  -- after the outer began: not one of its own
    log[#log + 1] = "a again:" .. v
  end)
  H.spawn(function ()
    local _, v = event.await(e)
    log[#log + 1] = "b:" .. v
    event.emitall(e, "inner")
  end)
  event.emitall(e, "outer")
  H.same({"a:outer", "b:outer", "a again:inner"}, table.unpack(log))
end)

H.case("coroutine.resume wakes await with the resume values", function ()
  local e = {}
  local co, log = waiter(function (log)
    log[1] = H.pack(event.await(e))
    log[2] = H.pack(event.await(e))  -- can await again right away
  end)
  H.same({true}, coroutine.resume(co, "a", nil))
  H.same({"a", nil, n = 2}, unpacked(log[1]))
  assert(suspended(co))
  assert(event.emitone(e, 7) == true)
  H.same({e, 7}, unpacked(log[2]))
  assert(event.pending(e) == false)
end)

H.case("an early-resumed waiter is no longer registered", function ()
  local e, f = {}, {}
  local co = H.spawn(function ()
    event.await(e)
    event.await(f)
  end)
  coroutine.resume(co)  -- now awaits f
  H.same({false}, event.pending(e))
  H.same({false}, event.emitone(e))
  H.same({false}, event.emitall(e))
  assert(suspended(co))
  assert(event.emitone(f) == true)
end)

H.case("early resume of awaitany and awaitall", function ()
  local a, b = {}, {}
  local co, log = waiter(function (log)
    log[1] = H.pack(event.awaitany(a, b))
    log[2] = H.pack(event.awaitall(a, b))
    log[3] = H.pack(event.await(b))
  end)
  coroutine.resume(co, 1)
  H.same({1}, unpacked(log[1]))
  event.emitone(a)  -- awaitall: a counted, still waits for b
  coroutine.resume(co, 2, 3)
  H.same({2, 3}, unpacked(log[2]))
  H.same({false}, event.pending(a))
  assert(event.emitone(b, "b") == true)
  H.same({b, "b"}, unpacked(log[3]))
  assert(coroutine.status(co) == "dead")
end)

H.case("a closed waiter is skipped", function ()
  local e, got = {}, false
  local co = H.spawn(function () event.await(e) end)
  H.spawn(function () event.await(e); got = true end)
  coroutine.close(co)
  assert(event.emitone(e) == true)
  assert(got)
end)

H.case("an error in a resumed coroutine is a warning", function ()
  local ok, out = H.runlua([[
    warn("@on")
    local event = require "coutil.event"
    local e, after = {}, false
    coroutine.wrap(function () event.await(e); error("boom") end)()
    coroutine.wrap(function () event.await(e); after = true end)()
    print("emitall", event.emitall(e))
    print("after", after)
  ]])
  assert(ok, out)
  assert(out:find("coutil: unhandled error in coroutine: ", 1, true), out)
  assert(out:find("boom", 1, true), out)
  assert(out:find("emitall\ttrue", 1, true), out)
  assert(out:find("after\ttrue", 1, true), out)
end)

H.case("nested emits", function ()
  local a, b, c, log = {}, {}, {}, {}
  H.spawn(function ()
    event.await(a)
    log[#log + 1] = "a"
    local r1 = event.emitone(b)
    local r2 = event.emitone(a)  -- nobody: we are not waiting
    log[#log + 1] = r1
    log[#log + 1] = r2
  end)
  H.spawn(function ()
    event.await(b)
    log[#log + 1] = "b"
    local r = event.emitone(c)
    log[#log + 1] = r
  end)
  H.spawn(function () event.await(c); log[#log + 1] = "c" end)
  assert(event.emitone(a) == true)
  H.same({"a", "b", "c", true, true, false}, table.unpack(log))
end)

-- The harness checks that what H.track got is collected by the end.
H.case("a waiter too deep to resume stays registered", function ()
  local N, evs, reached = 300, {}, 0
  for i = 1, N do
    evs[i] = {}
    H.spawn(function ()
      event.await(evs[i])
      reached = i
      if i < N then event.emitone(evs[i + 1]) end
    end)
  end
  event.emitone(evs[1])  -- the chain breaks at Lua's C-stack limit
  assert(reached > 1 and reached < N, reached)
  assert(event.pending(evs[reached + 1]) == true)
  event.emitone(evs[reached + 1])  -- its waiter was not lost
  assert(reached == N, reached)
end)

H.case("a waiter does not keep its value nor itself alive", function ()
  local e = H.track({})
  H.spawn(event.await, e)
end)

H.case("a waiter lives as long as its value", function ()
  local weak = setmetatable({}, {__mode = "k"})
  local e, done = {}, false
  do
    local co = coroutine.create(function () event.await(e); done = true end)
    coroutine.resume(co)
    weak[co] = true
    H.track(co)
  end
  collectgarbage(); collectgarbage()
  assert(next(weak) ~= nil, "the waiting coroutine was collected")
  assert(event.emitone(e) == true)
  assert(done)
end)

H.case("a waiter on several values is collected with all of them",
function ()
  H.spawn(event.awaitall, H.track({}, {}))
end)

H.case("a coroutine no longer waiting is not kept by the values",
function ()
  local a, b = {}, {}
  local weak = setmetatable({}, {__mode = "k"})
  weak[H.spawn(event.awaitany, a, b)] = "awaitany"
  weak[H.spawn(event.awaitall, b, a)] = "awaitall waiting"
  weak[H.spawn(event.await, a)] = "await resumed early"
  weak[H.spawn(event.awaitany, b, a)] = "awaitany resumed early"
  weak[H.spawn(event.awaitall, a, b)] = "awaitall resumed early"
  for co, what in pairs(weak) do
    if what:find("early") then coroutine.resume(co) end
  end
  assert(event.emitall(b) == true)
  collectgarbage(); collectgarbage()
  local co, what = next(weak)
  assert(what == "awaitall waiting" and next(weak, co) == nil, what)
  assert(event.pending(a) == true and event.pending(b) == false)
end)

H.case("stale entries do not pile up", function ()
  local a, b = {}, {}
  local co = H.spawn(function ()
    for _ = 1, 10000 do event.awaitany(a, b) end
    event.await(b)
  end)
  collectgarbage(); collectgarbage()
  local before = collectgarbage("count")
  for _ = 1, 10000 do assert(event.emitone(b) == true) end
  collectgarbage(); collectgarbage()
  local grown = collectgarbage("count") - before
  assert(grown < 64, "queue grew by " .. grown .. " KB")
  assert(event.pending(a) == false)
  assert(event.pending(b) == true)
  event.emitone(b)
  assert(coroutine.status(co) == "dead")
end)

H.case("many waiters grow and shrink a queue", function ()
  local e, n = {}, 0
  local cos = {}
  for i = 1, 300 do
    cos[i] = H.spawn(function () event.await(e); n = n + 1 end)
  end
  for i = 1, 300, 2 do coroutine.close(cos[i]) end  -- stale entries
  for _ = 1, 300 do
    H.spawn(function () event.await(e); n = n + 1 end)
  end
  assert(event.emitall(e) == true)
  assert(n == 450, n)
  assert(event.pending(e) == false)
end)

-- A value that is never collected (a string, a number) used to keep its
-- waiter queue after its last waiter left: awaiting "reply:"..id for
-- ever new ids grew the state by ~270 bytes per id, for good.
H.case("queues of never-collected values go with their last waiter", function ()
  local function grown (f)
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    for i = 1, 20000 do f(i) end
    collectgarbage()
    collectgarbage()
    return (collectgarbage("count") - before) * 1024
  end
  local emitted = grown(function (i)  -- woken by an emit
    local k = "reply:" .. i
    coroutine.wrap(function () event.await(k) end)()
    assert(event.emitone(k))
  end)
  local resumed = grown(function (i)  -- resumed by someone else
    local co = coroutine.create(event.awaitany)
    coroutine.resume(co, i + 0.5, "any:" .. i)
    coroutine.resume(co)
  end)
  local closed = grown(function (i)  -- closed, then emitted on
    local k = "closed:" .. i
    local co = coroutine.create(event.await)
    coroutine.resume(co, k)
    coroutine.close(co)
    assert(event.emitall(k) == false)
  end)
  assert(emitted < 100000, emitted .. " bytes more")
  assert(resumed < 100000, resumed .. " bytes more")
  assert(closed < 100000, closed .. " bytes more")
  assert(event.pending("reply:1") == false)
end)

-- Queues never move (src/event.c): the entry of a waiter being resumed is
-- reserved, and a queue compacted meanwhile moves it and tells its emit.
H.case("waiters that fill the queue during a resume keep FIFO order", function ()
  local e, order = {}, {}
  for _ = 1, 3 do  -- stale entries ahead of the first live one
    local co = coroutine.create(event.await)
    coroutine.resume(co, e)
    coroutine.close(co)
  end
  local function waiter (name)
    return coroutine.wrap(function ()
      while true do
        event.await(e)
        order[#order + 1] = name
        if name == "w" and #order == 1 then
          for i = 1, 10 do waiter("n" .. i)() end  -- fill and compact
          assert(event.emitone(e))  -- nested: the first new one
        end
      end
    end)
  end
  waiter("w")()
  assert(event.emitone(e))
  H.same({"w", "n1"}, table.unpack(order))
  for _ = 1, 11 do assert(event.emitone(e)) end
  -- n1 awaited again (in the nested emit) before w did
  H.same({"w", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10",
          "n1", "w"}, table.unpack(order))
end)

H.case("a hand-off goes on in place while others join and leave", function ()
  local e, got, left = {}, 0, 0
  coroutine.wrap(function ()
    while true do
      event.await(e)
      got = got + 1
      if got % 7 == 0 then  -- a waiter that leaves at once, stale later
        local co = coroutine.create(event.await)
        coroutine.resume(co, e)
        coroutine.close(co)
        left = left + 1
      end
    end
  end)()
  for i = 1, 5000 do assert(event.emitone(e, i)) end
  assert(got == 5000 and left == 714)
  assert(event.pending(e))
end)

-- The emit cache keeps a raw pointer to the last queue of a table; the
-- queue's finalizer clears it, so a new table at the same address (or the
-- old one back to life) never finds a freed or foreign queue.
H.case("the emit cache never outlives the queue it points to", function ()
  for _ = 1, 200 do
    local t = {}
    coroutine.wrap(function () event.await(t) end)()
    assert(event.emitone(t))  -- cached now
    t = nil
    collectgarbage()
    collectgarbage()
    local u = {}  -- may take t's address
    assert(event.emitone(u) == false)
    local woke = false
    coroutine.wrap(function () event.await(u) woke = true end)()
    assert(event.emitone(u) and woke)
  end
  local back
  do
    local t = setmetatable({}, {__gc = function (t) back = t end})
    coroutine.wrap(function () event.await(t) end)()
    assert(event.emitone(t))
  end
  collectgarbage()
  collectgarbage()
  assert(back ~= nil)  -- back to life, its queue finalized
  local woke = false
  coroutine.wrap(function () event.await(back) woke = true end)()
  assert(event.emitone(back) and woke)
  assert(event.emitone(back) == false)
end)

H.done()
