-- test/mutex.lua: coutil.mutex (manual: "Mutex").
local H = require "helpers"
local mutex = require "coutil.mutex"
local event = require "coutil.event"

H.case("lock, unlock, islocked, ownlock", function ()
  local e = {}
  H.same({false}, mutex.islocked(e))
  H.same({false}, mutex.ownlock(e))
  H.same({true}, mutex.lock(e))  -- free: the main chunk may take it
  H.same({true}, mutex.islocked(e))
  H.same({true}, mutex.ownlock(e))
  H.same({false}, mutex.unlock(e))  -- nobody waited
  H.same({false}, mutex.islocked(e))
  H.same({false}, mutex.ownlock(e))
end)

H.case("nested lock and lock not owned", function ()
  local e = {}
  H.raises("lock not owned", mutex.unlock, e)
  mutex.lock(e)
  H.raises("nested lock", mutex.lock, e)
  local co = H.track(coroutine.create(function ()
    H.raises("lock not owned", mutex.unlock, e)
    return mutex.ownlock(e), mutex.islocked(e)
  end))
  H.same({true, false, true}, coroutine.resume(co))
  mutex.unlock(e)
end)

H.case("lock waits while someone else owns it", function ()
  local e, log = {}, {}
  mutex.lock(e)
  local co = H.spawn(function ()
    log[#log + 1] = mutex.lock(e)
    log[#log + 1] = mutex.ownlock(e)
    mutex.unlock(e)
  end)
  assert(#log == 0 and event.pending(e))
  assert(mutex.unlock(e) == true)
  H.same({true, true}, table.unpack(log))
  assert(coroutine.status(co) == "dead")
  assert(mutex.islocked(e) == false)
end)

H.case("unlock hands the lock to the first waiting locker", function ()
  local e, order = {}, {}
  mutex.lock(e)
  local cos = {}
  for i = 1, 3 do
    cos[i] = H.spawn(function ()
      mutex.lock(e)
      order[#order + 1] = i
      event.await(cos)  -- holds the lock until told
      mutex.unlock(e)
    end)
  end
  mutex.unlock(e)
  H.same({1}, table.unpack(order))
  assert(mutex.islocked(e) and not mutex.ownlock(e))
  H.raises("unable to yield", mutex.lock, e)
  event.emitone(cos)  -- 1 unlocks: 2 gets it
  H.same({1, 2}, table.unpack(order))
  event.emitone(cos)
  event.emitone(cos)
  H.same({1, 2, 3}, table.unpack(order))
  assert(not mutex.islocked(e))
end)

H.case("unlock emits on the value: the first waiter wakes", function ()
  local e, log = {}, {}
  mutex.lock(e)
  H.spawn(function () event.await(e); log[#log + 1] = "event" end)
  H.spawn(function ()
    mutex.lock(e)
    log[#log + 1] = "locker"
    mutex.unlock(e)
  end)
  -- the plain event waiter came first: it wakes, the locker still waits
  -- with the lock free
  H.same({true}, mutex.unlock(e))
  H.same({"event"}, table.unpack(log))
  assert(not mutex.islocked(e) and event.pending(e))
  event.emitone(e)  -- any emit wakes the locker, which takes the lock
  H.same({"event", "locker"}, table.unpack(log))
  assert(not mutex.islocked(e))
end)

H.case("a locker resumed early keeps waiting", function ()
  local e, got = {}, nil
  mutex.lock(e)
  local co = H.spawn(function () got = H.pack(mutex.lock(e)) end)
  H.same({true}, coroutine.resume(co, "early"))
  assert(got == nil and coroutine.status(co) == "suspended")
  H.same({true}, event.emitone(e, "unrelated"))
  assert(got == nil and coroutine.status(co) == "suspended")
  mutex.unlock(e)
  H.same({true}, table.unpack(got, 1, got.n))
  assert(mutex.islocked(e) == true)  -- a finished owner keeps the lock
end)

H.case("an early-resumed locker keeps its place", function ()
  local e, order = {}, {}
  mutex.lock(e)
  local first = H.spawn(function ()
    mutex.lock(e); order[#order + 1] = 1; mutex.unlock(e)
  end)
  H.spawn(function ()
    mutex.lock(e); order[#order + 1] = 2; mutex.unlock(e)
  end)
  coroutine.resume(first)
  mutex.unlock(e)
  H.same({1, 2}, table.unpack(order))
end)

H.case("a locker woken by an unrelated emit queues up again", function ()
  local e, order = {}, {}
  mutex.lock(e)
  H.spawn(function ()
    mutex.lock(e); order[#order + 1] = 1; mutex.unlock(e)
  end)
  H.spawn(function ()
    mutex.lock(e); order[#order + 1] = 2; mutex.unlock(e)
  end)
  event.emitone(e)  -- wakes 1, which goes behind 2
  mutex.unlock(e)
  H.same({2, 1}, table.unpack(order))
end)

H.case("a dead locker is skipped", function ()
  local e, got = {}, false
  mutex.lock(e)
  local dead = H.spawn(function () mutex.lock(e) end)
  H.spawn(function () mutex.lock(e); got = true; mutex.unlock(e) end)
  coroutine.close(dead)
  mutex.unlock(e)
  assert(got)
  assert(not mutex.islocked(e))
end)

H.case("the lock of a value dies with it", function ()
  local e = H.track({})
  local co = H.track(coroutine.create(mutex.lock))
  coroutine.resume(co, e)
  assert(mutex.islocked(e))
  H.spawn(mutex.lock, e)
end)

H.case("bad arguments", function ()
  H.raises("table index is nil", mutex.lock)
  H.raises("table index is nil", mutex.lock, nil)
  H.raises("table index is NaN", mutex.lock, 0/0)
  for _, f in ipairs{mutex.islocked, mutex.ownlock} do
    H.same({false}, f())
    H.same({false}, f(0/0))
  end
  H.raises("lock not owned", mutex.unlock)
end)

H.done()
