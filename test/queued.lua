-- test/queued.lua: coutil.queued (manual: "Queued Events").
local H = require "helpers"
local queued = require "coutil.queued"
local event = require "coutil.event"

local function unpacked (t) return table.unpack(t, 1, t.n) end

H.case("names", function ()
  assert(queued.queued == queued.isqueued)
  assert(type(queued.pending) == "function")
  for _, name in ipairs{"await", "awaitall", "awaitany", "emitall",
                        "emitone", "isqueued", "pending"} do
    assert(type(queued[name]) == "function", name)
  end
end)

H.case("an emit with a waiter resumes it and returns true", function ()
  local e, got = {}, nil
  H.spawn(function () got = H.pack(queued.await(e)) end)
  assert(queued.pending(e) == true)
  H.same({true}, queued.emitone(e, 1, 2))
  H.same({e, 1, 2}, unpacked(got))
  assert(queued.isqueued(e) == false)
end)

H.case("an emit without waiters is stored and returns false", function ()
  local e = {}
  H.same({false}, queued.emitone(e, "a", nil))
  H.same({false}, queued.emitall(e, "b"))
  assert(queued.isqueued(e) == true and queued.queued(e) == true)
  assert(queued.pending(e) == false)
  local co = H.track(coroutine.create(function ()
    local r1 = H.pack(queued.await(e))
    local r2 = H.pack(queued.await(e))
    return r1, r2
  end))
  local ok, r1, r2 = coroutine.resume(co)
  assert(ok and coroutine.status(co) == "dead")  -- no yield at all
  H.same({e, "a", nil, n = 3}, unpacked(r1))
  H.same({e, "b"}, unpacked(r2))
  assert(queued.isqueued(e) == false)
end)

