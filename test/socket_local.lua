-- test/socket_local.lua: local and share sockets (manual "Network &
-- IPC") on paths in a temporary directory: bind/listen/accept/connect,
-- read/write, getaddress, the permission option, failures, and passing
-- stream sockets over share sockets, in this process and to a child.

local H = require "helpers"
local system = require "coutil.system"
local T = dofile("test/socket/common.lua")
local memory = T.memory
local run, spawn, join, str, closeall =
  T.run, T.spawn, T.join, T.str, T.closeall

-- socket paths: fresh temporary names (no shell needed to make a dir)
local paths = {}
local function newpath ()
  local path = os.tmpname()
  os.remove(path)
  paths[#paths + 1] = path
  return path
end

local function listener (domain, path)
  local srv = H.track(assert(system.socket("passive", domain)))
  path = path or newpath()
  assert(srv:bind(path))
  assert(srv:listen(4))
  return srv, path
end

local function pair (domain)
  local srv, path = listener(domain)
  local acc = spawn(function () return srv:accept() end)
  local cli = H.track(assert(system.socket("stream", domain)))
  H.same({true}, cli:connect(path))
  return cli, H.track(assert(join(acc))), srv, path
end

local function tcppair ()
  local srv = H.track(assert(system.socket("passive", "ipv4")))
  assert(srv:bind(system.address("ipv4", "127.0.0.1", 0)))
  assert(srv:listen(4))
  local acc = spawn(function () return srv:accept() end)
  local cli = H.track(assert(system.socket("stream", "ipv4")))
  assert(cli:connect(srv:getaddress()))
  local conn = H.track(assert(join(acc)))
  srv:close()
  return cli, conn
end

for _, domain in ipairs{"local", "share"} do
  H.case(domain .. ": echo, addresses, end of file", function ()
    run(function ()
      local cli, conn, srv, path = pair(domain)
      assert(cli:getdomain() == domain and conn:getdomain() == domain)
      H.same({path}, srv:getaddress())
      H.same({path}, srv:getaddress("self"))
      H.same({path}, cli:getaddress("peer"))
      H.same({""}, cli:getaddress("self"))  -- an unbound client
      assert(cli:write("ping"))
      local buf = memory.create(8)
      local n, extra = conn:read(buf, 3)
      assert(n == 4 and extra == nil)
      assert(str(buf, 3, 6) == "ping")
      assert(conn:write(memory.create("pong!"), 1, 4))
      H.same({4}, cli:read(buf))
      assert(str(buf, 1, 4) == "pong")
      H.same({true}, cli:shutdown())
      H.same({false, "end of file", 4095}, conn:read(buf))
      closeall(cli, conn, srv)
    end)
  end)
end

H.case("local: failures and misuse", function ()
  run(function ()
    local srv, path = listener("local")
    local other = H.track(assert(system.socket("passive", "local")))
    local ok, msg, code = other:bind(path)
    H.same({false, "address already in use"}, ok, msg)
    assert(code > 0)
    H.raises("too long", other.bind, other, "/tmp/" .. string.rep("x", 200))
    H.raises("string expected, got coutil.address", other.bind, other,
             system.address("ipv4"))
    local cli = H.track(assert(system.socket("stream", "local")))
    ok, msg, code = cli:connect(newpath())  -- nobody listens there
    H.same({false, "no such file or directory"}, ok, msg)
    assert(code > 0)
    H.raises("too long", cli.connect, cli, string.rep("y", 300))
    H.raises("string expected, got no value", cli.connect, cli)
    H.raises("invalid option 'nodelay'", cli.setoption, cli, "nodelay", true)
    ok, msg = cli:getaddress("peer")
    H.same({false, "socket is not connected"}, ok, msg)
    closeall(srv, other, cli)
  end)
end)

H.case("local: permission option", function ()
  local srv = listener("local")
  H.same({true}, srv:setoption("permission", "rw"))
  H.same({true}, srv:setoption("permission", "r"))
  H.same({true}, srv:setoption("permission", "w"))
  local ok, msg = srv:setoption("permission", "")
  H.same({false, "invalid argument"}, ok, msg)
  H.raises("unknown perm char (got 'x')", srv.setoption, srv, "permission",
           "rx")
  H.raises("string expected, got no value", srv.setoption, srv, "permission")
  H.raises("invalid option 'mode'", srv.setoption, srv, "mode", "r")
  local unbound = H.track(assert(system.socket("passive", "local")))
  ok, msg = unbound:setoption("permission", "r")
  assert(ok == false and type(msg) == "string")
  closeall(srv, unbound)
end)

H.case("local: close while a coroutine accepts or reads", function ()
  run(function ()
    T.closewhilewaiting(pair("local"))
  end)
end)

H.case("share: pass stream sockets in this process", function ()
  run(function ()
    local a, b, srv = pair("share")
    local tcli, tconn = tcppair()
    H.raises("stream socket expected", a.write, a, "x", 1, -1, srv)
    H.same({true}, a:write("tcp", 1, -1, tconn))
    tconn:close()  -- the other end now has its own copy
    local buf = memory.create(8)
    local n, got = b:read(buf)
    assert(n == 3 and str(buf, 1, 3) == "tcp")
    H.track(got)
    assert(tostring(got):find("stream socket", 1, true))
    assert(got:getdomain() == "ipv4")
    assert(got:write("via copy"))
    H.same({8}, tcli:read(buf))
    assert(str(buf) == "via copy")
    -- a local stream socket travels as well
    local lcli, lconn, lsrv = pair("local")
    assert(b:write("pipe", 1, -1, lconn))
    lconn:close()
    local n2, got2 = a:read(buf)
    assert(n2 == 4 and got2 and got2:getdomain() == "local")
    H.track(got2)
    assert(lcli:write("hi"))
    H.same({2}, got2:read(buf))
    -- plain bytes carry no socket
    assert(a:write("plain"))
    H.same({5, nil}, b:read(buf))
    -- local sockets ignore the extra argument
    assert(lcli:write("x", 1, -1, tcli))
    H.same({1}, got2:read(buf))
    closeall(a, b, srv, tcli, got, lcli, lsrv, got2)
  end)
end)

T.childcase("share: pass a stream socket to a child process", function ()
  local path = newpath()
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
    local system = require "coutil.system"
    local path = package.path
    package.path = ""
    local memory = require "memory"
    package.path = path
    local H = require "helpers"
    H.run(function ()
      local s = assert(system.socket("stream", "share"))
      for _ = 1, 200 do  -- the parent may not listen yet
        if s:connect(%q) then break end
        s:close()
        system.suspend(0.01)
        s = assert(system.socket("stream", "share"))
      end
      local buf = memory.create(16)
      local n, passed = assert(s:read(buf))
      assert(memory.tostring(buf, 1, n) == "take", "bytes")
      assert(passed:getdomain() == "ipv4", "domain")
      assert(passed:write("from child"))
      local n2 = assert(passed:read(buf))
      io.write("child got ", memory.tostring(buf, 1, n2), "\n")
      passed:close()
      s:close()
    end, 20)
  ]], path))
  f:close()
  local child = assert(io.popen(string.format("%s timeout 30 lua5.4 %s 2>&1",
                                              H.childenv(), script)))
  local ok, err = pcall(run, function ()
    local srv = listener("share", path)
    local ch = H.track(assert(srv:accept()))
    local tcli, tconn = tcppair()
    assert(ch:write("take", 1, -1, tconn))
    tconn:close()
    local buf = memory.create(16)
    local n = assert(tcli:read(buf))
    assert(str(buf, 1, n) == "from child")
    assert(tcli:write("reply"))
    H.same({false, "end of file", 4095}, ch:read(buf))
    closeall(srv, ch, tcli)
  end, 30)
  local out = child:read("a")
  child:close()
  os.remove(script)
  assert(ok, tostring(err) .. "\nchild output:\n" .. out)
  assert(out:find("child got reply", 1, true), out)
end)

H.case("local: GC of sockets with pending operations", function ()
  run(function ()
    local cli, conn, srv = pair("local")
    local w, co = spawn(function ()
      return cli:write(string.rep("p", 1 << 22))
    end)
    if coroutine.status(co) == "suspended" then
      assert(coroutine.resume(co, "early"))
    end
    join(w)
    cli, conn = nil, nil
    collectgarbage()
    collectgarbage()
    system.suspend(0.01)
    srv:close()
  end)
end)

for _, path in ipairs(paths) do os.remove(path) end
H.done()
