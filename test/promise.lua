-- test/promise.lua: coutil.promise (manual: "Promises").
local H = require "helpers"
local promise = require "coutil.promise"
local event = require "coutil.event"

local function unpacked (t) return table.unpack(t, 1, t.n) end

-- Starts a coroutine that claims 'p' twice; returns it and the results.
local function claimtwice (p)
  local got = {}
  local co = H.spawn(function ()
    got[1] = H.pack(p())
    got[2] = H.pack(p())
  end)
  return co, got
end

H.case("create returns a promise and a fulfillment function", function ()
  local p, f = promise.create()
  assert(type(p) == "function" and type(f) == "function")
  H.same({false}, p(true))
  H.same({true}, f(1, nil, "x"))
  H.same({true}, p(true))
  H.same({1, nil, "x", n = 3}, p())  -- no yield once fulfilled
  H.same({1, nil, "x", n = 3}, p(false))
  H.same({false}, f("again"))  -- a second fulfilment replaces the results
  H.same({"again"}, p())
end)

H.case("a fulfillment without results", function ()
  local p, f = promise.create()
  f()
  H.same({n = 0}, p())
end)

H.case("claims wait for the fulfillment", function ()
  local p, f = promise.create()
  local got = {}
  for i = 1, 3 do
    H.spawn(function () got[i] = H.pack(p()) end)
  end
  assert(event.pending(p) == true)
  assert(f("r1", "r2") == true)
  for i = 1, 3 do H.same({"r1", "r2"}, table.unpack(got[i], 1, got[i].n)) end
  assert(event.pending(p) == false)
end)

H.case("p(true) never yields", function ()
  local p = promise.create()
  local co = H.track(coroutine.create(function () return p(true), p(1) end))
  H.same({true, false, false}, coroutine.resume(co))
end)

H.case("claiming an unfulfilled promise needs a coroutine", function ()
  local p = promise.create()
  H.raises("unable to yield", p)
end)

H.case("coroutine.resume returns its values; still unfulfilled", function ()
  local p, f = promise.create()
  local co, got = claimtwice(p)
  coroutine.resume(co, "early", nil)
  H.same({"early", nil, n = 2}, unpacked(got[1]))
  assert(p(true) == false)
  f("done")
  H.same({"done"}, unpacked(got[2]))
end)

H.case("an emit on the promise passes its arguments", function ()
  local p, f = promise.create()
  local co, got = claimtwice(p)
  assert(event.emitall(p, "a", "b") == true)
  H.same({"a", "b"}, unpacked(got[1]))
  assert(p(true) == false)
  assert(event.emitone(p) == true)
  H.same({n = 0}, unpacked(got[2]))
  assert(coroutine.status(co) == "dead")
  assert(f(1) == true)  -- still unfulfilled until now
end)

H.case("awaiting events on a fulfilled promise waits for an emit",
function ()
  local p, f = promise.create()
  f(1)
  local got
  H.spawn(function () got = H.pack(event.await(p)) end)
  assert(f(2) == false)
  assert(got == nil)
  event.emitone(p, 3)
  H.same({p, 3}, unpacked(got))
end)

H.case("awaitall", function ()
  local p1, f1 = promise.create()
  local p2, f2 = promise.create()
  local p3, f3 = promise.create()
  f3()
  local got
  local co = H.spawn(function () got = H.pack(promise.awaitall(p1, nil, p2, p3, p1)) end)
  f1()
  assert(got == nil)
  event.emitone(p2, "spurious")  -- not a fulfillment: keeps waiting
  assert(got == nil and coroutine.status(co) == "suspended")
  f2()
  H.same({true}, unpacked(got))
  assert(event.pending(p1) == false and event.pending(p2) == false)
end)

H.case("awaitall on fulfilled or no promises returns at once", function ()
  local p, f = promise.create()
  f()
  H.same({true}, promise.awaitall())
  H.same({true}, promise.awaitall(p, nil, p))
  H.raises("unable to yield", promise.awaitall, p, (promise.create()))
end)

