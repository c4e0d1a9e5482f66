-- test/regress/13-closed-waiter-key.lua
-- What broke: a coroutine closed with coroutine.close while it waited on a
-- value that is never collected (a string, a number, a boolean, a light
-- userdata) stayed in that value's queue, and the queue in the table of
-- queues, until some later emit, await or pending on the same value found
-- the stale entry. A program that waits on "reply:" .. id and cancels with
-- coroutine.close never uses that value again, so it kept a queue and a
-- dead coroutine (about 1.5 KiB) per cancelled wait, for good. Fixed: a
-- registration that makes a new queue for such a value sweeps the table of
-- queues once their number has doubled since the last sweep, dropping the
-- queues with no live waiter: at most twice as many as there are live
-- ones.

local H = require "helpers"
local event = require "coutil.event"
local queued = require "coutil.queued"

local N = 20000

local function heapkib ()
  collectgarbage("collect")
  collectgarbage("collect")
  return collectgarbage("count")
end

-- Waits with 'await' on the value made by 'key(i)' in a coroutine that is
-- then closed, N times; returns how much the Lua heap grew (KiB).
local function cancelled (await, key)
  local before = heapkib()
  for i = 1, N do
    local co = coroutine.create(await)
    assert(coroutine.resume(co, key(i)))
    assert(coroutine.status(co) == "suspended")
    assert(coroutine.close(co))
  end
  return heapkib() - before
end

local keys = {
  string = function (i) return "reply:" .. i end,
  number = function (i) return i + 0.5 end,
}

for kind, key in pairs(keys) do
  H.case("closed waiters on " .. kind .. " values are not kept", function ()
    local grown = cancelled(event.await, key)
    -- a few hundred queues left at most (swept at twice the live count, 64
    -- at least), against N = 20,000 without the sweep
    assert(grown < 1024, string.format("the heap grew by %.0f KiB", grown))
  end)
end

H.case("closed waiters of awaitany and queued.await are not kept", function ()
  local grown = cancelled(function (k) event.awaitany(k, k .. ":other") end,
                          keys.string)
  assert(grown < 1024, string.format("awaitany: the heap grew by %.0f KiB", grown))
  grown = cancelled(queued.await, keys.string)
  assert(grown < 1024, string.format("queued.await: the heap grew by %.0f KiB", grown))
end)

H.case("a sweep keeps the live waiters and the stored events", function ()
  local live, got = {}, {}
  for i = 1, 100 do
    live[i] = coroutine.create(function ()
      got[i] = select(2, event.await("live:" .. i))
    end)
    assert(coroutine.resume(live[i]))
  end
  for i = 1, 100 do queued.emitone("stored:" .. i, i) end  -- stored
  cancelled(event.await, keys.string)  -- many sweeps meanwhile
  for i = 1, 100 do
    assert(event.pending("live:" .. i), "waiter " .. i .. " lost")
    assert(event.emitone("live:" .. i, i))
    assert(got[i] == i)
    assert(queued.isqueued("stored:" .. i), "stored event " .. i .. " lost")
    local co = coroutine.wrap(function () return select(2, queued.await("stored:" .. i)) end)
    assert(co() == i)
  end
end)
H.case("a sweep amid an awaitany's registrations keeps the first ones", function ()
  -- calls on 2 to 4 new values each, and awaits on one between some of
  -- them, so that sweeps (each once as many queues were made as there
  -- were at the last one, 64 at least) come between the registrations of
  -- one call: a coroutine registering is running, and looks stale
  local woken, cos, want = 0, {}, 0
  for i = 1, 1000 do
    local values = {}
    for k = 1, 2 + (i * 7) % 3 do values[k] = "any:" .. i .. ":" .. k end
    cos[i] = coroutine.create(function ()
      local e = event.awaitany(table.unpack(values))
      assert(e == values[1])
      woken = woken + 1
    end)
    assert(coroutine.resume(cos[i]))
    want = want + 1
    if (i * 13) % 5 == 0 then
      local co = coroutine.create(function ()
        event.await("single:" .. i)
        woken = woken + 1
      end)
      assert(coroutine.resume(co))
      want = want + 1
    end
  end
  for i = 1, 1000 do
    assert(event.emitone("any:" .. i .. ":1"), "waiter " .. i .. " lost")
    if (i * 13) % 5 == 0 then
      assert(event.emitone("single:" .. i), "single waiter " .. i .. " lost")
    end
  end
  assert(woken == want)
  for i = 1, 1000 do
    assert(coroutine.status(cos[i]) == "dead")
    assert(not event.pending("any:" .. i .. ":2"))
  end
end)

H.done()
