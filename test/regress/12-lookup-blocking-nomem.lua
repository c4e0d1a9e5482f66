-- allocfail scenario (see 3-loop-init-nomem.lua): the leak shows under
-- make check-allocfail-asan.
-- What broke: the blocking ('~') path of findaddr and of nameaddr on a
-- name pushed the getaddrinfo result onto the caller outside any
-- protected call, and freed the result only after the push: a memory
-- error in the push (the addresses object's strings, the canonical name,
-- libuv's message) raised past the free and leaked the whole list. Now
-- the push runs under lua_pcall and the result is freed either way.
local system = require "coutil.system"

return function ()
  local list = check(system.findaddr("127.0.0.1", 80, "~"))
  check(list:close())
  checkfail(system.findaddr("127.0.0.1", "no-such-service-x", "~"))
  check(system.nameaddr("LocalHost", "~"))  -- "localhost": a new string
  check(system.nameaddr(system.address("ipv4", "127.0.0.1", 80), "~"))
end
