-- bench/socket/common.lua: the contenders of bench/socket_*.lua. Each
-- kind of work is written once per contender:
--   pingpong(clients, rounds, size): 'clients' clients each do 'rounds'
--     round trips of 'size' bytes with an echo server; returns the number
--     of round trips done.
--   bulk(total, chunk): one client uploads 'total' bytes in writes of
--     'chunk' bytes to a server that discards them; returns the writes.
-- Client and server share one process and loop, on 127.0.0.1, with
-- TCP_NODELAY. The floor is bench/floor_socket.c on plain libuv.

local M = {}

-- --- C floor: compiled once into bench/out, loaded as a Lua module ---------

local function loadfloor ()
  local src, lib = "bench/floor_socket.c", "bench/out/floor_socket.so"
  local f = io.open(lib)
  if f then f:close() end
  local newer = f and os.execute(string.format(
    "test -n \"$(find %s -newer %s)\"", src, lib))  -- no lib: no find
  if not f or newer then
    os.execute("mkdir -p bench/out")
    assert(os.execute(string.format("cc -O2 -g -shared -fPIC " ..
      "$(pkg-config --cflags lua5.4 libuv) %s -o %s " ..
      "$(pkg-config --libs libuv)", src, lib)), "cannot build " .. src)
  end
  return assert(package.loadlib(lib, "luaopen_floor_socket"))()
end

M.floor = {
  pingpong = function (clients, rounds, size)
    return loadfloor().multi(clients, rounds, size)
  end,
  bulk = function (total, chunk)
    return loadfloor().bulk(total, chunk)
  end,
}
M.loadfloor = loadfloor  -- called at load time: building is not timed

-- --- coutil ----------------------------------------------------------------

M.coutil = {}

function M.coutil.pingpong (clients, rounds, size)
  local system = require "coutil.system"
  local memory = require "memory"
  local srv = assert(system.socket("passive", "ipv4"))
  assert(srv:bind(system.address("ipv4", "127.0.0.1", 0)))
  assert(srv:listen(511))
  local addr = srv:getaddress()
  local done = 0
  coroutine.wrap(function ()
    for _ = 1, clients do
      local c = assert(srv:accept())
      assert(c:setoption("nodelay", true))
      coroutine.wrap(function ()
        local buf = memory.create(size)
        while true do
          local got = 0
          repeat
            local n = c:read(buf, got + 1)
            if not n then
              c:close()
              return
            end
            got = got + n
          until got == size
          assert(c:write(buf))
        end
      end)()
    end
    srv:close()
  end)()
  for _ = 1, clients do
    coroutine.wrap(function ()
      local s = assert(system.socket("stream", "ipv4"))
      assert(s:setoption("nodelay", true))
      assert(s:connect(addr))
      local msg = string.rep("x", size)  -- like the other contenders
      local buf = memory.create(size)
      for _ = 1, rounds do
        assert(s:write(msg))
        local got = 0
        repeat
          got = got + assert(s:read(buf, got + 1))
        until got == size
        done = done + 1
      end
      s:close()
    end)()
  end
  system.run()
  return done
end

function M.coutil.bulk (total, chunk)
  local system = require "coutil.system"
  local memory = require "memory"
  local srv = assert(system.socket("passive", "ipv4"))
  assert(srv:bind(system.address("ipv4", "127.0.0.1", 0)))
  assert(srv:listen(1))
  local addr = srv:getaddress()
  local received, writes = 0, 0
  coroutine.wrap(function ()
    local c = assert(srv:accept())
    srv:close()
    local buf = memory.create(chunk)
    while true do
      local n = c:read(buf)
      if not n then break end
      received = received + n
    end
    c:close()
  end)()
  coroutine.wrap(function ()
    local s = assert(system.socket("stream", "ipv4"))
    assert(s:setoption("nodelay", true))
    assert(s:connect(addr))
    local data = memory.create(chunk)
    for _ = 1, total // chunk do
      assert(s:write(data))
      writes = writes + 1
    end
    s:close()
  end)()
  system.run()
  assert(received == total, "server got " .. received)
  return writes
end

-- --- luv (callback style) --------------------------------------------------

M.luv = {}

