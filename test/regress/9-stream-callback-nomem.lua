-- allocfail scenario (see 3-loop-init-nomem.lua and 7-openfile-callback-
-- nomem.lua): the leaks show under make check-allocfail-asan.
-- What broke: the callbacks of stream sockets pushed libuv's message of a
-- failure onto the waiting coroutine outside any protected call: a read at
-- the end of the stream ("end of file"), a connect refused (every request
-- that ends with a failure: cu_await_endrequest), a read ended by closing
-- the socket ("closed", from the close callback). A memory error there
-- unwound through uv_run, and the operation record was lost. Now they push
-- through cu_await_pushp (cu_await_pushresult).
local system = require "coutil.system"

return function ()
  loop(system, function ()
    local passive, bound, client, server = tcppair(system)
    local buf = memory.create(8)
    -- "closed": a reader the close of its socket wakes
    local reader = spawn(function () checkfail(client:read(buf)) end)
    system.suspend(0)
    client:close()
    join(system, reader)
    -- "end of file"
    checkfail(server:read(buf))
    server:close()
    -- "connection refused"
    passive:close()
    client = check(system.socket("stream", "ipv4"))
    checkfail(client:connect(bound))
    client:close()
  end)
end
