-- bench/scale/server.lua <kind> <n>: the server process of
-- bench/conn_scale.lua, coutil or luv. An echo server on 127.0.0.1 that
-- prints "port <port> pid <pid>" and then serves:
--   * the first connection is the control connection: the server writes
--     "A" on it once accepted, "R" once it has accepted n more connections
--     (each then waits in a read), and exits when the client closes it;
--   * each of the n data connections echoes what it reads, until the
--     client closes it.
-- coutil: a coroutine per connection, sock:read into a 64-byte memory
-- buffer, sock:write of what was read. floor: the same in plain C on
-- libuv (bench/scale/floor_server.c). luv: uv.new_tcp per connection,
-- read_start with a callback that writes back what came.
-- Before it writes "A" and "R" it collects all garbage and prints its Lua
-- heap, "lua <bytes>", on its standard output (for the client to read at
-- the end).
local kind, n = arg[1], math.tointeger(tonumber(arg[2]))
assert(n, "usage: server.lua coutil|luv <n>")
local SIZE = 64

local function heap ()
  collectgarbage("collect")
  collectgarbage("collect")
  print(string.format("lua %d", math.floor(collectgarbage("count") * 1024)))
  io.stdout:flush()
end

if kind == "coutil" then
  local system = require "coutil.system"
  local memory = require "memory"
  local srv = assert(system.socket("passive", "ipv4"))
  assert(srv:bind(system.address("ipv4", "127.0.0.1", 0)))
  assert(srv:listen(4096))
  print(string.format("port %d pid %d", srv:getaddress().port,
                      system.procinfo("#")))
  io.stdout:flush()
  local function serve (c)
    local buf = memory.create(SIZE)
    while true do
      local got = c:read(buf)
      if not got then break end
      assert(c:write(buf, 1, got))
    end
    c:close()
  end
  coroutine.wrap(function ()
    local control = assert(srv:accept())
    assert(control:setoption("nodelay", true))
    coroutine.wrap(function ()
      local buf = memory.create(16)
      while control:read(buf) do end
      os.exit(0, false)
    end)()
    heap()
    assert(control:write("A"))
    for _ = 1, n do
      local c = assert(srv:accept())
      assert(c:setoption("nodelay", true))
      coroutine.wrap(serve)(c)
    end
    heap()
    assert(control:write("R"))
    srv:close()
  end)()
  system.run()
elseif kind == "luv" then
  local uv = require "luv"
  local srv = uv.new_tcp()
  assert(srv:bind("127.0.0.1", 0))
  local control
  local accepted = 0
  assert(srv:listen(4096, function (err)
    assert(not err, err)
    local c = uv.new_tcp()
    assert(srv:accept(c))
    c:nodelay(true)
    if not control then
      control = c
      c:read_start(function (_, data)
        if not data then os.exit(0, false) end
      end)
      heap()
      c:write("A")
      return
    end
    c:read_start(function (_, data)
      if data then c:write(data) else c:close() end
    end)
    accepted = accepted + 1
    if accepted == n then
      heap()
      control:write("R")
      srv:close()
    end
  end))
  print(string.format("port %d pid %d", srv:getsockname().port,
                      uv.os_getpid()))
  io.stdout:flush()
  uv.run()
elseif kind == "floor" then
  -- plain C on libuv (bench/scale/floor_server.c), built when missing or
  -- older than its source; started as a module so that it runs the same
  local src = "bench/scale/floor_server.c"
  local lib = "bench/out/floor_server.so"
  if not os.execute(string.format("test %s -nt %s", lib, src)) then
    assert(os.execute(string.format("mkdir -p bench/out && cc -O2 -g " ..
      "-shared -fPIC $(pkg-config --cflags lua5.4 libuv) %s -o %s " ..
      "$(pkg-config --libs libuv)", src, lib)), "cannot build " .. src)
  end
  assert(package.loadlib(lib, "luaopen_floor_server"))().serve(n, heap)
else
  error("unknown server " .. tostring(kind))
end
