-- allocfail scenario (see 3-loop-init-nomem.lua).
-- What broke: coroutine.load created the state coroutine's thread with
-- lua_newthread in the new state outside any protected call: a memory error
-- there had no handler and the new state's panic aborted the process. So
-- did system.resume, which pushed the values for the chunk (strings) onto
-- the chunk's thread on the pool thread, unprotected.
return function ()
  local system = require "coutil.system"
  local coroutine_ = require "coutil.coroutine"
  loop(system, function ()
    local co = checkmsg(coroutine_.load("return ..."))
    local ok, v = checkmsg(system.resume(co, "value"))
    assert(v == "value")
    coroutine_.close(co)
    co = checkmsg(coroutine_.load(function () return nil end))
    coroutine_.close(co)
  end)
end
