-- test/readme.lua: the server of README.md runs under the coutil command
-- and echoes what two clients send at once (on a free port instead of
-- 8080); then the child is stopped.

local H = require "helpers"
local system = require "coutil.system"
local memory = H.cmodule "memory"

local function readmeblock ()
  local text = assert(io.open("README.md")):read("a")
  local block = text:match("\n```lua\n(.-)\n```\n")
  assert(block and block:find("server:accept", 1, true), "no server block")
  return block
end

-- A port nobody listens on now (the kernel gives it; we let it go).
local function freeport ()
  local s = assert(system.socket("passive", "ipv4"))
  assert(s:bind(system.address("ipv4", "127.0.0.1", 0)))
  local port = s:getaddress().port
  s:close()
  return port
end

H.case("the README's echo server echoes two clients at once", function ()
  local port = freeport()
  local code = readmeblock():gsub("8080", tostring(port))
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  -- without the suite's LUA_PATH, where test/memory.lua would hide the
  -- memory module
  local args = {"-u", "LUA_PATH"}
  if os.getenv("COUTIL_LUA") then args[#args + 1] = os.getenv("COUTIL_LUA") end
  args[#args + 1] = "build/bin/coutil"
  args[#args + 1] = path
  local cmd = {execfile = "env", arguments = args, stderr = false}
  H.run(function ()
    local done
    coroutine.wrap(function () done = table.pack(system.execute(cmd)) end)()
    local function client (text)
      local c = assert(system.socket("stream", "ipv4"))
      local addr = system.address("ipv4", "127.0.0.1", port)
      for _ = 1, 100 do  -- the child needs a moment to listen
        if c:connect(addr) then break end
        c:close()
        system.suspend(0.05)
        c = assert(system.socket("stream", "ipv4"))
      end
      assert(c:write(text))
      local buf = memory.create(#text)
      local got = 0
      while got < #text do
        got = got + assert(c:read(buf, got + 1))
      end
      c:close()
      return buf:tostring()
    end
    local a, b
    coroutine.wrap(function () a = client("first client\n") end)()
    b = client("second client\n")
    while a == nil do system.suspend(0.01) end
    assert(a == "first client\n", a)
    assert(b == "second client\n", b)
    assert(system.emitsig(cmd.pid, "terminate"))
    while done == nil do system.suspend(0.01) end
    assert(done[1] == "terminate", tostring(done[1]))
  end, 30)
  os.remove(path)
end)

H.done()
