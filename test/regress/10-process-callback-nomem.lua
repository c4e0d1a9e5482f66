-- allocfail scenario (see 3-loop-init-nomem.lua and 7-openfile-callback-
-- nomem.lua): the leaks show under make check-allocfail-asan.
-- What broke: callbacks that resume a coroutine with a string pushed it
-- outside any protected call: execute's result for a child a signal
-- killed (the signal's name), awaitsig's (the name), timeout.call's
-- "timeout". A memory error there unwound through uv_run, the operation
-- record lost. Now they push through cu_await_pushp (cu_loop_pushp for
-- the timeout, which no record serves). The names compared below are
-- made after the call: a constant of this chunk would keep them alive,
-- and the push would find them instead of allocating.
local system = require "coutil.system"
local timeout = require "coutil.timeout"

return function ()
  loop(system, function ()
    local how, signal = check(system.execute("sh", "-c", "kill -TERM $$"))
    assert(how == "termin" .. "ate" and signal == 15)
    local msg, code = checkfail(timeout.call(0.01, system.suspend, 10))
    assert(msg == "time" .. "out" and code == 110)
    local got = spawn(function ()
      return check(system.awaitsig("userdef1"))
    end)
    -- no signal when it failed before waiting: it would end the process
    if got() then join(system, got) end
    check(system.emitsig(system.procinfo("#"), "userdef1"))
    assert(join(system, got) == "userdef1")
  end)
end
