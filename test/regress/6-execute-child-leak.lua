-- allocfail scenario (see 3-loop-init-nomem.lua); a leak shows under
-- make check-allocfail-asan.
-- What broke: system.execute allocated its Child before cu_await_begin,
-- whose memory error (a new operation record: its registry slots and
-- guard) then leaked the Child.
return function ()
  local system = require "coutil.system"
  loop(system, function ()
    check(system.execute("/bin/true"))
    check(system.execute("/bin/true"))
  end)
end
