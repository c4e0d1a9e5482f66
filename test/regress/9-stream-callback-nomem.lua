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
local memory = require "memory"

-- A result that must be a failure other than ENOMEM.
local function fails (ok, msg, code)
  if ok then error("failure: it did not fail", 0) end
  if code == 12 then check(ok, msg, code) end
end

return function ()
  loop(system, function ()
    local passive = check(system.socket("passive", "ipv4"))
    check(passive:bind(system.address("ipv4", "127.0.0.1", 0)))
    check(passive:listen(8))
    local bound = passive:getaddress("self")
    local client = check(system.socket("stream", "ipv4"))
    check(client:connect(bound))
    local server = check(passive:accept())
    local buf = memory.create(8)
    -- "closed": a reader the close of its socket wakes
    local reader = spawn(function () fails(client:read(buf)) end)
    system.suspend(0)
    client:close()
    join(system, reader)
    -- "end of file"
    fails(server:read(buf))
    server:close()
    -- "connection refused"
    passive:close()
    client = check(system.socket("stream", "ipv4"))
    fails(client:connect(bound))
    client:close()
  end)
end