H.case("awaitall resumed early", function ()
  local p = promise.create()
  local got
  local co = H.spawn(function () got = H.pack(promise.awaitall(p)) end)
  coroutine.resume(co, "x", "y")
  H.same({"x", "y"}, unpacked(got))
  assert(event.pending(p) == false)
end)

H.case("awaitany", function ()
  local p1 = promise.create()
  local p2, f2 = promise.create()
  local got
  H.spawn(function () got = H.pack(promise.awaitany(p1, nil, p2)) end)
  event.emitall(p1)  -- not a fulfillment: keeps waiting
  assert(got == nil)
  f2("r")
  H.same({p2}, unpacked(got))
  assert(event.pending(p1) == false)
end)

H.case("awaitany with a fulfilled promise returns it at once", function ()
  local p1 = promise.create()
  local p2, f2 = promise.create()
  local p3, f3 = promise.create()
  f3(); f2()
  H.same({p2}, promise.awaitany(p1, p2, p3))
  H.raises("unable to yield", promise.awaitany, p1)
end)

H.case("awaitany resumed early", function ()
  local p = promise.create()
  local got
  local co = H.spawn(function () got = H.pack(promise.awaitany(p)) end)
  coroutine.resume(co, 1)
  H.same({1}, unpacked(got))
end)

H.case("claimers woken another way are not kept by the promises",
function ()
  local p1, f1 = promise.create()
  local p2 = promise.create()
  local weak = setmetatable({}, {__mode = "k"})
  weak[H.spawn(promise.awaitany, p1, p2)] = "awaitany"
  weak[H.spawn(promise.awaitall, p2, p1)] = "awaitall waiting"
  weak[H.spawn(p2)] = "claim resumed early"
  for co, what in pairs(weak) do
    if what:find("early") then coroutine.resume(co) end
  end
  f1()
  -- the fulfillment woke the awaitall one too: it waits again, on p2
  collectgarbage(); collectgarbage()
  local co, what = next(weak)
  assert(what == "awaitall waiting" and next(weak, co) == nil, what)
  assert(event.pending(p2) == true and event.pending(p1) == false)
end)

H.case("onlypending and pickready", function ()
  local p1 = promise.create()
  local p2, f2 = promise.create()
  local p3 = promise.create()
  local p4, f4 = promise.create()
  f2(); f4()
  H.same({p1, p3}, promise.onlypending(p1, p2, nil, p3, p4))
  H.same({n = 0}, promise.onlypending())
  H.same({n = 0}, promise.onlypending(p2, p4))
  H.same({p2}, promise.pickready(p1, nil, p2, p3, p4))
  H.same({n = 0}, promise.pickready(p1, p3))
  H.same({n = 0}, promise.pickready())
end)

H.case("bad arguments", function ()
  local p = promise.create()
  H.badarg(2, "promise expected, got table", promise.onlypending, p, {})
  H.badarg(1, "promise expected", promise.pickready, print)
  H.badarg(2, "promise expected", promise.awaitall, p, 1)
  H.badarg(1, "promise expected", promise.awaitany)
  H.badarg(1, "promise expected", promise.awaitany, nil)
  H.badarg(2, "promise expected", promise.awaitany, p, "p")
end)

H.case("an unfulfilled promise and its claimers are collected", function ()
  local p = H.track(promise.create())
  H.spawn(p)
  H.spawn(promise.awaitany, p)
end)

H.case("a claimer lives while its fulfillment can come", function ()
  local weak = setmetatable({}, {__mode = "k"})
  local f
  local done = false
  do
    local p
    p, f = promise.create()
    local co = coroutine.create(function () p(); done = true end)
    coroutine.resume(co)
    weak[co] = true
    H.track(co)
  end
  collectgarbage(); collectgarbage()
  assert(next(weak) ~= nil)
  f()
  assert(done)
end)

H.done()