H.case("stored events are consumed in FIFO order, then it waits", function ()
  local e, got = {}, {}
  for i = 1, 20 do queued.emitone(e, i) end
  local co = H.spawn(function ()
    while true do
      local _, v = queued.await(e)
      got[#got + 1] = v
    end
  end)
  assert(#got == 20)
  for i = 1, 20 do assert(got[i] == i) end
  assert(queued.pending(e) == true and queued.isqueued(e) == false)
  assert(queued.emitone(e, 21) == true)
  assert(got[21] == 21)
  coroutine.close(co)
end)

H.case("a consuming await works in the main chunk", function ()
  local e = {}
  queued.emitone(e, 1)
  H.same({e, 1}, queued.await(e))
  queued.emitone(e, 2)
  H.same({e, 2}, queued.awaitany(nil, e))
  queued.emitone(e, 3)
  H.same({true}, queued.awaitall(e, e))
  H.raises("unable to yield", queued.await, e)
  H.raises("unable to yield", queued.awaitany, e)
  H.raises("unable to yield", queued.awaitall, e)
end)

H.case("awaitall checks yielding before consuming", function ()
  local a, b = {}, {}
  queued.emitone(a, 1)
  H.raises("unable to yield", queued.awaitall, a, b)
  assert(queued.isqueued(a) == true)
end)

H.case("awaitany takes the leftmost stored event", function ()
  local a, b, c = {}, {}, {}
  queued.emitone(c, "c")
  queued.emitone(b, "b")
  H.spawn(function ()
    H.same({b, "b"}, queued.awaitany(a, b, c))
    H.same({c, "c"}, queued.awaitany(a, b, c))
    event.await({})
  end)
  assert(queued.isqueued(b) == false and queued.isqueued(c) == false)
end)

H.case("awaitany waits when nothing is stored", function ()
  local a, b = {}, {}
  local got
  H.spawn(function () got = H.pack(queued.awaitany(a, b)) end)
  assert(queued.emitone(b, 1) == true)
  H.same({b, 1}, unpacked(got))
  assert(queued.pending(a) == false)
  assert(queued.emitone(a) == false)  -- stored, nobody waits any more
  assert(queued.isqueued(a) == true)
end)

H.case("awaitall consumes stored events and waits for the rest",
function ()
  local a, b, c = {}, {}, {}
  queued.emitone(a, 1)
  queued.emitone(a, 2)
  queued.emitone(c)
  local got
  local co = H.spawn(function () got = H.pack(queued.awaitall(a, b, c, a)) end)
  assert(queued.isqueued(a) == true)   -- one of two consumed
  assert(queued.isqueued(c) == false)
  assert(queued.pending(a) == false and queued.pending(b) == true)
  assert(queued.emitone(b) == true)
  H.same({true}, unpacked(got))
  assert(coroutine.status(co) == "dead")
end)

H.case("awaitall without values and with everything stored", function ()
  local a = {}
  queued.emitall(a)
  local co = H.track(coroutine.create(function ()
    return queued.awaitall(), queued.awaitall(nil, a)
  end))
  H.same({true, true, true}, coroutine.resume(co))
end)

H.case("emitall with waiters does not store", function ()
  local e, n = {}, 0
  for _ = 1, 3 do H.spawn(function () queued.await(e); n = n + 1 end) end
  assert(queued.emitall(e) == true)
  assert(n == 3)
  assert(queued.isqueued(e) == false)
end)

H.case("early resume returns the resume values", function ()
  local e, got = {}, nil
  local co = H.spawn(function ()
    got = H.pack(queued.await(e))
    queued.await(e)
  end)
  coroutine.resume(co, "x")
  H.same({"x"}, unpacked(got))
  assert(queued.emitone(e, 1) == true)
  assert(coroutine.status(co) == "dead")
end)

H.case("bad arguments", function ()
  -- a value that cannot be a table key has no waiter and stores nothing
  H.same({false}, queued.emitone())
  H.same({false}, queued.emitall(nil))
  H.same({false}, queued.emitone(0/0))
  H.same({false}, queued.isqueued())
  H.same({false}, queued.queued(nil))
  H.same({false}, queued.pending())
  -- and waiting on it fails as indexing a table with it does
  H.raises("table index is nil", queued.await)
  H.raises("table index is NaN", queued.await, 0/0)
  H.badarg(1, "value expected", queued.awaitany, nil)
  H.raises("table index is NaN", queued.awaitall, 1, 0/0)
end)

H.case("stored arguments live exactly as long as the value", function ()
  local weak = setmetatable({}, {__mode = "k"})
  local e = {}
  do
    local arg = {}
    queued.emitone(e, arg)
    weak[arg] = true
  end
  collectgarbage(); collectgarbage()
  assert(next(weak) ~= nil, "stored argument collected")
  H.track(e)
  e = nil
  collectgarbage(); collectgarbage()
  assert(next(weak) == nil, "stored argument kept after its value")
end)

H.case("an argument referring to its value does not keep it", function ()
  local weak = setmetatable({}, {__mode = "k"})
  do
    local e = {}
    queued.emitone(e, {e})
    weak[e] = true
    H.track(e)
  end
  collectgarbage(); collectgarbage()
  assert(next(weak) == nil)
end)

H.case("many stored events", function ()
  local e = {}
  for i = 1, 1000 do queued.emitone(e, i) end
  local sum = 0
  while queued.isqueued(e) do sum = sum + select(2, queued.await(e)) end
  assert(sum == 500500)
end)

-- The same for stored events: the queue of a string goes once its last
-- stored event is consumed.
H.case("stored events of never-collected values leave nothing behind", function ()
  collectgarbage()
  collectgarbage()
  local before = collectgarbage("count")
  for i = 1, 20000 do
    local k = "job:" .. i
    assert(queued.emitone(k, i) == false)
    local got
    coroutine.wrap(function () got = select(2, queued.await(k)) end)()
    assert(got == i)
  end
  collectgarbage()
  collectgarbage()
  local grown = (collectgarbage("count") - before) * 1024
  assert(grown < 100000, grown .. " bytes more")
  assert(queued.isqueued("job:1") == false)
end)

H.done()
