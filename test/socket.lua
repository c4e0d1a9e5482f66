-- test/socket.lua: TCP stream and passive sockets (manual "Network &
-- IPC"): creation, bind/listen/accept/connect, read/write/shutdown, close,
-- options, addresses, failures, misuse, early resume, close and GC while
-- coroutines await. Everything on 127.0.0.1 (and ::1 when present).

local H = require "helpers"
local system = require "coutil.system"
local T = dofile("test/socket/common.lua")
local memory = T.memory
local run, addr, spawn, join, str, closeall =
  T.run, T.addr, T.spawn, T.join, T.str, T.closeall

-- A listening socket on a free loopback port, and that address.
local function listener (domain)
  domain = domain or "ipv4"
  local host = domain == "ipv6" and "::1" or "127.0.0.1"
  local srv = H.track(assert(system.socket("passive", domain)))
  assert(srv:bind(system.address(domain, host, 0)))
  assert(srv:listen(8))
  return srv, srv:getaddress()
end

-- A connected pair: client, server side, listener (all tracked).
local function pair (domain)
  local srv, a = listener(domain)
  local acc = spawn(function () return srv:accept() end)
  local cli = H.track(assert(system.socket("stream", domain or "ipv4")))
  H.same({true}, cli:connect(a))
  local conn = assert(join(acc))
  return cli, H.track(conn), srv
end

-- --- creation and misuse ---------------------------------------------------

H.case("socket: every kind and domain", function ()
  for _, kind in ipairs{"datagram", "stream", "passive"} do
    for _, domain in ipairs{"ipv4", "ipv6", "local", "share"} do
      local s, msg, code = system.socket(kind, domain)
      if kind == "datagram" and (domain == "local" or domain == "share") then
        H.same({false, "socket type not supported", code}, s, msg, code)
        assert(code > 0)
      else
        H.track(s)
        assert(type(s) == "userdata", msg)
        assert(s:getdomain() == domain)
        assert(tostring(s):find(kind .. " socket (", 1, true))
        H.same({true}, s:close())
        assert(tostring(s):find("(closed)", 1, true))
      end
    end
  end
end)

H.case("socket: bad arguments", function ()
  H.raises("invalid option 'tcp'", system.socket, "tcp", "ipv4")
  H.raises("invalid option 'inet'", system.socket, "stream", "inet")
  H.raises("bad argument #1 to", system.socket)
  H.raises("(string expected, got no value)", system.socket)
  H.raises("bad argument #2 to", system.socket, "stream")
  H.raises("string expected, got table", system.socket, {}, "ipv4")
end)

H.case("socket: methods of each kind", function ()
  local d = H.track(assert(system.socket("datagram", "ipv4")))
  local s = H.track(assert(system.socket("stream", "ipv4")))
  local p = H.track(assert(system.socket("passive", "ipv4")))
  assert(d.accept == nil and d.listen == nil and d.shutdown == nil)
  assert(s.accept == nil and s.listen == nil)
  assert(p.read == nil and p.write == nil and p.connect == nil)
  -- a method checks that self is of its own class
  H.raises("coutil.socket.passive expected, got coutil.socket.stream",
           p.accept, s)
  H.raises("coutil.socket.stream expected, got coutil.socket.datagram",
           s.read, d, memory.create(1))
  H.raises("coutil.socket.stream expected, got coutil.socket.passive",
           s.close, p)
  H.raises("coutil.socket.datagram expected, got coutil.socket.stream",
           d.getdomain, s)
  H.same({"ipv4"}, p:getdomain())  -- s.close(p) did not close it
  closeall(d, s, p)
end)

H.case("socket: closed object", function ()
  local s = H.track(assert(system.socket("stream", "ipv4")))
  local p = H.track(assert(system.socket("passive", "ipv4")))
  assert(s:close() == true)
  H.raises("closed object", s.close, s)  -- as the original
  getmetatable(s).__close(s)  -- to-be-closed and collection stay quiet
  getmetatable(s).__gc(s)
  assert(p:close() == true)
  H.raises("closed object", s.getdomain, s)
  H.raises("closed object", s.bind, s, addr())
  H.raises("closed object", s.read, s, memory.create(1))
  H.raises("closed object", s.write, s, "x")
  H.raises("closed object", s.setoption, s, "nodelay", true)
  H.raises("closed object", s.getaddress, s)
  H.raises("closed object", p.listen, p, 1)
  H.raises("closed object", p.accept, p)
  run(function ()
    H.raises("closed object", s.connect, s, addr(1))
    H.raises("closed object", s.shutdown, s)
  end)
end)

H.case("socket: GC closes idle sockets", function ()
  H.track(assert(system.socket("stream", "ipv4")))
  H.track(assert(system.socket("passive", "ipv6")))
  H.track(assert(system.socket("datagram", "ipv4")))
end)

H.case("socket: to-be-closed variable", function ()
  local keep
  do
    local s <close> = H.track(assert(system.socket("stream", "ipv4")))
    keep = s
  end
  H.raises("closed object", keep.getdomain, keep)
end)

-- --- connecting and transferring -------------------------------------------

H.case("socket: echo with strings and memories", function ()
  run(function ()
    local cli, conn, srv = pair()
    local echo = spawn(function ()
      local buf = memory.create(64)
      while true do
        local n, err = conn:read(buf)
        if not n then return err end
        assert(conn:write(buf, 1, n))
      end
    end)
    local buf = memory.create(64)
    H.same({true}, cli:write("hello"))
    H.same({5}, cli:read(buf))
    assert(str(buf, 1, 5) == "hello")
    local m = memory.create("0123456789")
    H.same({true}, cli:write(m, 3, 6))  -- "2345"
    H.same({4}, cli:read(buf, 11))
    assert(str(buf, 11, 14) == "2345")
    H.same({true}, cli:write(m, -2))  -- "89"
    H.same({2}, cli:read(buf, -10, -9))
    assert(str(buf, -10, -9) == "89")
    H.same({true}, cli:write("abc", 2, 2))
    H.same({1}, cli:read(buf))
    assert(str(buf, 1, 1) == "b")
    H.same({true}, cli:write(""))  -- nothing to send
    H.same({true}, cli:shutdown())
    H.same({"end of file"}, join(echo))
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: partial reads into i/j ranges", function ()
  run(function ()
    local cli, conn, srv = pair()
    assert(cli:write("abcdefghij"))
    local buf = memory.create(8)
    memory.fill(buf, 46)  -- "."
    H.same({3}, conn:read(buf, 2, 4))
    assert(str(buf) == ".abc....")
    H.same({2}, conn:read(buf, -2))
    assert(str(buf) == ".abc..de")
    H.same({0}, conn:read(buf, 5, 4))  -- an empty range reads nothing
    local rest = memory.create(16)
    H.same({5}, conn:read(rest))
    assert(str(rest, 1, 5) == "fghij")
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: the memory remembered between calls", function ()
  -- a socket remembers the last memory it used (to skip its type check):
  -- changes to that memory, other memories and strings must all show
  run(function ()
    local cli, conn, srv = pair()
    local fixed = memory.create(4)
    local rsz = memory.create()
    memory.resize(rsz, 3, ".")
    assert(cli:write("abcd"))
    H.same({4}, conn:read(fixed))
    assert(cli:write("efghij"))
    H.same({3}, conn:read(rsz))  -- another memory, then it again, resized
    assert(str(rsz) == "efg")
    memory.resize(rsz, 2)
    H.same({2}, conn:read(rsz))
    assert(str(rsz) == "hi")
    H.same({1}, conn:read(fixed, 4))  -- the first one again
    assert(str(fixed) == "abcj")
    assert(conn:write(rsz))  -- written from the remembered memory
    assert(conn:write(fixed, 2, 3))
    assert(conn:write("!"))
    local got = memory.create(5)
    local n = 0
    repeat n = n + assert(cli:read(got, n + 1)) until n == 5
    assert(str(got) == "hibc!")
    do local _ <close> = rsz end  -- closed: it has no bytes to read into
    H.same({0}, conn:read(rsz))
    H.badarg(2, "memory expected, got string", conn.read, conn, "abcd")
    -- only the open socket keeps the memory alive
    local weak = setmetatable({}, {__mode = "v"})
    local m = memory.create(4)
    weak[1] = m
    assert(cli:write("wxyz"))
    H.same({4}, conn:read(m))
    m = nil
    collectgarbage()
    assert(weak[1], "collected while remembered")
    conn:close()
    collectgarbage()
    assert(weak[1] == nil, "kept after close")
    closeall(cli, srv)
  end)
end)

H.case("socket: resizable memories stay put while in use", function ()
  run(function ()
    local cli, conn, srv = pair()
    local m = memory.create()
    memory.resize(m, 8)
    local r = spawn(function () return conn:read(m, 2, 5) end)
    H.raises("in use", memory.resize, m, 100)
    assert(cli:write("abcd"))
    H.same({4}, join(r))
    memory.resize(m, 5)  -- free again
    assert(str(m, 2, 5) == "abcd")
    -- a queued write pins its memory until the system took it all
    local big = memory.create()
    memory.resize(big, 1 << 23, "q")
    local w = spawn(function () return cli:write(big) end)
    local pinned = not pcall(memory.resize, big, 1)
    local buf = memory.create(1 << 16)
    local total = 0
    while total < (1 << 23) do total = total + assert(conn:read(buf)) end
    H.same({true}, join(w))
    memory.resize(big, 1)
    assert(pinned or total == 1 << 23)
    closeall(cli, conn, srv)
  end, 60)
end)

H.case("socket: bytes that come before the read are kept", function ()
  run(function ()
    local cli, conn, srv = pair()
    for i = 1, 5 do assert(conn:write("chunk" .. i)) end
    H.same({true}, conn:shutdown())
    system.suspend(0.05)  -- let them arrive with nobody reading
    local buf = memory.create(4)
    local got = {}
    for _ = 1, 100 do
      local n, err = cli:read(buf)
      if not n then
        assert(err == "end of file")
        break
      end
      got[#got + 1] = str(buf, 1, n)
    end
    assert(table.concat(got) == "chunk1chunk2chunk3chunk4chunk5")
    -- end of file stays
    H.same({false, "end of file", 4095}, cli:read(buf))
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: a full stash stops reading until it drains", function ()
  run(function ()
    local cli, conn, srv = pair()
    local size = 300 * 1024  -- more than the 64 KiB kept per socket
    local parts = {}
    for i = 1, size // 1024 do
      parts[i] = string.format("%08d", i) .. string.rep(".", 1016)
    end
    local data = table.concat(parts)
    -- a first read starts reading; then nobody reads for a while
    assert(cli:write("go"))
    H.same({2}, conn:read(memory.create(2)))
    local w = spawn(function () return cli:write(data) end)
    system.suspend(0.05)
    local buf = memory.create(1000)
    local got = {}
    local total = 0
    while total < size do
      local n = assert(conn:read(buf))
      got[#got + 1] = str(buf, 1, n)
      total = total + n
    end
    H.same({true}, join(w))
    assert(table.concat(got) == data)
    closeall(cli, conn, srv)
  end, 60)
end)

H.case("socket: large transfer queues writes", function ()
  run(function ()
    local cli, conn, srv = pair()
    local size = 1 << 22
    local data = string.rep("0123456789abcdef", size // 16)
    local reader = spawn(function ()
      local buf = memory.create(65536)
      local parts = {}
      while true do
        local n, err = conn:read(buf)
        if not n then return err, table.concat(parts) end
        parts[#parts + 1] = str(buf, 1, n)
      end
    end)
    H.same({true}, cli:write(data))
    local big = memory.create(data)
    H.same({true}, cli:write(big, 1, 1000))
    H.same({true}, cli:shutdown())
    local err, got = join(reader)
    assert(err == "end of file")
    assert(#got == size + 1000)
    assert(got == data .. data:sub(1, 1000))
    closeall(cli, conn, srv)
  end, 60)
end)

H.case("socket: large reads after full ones read at once", function ()
  -- a large read right after a system read that filled its buffer reads
  -- at once (no wait); the bytes, their order and the end of file must
  -- be the same as with waits
  run(function ()
    local cli, conn, srv = pair()
    local size = 16384  -- the smallest read that goes straight to libuv
    assert(cli:write(string.rep("a", size) .. string.rep("b", size) ..
                     string.rep("c", size)))
    assert(cli:shutdown())
    system.suspend(0.02)  -- everything is in the receiver's buffers
    local buf = memory.create(size)
    for _, c in ipairs{"a", "b", "c"} do
      H.same({size}, conn:read(buf))
      assert(str(buf) == string.rep(c, size), c)
    end
    H.same({false, "end of file", 4095}, conn:read(buf))
    H.same({false, "end of file", 4095}, conn:read(buf))
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: a reader of a busy socket lets others run", function ()
  -- reads that need no wait are bounded per loop iteration: a coroutine
  -- that suspends meanwhile still runs every few dozen reads
  run(function ()
    local cli, conn, srv = pair()
    local size = 1 << 23
    local w = spawn(function () return cli:write(string.rep("x", size)) end)
    local ticks, done = 0, false
    spawn(function ()
      while not done do
        ticks = ticks + 1
        system.suspend(0)
      end
    end)
    local buf = memory.create(16384)
    local total, last, run = 0, ticks, 0
    local longest = 0
    while total < size do
      total = total + assert(conn:read(buf))
      if ticks == last then run = run + 1 else run, last = 1, ticks end
      if run > longest then longest = run end
    end
    done = true
    H.same({true}, join(w))
    assert(longest <= 70, "reads in a row without a loop iteration: " ..
                          longest)
    closeall(cli, conn, srv)
  end, 60)
end)

H.case("socket: getaddress", function ()
  run(function ()
    local cli, conn, srv = pair()
    local sa = srv:getaddress()
    assert(sa.type == "ipv4" and sa.literal == "127.0.0.1" and sa.port > 0)
    local peer = conn:getaddress("peer")
    H.same({cli:getaddress("self").port}, peer.port)
    local into = addr()
    H.same({into}, cli:getaddress("peer", into))
    assert(into == sa)
    H.raises("wrong domain", cli.getaddress, cli, "self",
             system.address("ipv6"))
    H.raises("invalid option 'me'", cli.getaddress, cli, "me")
    H.raises("address expected", cli.getaddress, cli, "self", "x")
    local n, msg, code = srv:getaddress("peer")
    H.same({false, "socket is not connected"}, n, msg)
    assert(code > 0)
    closeall(cli, conn, srv)
  end)
end)

-- --- failures --------------------------------------------------------------

H.case("socket: connection refused", function ()
  run(function ()
    local srv, a = listener()
    srv:close()
    local cli = H.track(assert(system.socket("stream", "ipv4")))
    local ok, msg, code = cli:connect(a)
    H.same({false, "connection refused"}, ok, msg)
    assert(code > 0)
    cli:close()
  end)
end)

H.case("socket: address in use, wrong domain", function ()
  local srv, a = listener()
  local other = H.track(assert(system.socket("passive", "ipv4")))
  local ok, msg, code = other:bind(a)
  H.same({false, "address already in use"}, ok, msg)
  assert(code > 0)
  H.raises("wrong domain", other.bind, other, system.address("ipv6"))
  H.raises("address expected", other.bind, other, "127.0.0.1:80")
  local cli = H.track(assert(system.socket("stream", "ipv6")))
  run(function ()
    H.raises("wrong domain", cli.connect, cli, a)
  end)
  closeall(srv, other, cli)
end)

H.case("socket: listen and accept misuse", function ()
  local p = H.track(assert(system.socket("passive", "ipv4")))
  assert(p:bind(addr()))
  run(function ()
    H.raises("not listening", p.accept, p)
  end)
  H.raises("out of range", p.listen, p, -1)
  H.raises("number expected, got no value", p.listen, p)
  H.raises("number has no integer representation", p.listen, p, 1.5)
  H.same({true}, p:listen(0))
  H.raises("already listening", p.listen, p, 5)
  H.raises("unable to yield", p.accept, p)
  p:close()
end)

H.case("socket: await functions need a coroutine", function ()
  run(function ()
    local cli, conn, srv = pair()
    -- string.gsub is a C boundary: the callback cannot yield
    H.raises("unable to yield", function ()
      local _ = string.gsub("x", "x", function ()
        conn:read(memory.create(1))
      end)
    end)
    H.raises("unable to yield", function ()
      local _ = string.gsub("x", "x", function () conn:write("x") end)
    end)
    H.raises("unable to yield", function ()
      local _ = string.gsub("x", "x", function () conn:shutdown() end)
    end)
    H.raises("unable to yield", function ()
      local _ = string.gsub("x", "x", function () cli:connect(addr(1)) end)
    end)
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: bad read and write arguments", function ()
  run(function ()
    local cli, conn, srv = pair()
    H.raises("memory expected, got string", conn.read, conn, "buffer")
    H.raises("memory expected, got no value", conn.read, conn)
    H.raises("number has no integer representation", conn.read, conn,
             memory.create(4), 1.5)
    H.raises("bad argument #2 to", conn.write, conn, {})
    H.raises("bad argument #2 to", conn.write, conn)
    H.raises("number has no integer representation", conn.write, conn,
             "abc", 1, 2.5)
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: already in use", function ()
  run(function ()
    local cli, conn, srv = pair()
    local r = spawn(function () return conn:read(memory.create(4)) end)
    H.raises("already in use", conn.read, conn, memory.create(4))
    local a = spawn(function () return srv:accept() end)
    H.raises("already in use", srv.accept, srv)
    assert(cli:write("ok"))
    H.same({2}, join(r))
    local c2 = H.track(assert(system.socket("stream", "ipv4")))
    assert(c2:connect(srv:getaddress()))
    local conn2 = H.track(assert(join(a)))
    closeall(cli, conn, srv, c2, conn2)
  end)
end)

-- --- options ---------------------------------------------------------------

H.case("socket: options", function ()
  local s = H.track(assert(system.socket("stream", "ipv4")))
  H.same({true}, s:setoption("nodelay", true))
  H.same({true}, s:setoption("nodelay", false))
  H.same({true}, s:setoption("keepalive", 10))
  H.same({true}, s:setoption("keepalive", nil))
  H.same({true}, s:setoption("keepalive", false))
  H.raises("(value expected)", s.setoption, s, "keepalive")
  H.raises("(invalid argument)", s.setoption, s, "keepalive", 0)
  H.raises("(invalid argument)", s.setoption, s, "keepalive", -5)
  H.raises("(out of range)", s.setoption, s, "keepalive", math.maxinteger)
  H.raises("number expected, got string", s.setoption, s, "keepalive", "x")
  H.raises("invalid option 'broadcast'", s.setoption, s, "broadcast", true)
  H.raises("invalid option 'permission'", s.setoption, s, "permission", "r")
  H.raises("bad argument #3 to", s.setoption, s, "nodelay")
  H.raises("(value expected)", s.setoption, s, "nodelay")
  H.raises("string expected, got no value", s.setoption, s)
  local p = H.track(assert(system.socket("passive", "ipv4")))
  H.raises("invalid option 'nodelay'", p.setoption, p, "nodelay", true)
  closeall(s, p)
end)

-- --- early resume, close and GC while awaiting -----------------------------

H.case("socket: early resume of read keeps later bytes", function ()
  run(function ()
    local cli, conn, srv = pair()
    local r, co = spawn(function ()
      return "woke", conn:read(memory.create(4))
    end)
    assert(coroutine.resume(co, "early", 1))
    H.same({"woke", "early", 1}, join(r))
    assert(cli:write("late"))
    system.suspend(0.02)
    local buf = memory.create(4)
    H.same({4}, conn:read(buf))
    assert(str(buf) == "late")
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: early resume of accept and connect", function ()
  run(function ()
    local srv, a = listener()
    local r, co = spawn(function () return srv:accept() end)
    assert(coroutine.resume(co, "stop"))
    H.same({"stop"}, join(r))
    local cli = H.track(assert(system.socket("stream", "ipv4")))
    local c, cco = spawn(function () return cli:connect(a) end)
    assert(coroutine.resume(cco, "early"))
    H.same({"early"}, join(c))
    system.suspend(0.02)
    -- the connection is still there for the next accept
    local conn = H.track(assert(srv:accept()))
    assert(cli:write("x"))
    H.same({1}, conn:read(memory.create(1)))
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: early resume of write keeps the data alive", function ()
  run(function ()
    local cli, conn, srv = pair()
    local size = 1 << 23  -- more than the socket buffers take at once
    local w, co = spawn(function ()
      return cli:write(memory.create(string.rep("z", size)))
    end)
    if coroutine.status(co) == "suspended" then
      assert(coroutine.resume(co, "early"))
      H.same({"early"}, join(w))
    end
    collectgarbage()  -- the memory is anchored by the request
    local buf = memory.create(1 << 16)
    local total = 0
    while total < size do
      local n = assert(conn:read(buf))
      for i = 1, n, 4096 do assert(str(buf, i, i) == "z") end
      total = total + n
    end
    assert(total == size)
    closeall(cli, conn, srv)
  end, 60)
end)

H.case("socket: close while a coroutine reads or accepts", function ()
  run(function ()
    T.closewhilewaiting(pair())
  end)
end)

H.case("socket: close while a coroutine connects or writes", function ()
  run(function ()
    local cli, conn, srv = pair()
    local size = 1 << 23
    local w = spawn(function () return conn:write(string.rep("w", size)) end)
    conn:close()
    local ok, msg, code = join(w)
    -- as in the original: a request the close cancels fails as such
    assert(ok == true or (ok == false and msg == "operation canceled" and
                          code == 125), msg)
    -- connect to an address that takes time is not portable; closing at
    -- once after starting the connection cancels it
    local s = H.track(assert(system.socket("stream", "ipv4")))
    local c = spawn(function () return s:connect(srv:getaddress()) end)
    s:close()
    H.same({false, "operation canceled", 125}, join(c))
    closeall(cli, srv)
  end, 60)
end)

H.case("socket: coroutine.close of a reader, then GC", function ()
  run(function ()
    local cli, conn, srv = pair()
    local _, co = spawn(function () return conn:read(memory.create(4)) end)
    assert(coroutine.close(co))
    assert(cli:write("data"))
    system.suspend(0.02)
    collectgarbage()
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: coroutine.close stops a read at once", function ()
  run(function ()
    local cli, conn, srv = pair()
    local _, co = spawn(function () return conn:read(memory.create(4)) end)
    assert(coroutine.close(co))
    -- the socket is free for another reader, which gets the bytes
    local r = spawn(function ()
      local buf = memory.create(4)
      local n = conn:read(buf)
      return n, str(buf)
    end)
    assert(cli:write("abcd"))
    H.same({4, "abcd"}, join(r))
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: coroutine.close of a writer lets the write finish", function ()
  run(function ()
    local cli, conn, srv = pair()
    local size = 1 << 23  -- more than the socket buffers take at once
    local weak = setmetatable({}, {__mode = "k"})
    local _, co = spawn(function ()
      return cli:write(memory.create(string.rep("q", size)))
    end)
    weak[co] = true
    assert(coroutine.status(co) == "suspended", "the write did not wait")
    assert(coroutine.close(co))
    co = nil
    collectgarbage()  -- the bytes are anchored until the system has them
    local buf = memory.create(1 << 16)
    local total = 0
    while total < size do
      local n = assert(conn:read(buf))
      for i = 1, n, 4096 do assert(str(buf, i, i) == "q") end
      total = total + n
    end
    assert(total == size)
    system.suspend(0.01)  -- the write's callback comes: nobody to resume
    collectgarbage()
    assert(next(weak) == nil, "the closed writer is kept")
    closeall(cli, conn, srv)
  end, 60)
end)

H.case("socket: GC of sockets with pending operations", function ()
  run(function ()
    local cli, conn, srv = pair()
    -- a write resumed early still runs; the socket is then collected
    local w, co = spawn(function ()
      return cli:write(string.rep("g", 1 << 23))
    end)
    if coroutine.status(co) == "suspended" then
      assert(coroutine.resume(co, "early"))
    end
    join(w)
    -- a read resumed early leaves reading on
    local r, rco = spawn(function ()
      return conn:read(memory.create(8))
    end)
    assert(coroutine.resume(rco, "early"))
    join(r)
    cli, conn = nil, nil
    collectgarbage()
    collectgarbage()
    system.suspend(0.02)
    srv:close()
  end, 60)
end)

H.case("socket: GC inside a callback", function ()
  run(function ()
    local cli, conn, srv = pair()
    local r = spawn(function ()
      local buf = memory.create(8)
      local n = conn:read(buf)
      collectgarbage()
      return n, str(buf, 1, n)
    end)
    assert(cli:write("gc"))
    H.same({2, "gc"}, join(r))
    closeall(cli, conn, srv)
  end)
end)

H.case("socket: peer reset", function ()
  run(function ()
    local cli, conn, srv = pair()
    cli:close()
    local buf = memory.create(8)
    local n, msg, code = conn:read(buf)
    H.same({false, "end of file", 4095}, n, msg, code)
    -- writing to a closed peer fails sooner or later
    local ok, err
    for _ = 1, 100 do
      ok, err = conn:write("x")
      if not ok then break end
      system.suspend(0.001)
    end
    assert(not ok and (err == "broken pipe" or
                       err == "connection reset by peer"), err)
    closeall(conn, srv)
  end)
end)

H.case("socket: many clients at once", function ()
  run(function ()
    local srv, a = listener()
    local count = 20
    local served = spawn(function ()
      local done = 0
      for _ = 1, count do
        local c = assert(srv:accept())
        spawn(function ()
          local buf = memory.create(16)
          local n = assert(c:read(buf))
          assert(c:write(buf, 1, n))
          assert(c:read(buf) == nil)
          c:close()
          done = done + 1
        end)
      end
      return true
    end)
    local results = {}
    for i = 1, count do
      results[i] = spawn(function ()
        local s = assert(system.socket("stream", "ipv4"))
        assert(s:connect(a))
        assert(s:write("n" .. i))
        local buf = memory.create(16)
        local n = assert(s:read(buf))
        s:close()
        return str(buf, 1, n)
      end)
    end
    for i = 1, count do H.same({"n" .. i}, join(results[i])) end
    assert(join(served))
    system.suspend(0.02)
    srv:close()
  end)
end)

T.childcase("socket: lua_close with operations pending", function ()
  local ok, out = H.runlua([[
    local system = require "coutil.system"
    local path = package.path
    package.path = ""
    local memory = require "memory"
    package.path = path
    local srv = assert(system.socket("passive", "ipv4"))
    assert(srv:bind(system.address("ipv4", "127.0.0.1", 0)))
    assert(srv:listen(4))
    local addr = srv:getaddress()
    local conn
    coroutine.wrap(function () conn = srv:accept() end)()
    local cli = assert(system.socket("stream", "ipv4"))
    coroutine.wrap(function () assert(cli:connect(addr)) end)()
    system.run()
    coroutine.wrap(function () srv:accept() end)()         -- waits
    coroutine.wrap(function () conn:read(memory.create(8)) end)()
    coroutine.wrap(function ()                             -- queued
      cli:write(string.rep("x", 1 << 23))
    end)()
    local m = memory.create()
    memory.resize(m, 16)
    coroutine.wrap(function () cli:read(m) end)()          -- pinned
    local udp = assert(system.socket("datagram", "ipv4"))
    coroutine.wrap(function () udp:read(memory.create(4)) end)()
    system.run("step")
    io.write("exiting\n")
    -- lua_close: every socket, record and pin is released
  ]])
  assert(ok and out:find("exiting", 1, true), out)
end)

-- --- IPv6 ------------------------------------------------------------------

local function hasipv6 ()
  local s = assert(system.socket("passive", "ipv6"))
  local ok = s:bind(system.address("ipv6", "::1", 0))
  s:close()
  return ok
end

if hasipv6() then
  H.case("socket: IPv6 on ::1", function ()
    run(function ()
      local cli, conn, srv = pair("ipv6")
      assert(cli:getdomain() == "ipv6" and conn:getdomain() == "ipv6")
      local a = conn:getaddress("self")
      assert(a.type == "ipv6" and a.literal == "::1")
      assert(cli:write("six"))
      local buf = memory.create(3)
      H.same({3}, conn:read(buf))
      assert(str(buf) == "six")
      H.raises("wrong domain", srv.getaddress, srv, "self", addr())
      closeall(cli, conn, srv)
    end)
  end)
else
  H.skip("socket: IPv6 on ::1", "this machine has no IPv6 loopback")
end

H.done()
