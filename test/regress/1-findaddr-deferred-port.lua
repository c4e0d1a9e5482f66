-- test/regress/1-findaddr-deferred-port.lua
-- What broke: system.findaddr with a port number as its service wrote the
-- number's text into a buffer in its own C frame and kept a pointer to
-- it. When the lookup had to wait for one its coroutine had left early
-- (resumed by coroutine.resume), it started after findaddr had returned
-- (yielded), and read whatever the C stack held there by then: the
-- addresses came back with the wrong port ("127.0.0.1:8" for 80). Found by
-- the garbage collector stress mode (make check-gc). Fixed: the port's
-- text lives in the request's arguments.

local H = require "helpers"
local system = require "coutil.system"

H.case("a deferred findaddr keeps its numeric port", function ()
  for round = 1, 20 do
    local port = 1000 + round * 37
    local got
    local co = coroutine.create(function ()
      system.findaddr("localhost", port)  -- left early below
      local list = assert(system.findaddr("127.0.0.1", port, "4s"))
      got = tostring(list:getaddress())
    end)
    assert(coroutine.resume(co))
    assert(coroutine.resume(co, "early"))  -- now waits for the first
    -- calls at the depth where findaddr's frame was, which overwrite it
    coroutine.wrap(function ()
      for _ = 1, 10 do
        local s = string.format("%099d %s %099d", round, ("9"):rep(200), round)
        assert(#s > 0)
      end
    end)()
    local deadline = system.nanosecs() + 10e9
    while got == nil and system.nanosecs() < deadline do
      collectgarbage()
      system.run("step")
    end
    H.same({"127.0.0.1:" .. port}, got)
  end
end)

H.done()
