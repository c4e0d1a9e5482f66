-- allocfail scenario (see 3-loop-init-nomem.lua and 7-openfile-callback-
-- nomem.lua): the leaks show under make check-allocfail-asan.
-- What broke: the callbacks of findaddr and nameaddr pushed their results
-- onto the waiting coroutine outside any protected call: the strings of
-- nameaddr (the host and service names, the canonical name) and libuv's
-- message of a failed lookup. A memory error there unwound through uv_run
-- (the operation record lost, and the getaddrinfo result of a canonical
-- name with it). Now they push through cu_await_pushp, the result of
-- getaddrinfo freed by the callback unless the addresses object took it.
local system = require "coutil.system"

return function ()
  loop(system, function ()
    checkfail(system.findaddr("127.0.0.1", "no-such-service-x"))
    local host, service = check(system.nameaddr(
      system.address("ipv4", "127.0.0.1", 80)))
    check(system.nameaddr(80))
    check(system.nameaddr("localhost"))
  end)
end