function M.luv.pingpong (clients, rounds, size)
  local uv = require "luv"
  local msg = string.rep("x", size)
  local server = uv.new_tcp()
  assert(server:bind("127.0.0.1", 0))
  local port = server:getsockname().port
  local accepted, done = 0, 0
  assert(server:listen(511, function ()
    local c = uv.new_tcp()
    server:accept(c)
    c:nodelay(true)
    accepted = accepted + 1
    if accepted == clients then server:close() end
    local acc = ""
    c:read_start(function (err, data)
      if not data then
        c:close()
        return
      end
      if acc == "" and #data == size then
        c:write(data)
      else
        acc = acc .. data
        while #acc >= size do
          c:write(acc:sub(1, size))
          acc = acc:sub(size + 1)
        end
      end
    end)
  end))
  for _ = 1, clients do
    local c = uv.new_tcp()
    local left, got = rounds, 0
    c:connect("127.0.0.1", port, function (err)
      assert(not err, err)
      c:nodelay(true)
      c:read_start(function (rerr, data)
        assert(data, rerr)
        got = got + #data
        if got < size then return end
        got = 0
        done = done + 1
        left = left - 1
        if left > 0 then c:write(msg) else c:close() end
      end)
      c:write(msg)
    end)
  end
  uv.run()
  return done
end

function M.luv.bulk (total, chunk)
  local uv = require "luv"
  local data = string.rep("x", chunk)
  local server = uv.new_tcp()
  assert(server:bind("127.0.0.1", 0))
  local port = server:getsockname().port
  local received, writes = 0, 0
  assert(server:listen(1, function ()
    local c = uv.new_tcp()
    server:accept(c)
    server:close()
    c:read_start(function (err, got)
      if not got then
        c:close()
        return
      end
      received = received + #got
    end)
  end))
  local c = uv.new_tcp()
  local left = total // chunk
  local function send ()
    if left == 0 then
      c:close()
      return
    end
    left = left - 1
    c:write(data, function ()
      writes = writes + 1
      send()
    end)
  end
  c:connect("127.0.0.1", port, function (err)
    assert(not err, err)
    c:nodelay(true)
    send()
  end)
  uv.run()
  assert(received == total, "server got " .. received)
  return writes
end

-- --- cqueues ---------------------------------------------------------------

M.cqueues = {}

function M.cqueues.pingpong (clients, rounds, size)
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local cq = cqueues.new()
  local srv = socket.listen{host = "127.0.0.1", port = 0, nodelay = true}
  assert(srv:listen())
  local _, _, port = srv:localname()
  local msg = string.rep("x", size)
  local done = 0
  cq:wrap(function ()
    for _ = 1, clients do
      local c = assert(srv:accept())
      c:setmode("bn", "bn")
      cq:wrap(function ()
        while true do
          local data = c:read(size)
          if not data then break end
          assert(c:write(data))
        end
        c:close()
      end)
    end
    srv:close()
  end)
  for _ = 1, clients do
    cq:wrap(function ()
      local s = assert(socket.connect{host = "127.0.0.1", port = port,
                                      nodelay = true})
      s:setmode("bn", "bn")
      for _ = 1, rounds do
        assert(s:write(msg))
        assert(#assert(s:read(size)) == size)
        done = done + 1
      end
      s:close()
    end)
  end
  assert(cq:loop())
  return done
end

function M.cqueues.bulk (total, chunk)
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local cq = cqueues.new()
  local srv = socket.listen{host = "127.0.0.1", port = 0, nodelay = true}
  assert(srv:listen())
  local _, _, port = srv:localname()
  local data = string.rep("x", chunk)
  local received, writes = 0, 0
  cq:wrap(function ()
    local c = assert(srv:accept())
    srv:close()
    c:setmode("bn", "bn")
    while true do
      local got = c:read(-chunk)  -- up to 'chunk' bytes, what is there
      if not got then break end
      received = received + #got
    end
    c:close()
  end)
  cq:wrap(function ()
    local s = assert(socket.connect{host = "127.0.0.1", port = port,
                                    nodelay = true})
    s:setmode("bn", "bn")
    for _ = 1, total // chunk do
      assert(s:write(data))
      writes = writes + 1
    end
    s:close()
  end)
  assert(cq:loop())
  assert(received == total, "server got " .. received)
  return writes
end

-- --- benchmark files -------------------------------------------------------

-- The four contenders of a benchmark; run(n) calls work(impl, n) with the
-- contender's table of functions above.
function M.contenders (work)
  local function contender (name, needs)
    return {name = name, floor = name == "floor", needs = needs,
            run = function (n) return work(M[name], n) end}
  end
  return {
    contender("floor"),
    contender("coutil", {"coutil.system", "memory"}),
    contender("luv", {"luv"}),
    contender("cqueues", {"cqueues", "cqueues.socket"}),
  }
end

-- The issue's targets: coutil within 'ratio' of the floor's time, and at
-- least as fast as luv and cqueues.
function M.targets (ratio)
  return {
    {slower = "coutil", than = "floor", atmost = ratio},
    {faster = "coutil", than = "luv", atleast = 1.0},
    {faster = "coutil", than = "cqueues", atleast = 1.0},
  }
end

return M
