-- test/address.lua: system.address, system.findaddr, system.nameaddr and
-- the addresses object (manual, "Network & IPC"). No test needs a name
-- server: only numeric hosts, "localhost" and 127.0.0.1 (both found in
-- /etc/hosts) and services from /etc/services are looked up.

local H = require "helpers"
local system = require "coutil.system"

-- --- helpers ---------------------------------------------------------------

local spawn, drain, badarg = H.spawn, H.drain, H.badarg

-- Checks a failure: a false value, a message and a positive error code.
local function failure (msg, ...)
  local r = H.pack(...)
  assert(r.n == 3, "expected the failure triple, got " .. r.n .. " values")
  assert(not r[1], "expected a failure")
  if msg then H.same({msg}, r[2]) else assert(type(r[2]) == "string") end
  assert(math.type(r[3]) == "integer" and r[3] > 0, "bad error code")
end

-- Every address of an addresses object, from the first, as strings, plus
-- a parallel list of "domain/socktype" strings.
local function collect (list)
  local addrs, kinds = {}, {}
  list:reset()
  repeat
    local a = list:getaddress()
    addrs[#addrs + 1] = tostring(a)
    kinds[#kinds + 1] = list:getdomain() .. "/" .. list:getsocktype()
    assert(a.type == list:getdomain())
  until not list:next()
  list:reset()
  return addrs, kinds
end

local function contains (t, v)
  for _, x in ipairs(t) do if x == v then return true end end
  return false
end

-- What /etc/hosts and /etc/services tell, so expectations follow the
-- machine (files only: the lookups here never need a name server).
local function readlines (path)
  local f = io.open(path)
  if not f then return {} end
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line:gsub("#.*", "") end
  f:close()
  return lines
end

local hostnames = {}   -- address text -> its first name in /etc/hosts
for _, line in ipairs(readlines("/etc/hosts")) do
  local addr, name = line:match("^%s*(%S+)%s+(%S+)")
  if addr and not hostnames[addr] then hostnames[addr] = name end
end

local services = {}    -- "port/proto" -> first service name
for _, line in ipairs(readlines("/etc/services")) do
  local name, port, proto = line:match("^%s*(%S+)%s+(%d+)/(%a+)")
  local key = port and (port .. "/" .. proto)
  if key and not services[key] then services[key] = name end
end

local function servname (port, proto)
  return services[port .. "/" .. proto] or tostring(port)
end

-- A port with no service name for either protocol.
local unnamed = 49151
while services[unnamed .. "/tcp"] or services[unnamed .. "/udp"] do
  unnamed = unnamed - 1
end

local has_http = services["80/tcp"] == "http"

-- --- system.address: creation ----------------------------------------------

H.case("address: null addresses", function ()
  local a4, a6 = system.address("ipv4"), system.address("ipv6")
  H.same({"ipv4", "0.0.0.0", 0, "\0\0\0\0", "0.0.0.0:0"},
         a4.type, a4.literal, a4.port, a4.binary, tostring(a4))
  H.same({"ipv6", "::", 0, string.rep("\0", 16), "[::]:0"},
         a6.type, a6.literal, a6.port, a6.binary, tostring(a6))
end)

H.case("address: the manual's four equal forms", function ()
  local forms = {
    system.address("ipv4"),
    system.address("ipv4", "0.0.0.0:0"),
    system.address("ipv4", "0.0.0.0", 0),
    system.address("ipv4", "\0\0\0\0", 0, "b"),
    system.address("ipv4", "0.0.0.0", 0, "t"),
  }
  for i = 2, #forms do
    assert(forms[1] == forms[i], "form " .. i .. " differs")
    H.same({"0.0.0.0:0"}, tostring(forms[i]))
  end
  local six = {
    system.address("ipv6"),
    system.address("ipv6", "[::]:0"),
    system.address("ipv6", "::", 0),
    system.address("ipv6", string.rep("\0", 16), 0, "b"),
  }
  for i = 2, #six do assert(six[1] == six[i], "IPv6 form " .. i) end
end)

H.case("address: URI literals", function ()
  local a = system.address("ipv4", "192.0.2.128:80")
  H.same({"ipv4", "192.0.2.128", "\192\0\2\128", 80, "192.0.2.128:80"},
         a.type, a.literal, a.binary, a.port, tostring(a))
  a = system.address("ipv6", "[::ffff:c000:0280]:80")
  H.same({"ipv6", "::ffff:192.0.2.128",
          "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x80", 80,
          "[::ffff:192.0.2.128]:80"},
         a.type, a.literal, a.binary, a.port, tostring(a))
  a = system.address("ipv6", "[::1]:65535")
  H.same({"::1", 65535, "[::1]:65535"}, a.literal, a.port, tostring(a))
  a = system.address("ipv6", "[2001:db8::1:0:0:1]:8080")
  H.same({"2001:db8::1:0:0:1", 8080}, a.literal, a.port)
  a = system.address("ipv4", "127.0.0.1:0080")
  H.same({80}, a.port)
end)

H.case("address: host and port, text and binary", function ()
  local a = system.address("ipv4", "127.0.0.1", 8080)
  H.same({"127.0.0.1:8080", "\127\0\0\1"}, tostring(a), a.binary)
  a = system.address("ipv4", "\10\20\30\40", 65535, "b")
  H.same({"10.20.30.40", 65535}, a.literal, a.port)
  a = system.address("ipv6", "::1", 0, "t")
  H.same({"[::1]:0"}, tostring(a))
  a = system.address("ipv6", string.rep("\0", 15) .. "\1", 1, "b")
  H.same({"::1", 1, "[::1]:1"}, a.literal, a.port, tostring(a))
end)

H.case("address: bad type", function ()
  badarg(1, "invalid option 'ipv5'", system.address, "ipv5")
  badarg(1, "invalid option 'local'", system.address, "local")
  badarg(1, "string expected, got no value", system.address)
  badarg(1, "string expected, got nil", system.address, nil, "1.2.3.4:1")
  badarg(1, "string expected, got table", system.address, {})
end)

H.case("address: invalid URI format", function ()
  -- the shape is wrong: no port separator, brackets missing or misplaced
  for _, text in ipairs{"", "1.2.3.4", "localhost"} do
    badarg(2, "invalid URI format", system.address, "ipv4", text)
  end
  for _, text in ipairs{"", "::1", "[::1]", "[::1]80", "[::1:80", "::1]:80",
                        "1.2.3.4:80", "[[::1]]:80"} do
    badarg(2, "invalid URI format", system.address, "ipv6", text)
  end
end)

H.case("address: URI hosts that are no literal", function ()
  -- the shape is right but the host is not a literal of the type: a
  -- host name is never looked up, whatever its port
  for _, text in ipairs{":80", "1.2.3:80", "1.2.3.4.5:80", "[1.2.3.4]:80",
                        "localhost:8080", " 1.2.3.4:80", "1.2.3.4\0:80",
                        "256.0.0.1:80", "291.168.0.1:8080"} do
    badarg(2, "invalid argument", system.address, "ipv4", text)
  end
  for _, text in ipairs{"[::g]:80", "[]:80", "[::1\0]:80",
                        "[ip6-localhost]:8080", "[291:168:0:1]:8080"} do
    badarg(2, "invalid argument", system.address, "ipv6", text)
  end
end)

H.case("address: URI ports", function ()
  -- after the separator only decimal digits, at most 65535
  for _, text in ipairs{"1.2.3.4:", "1.2.3.4:8a", "1.2.3.4:80 ",
                        "1.2.3.4:-1", "1.2.3.4:-8080", "1.2.3.4:+1",
                        "1.2.3.4:0x1f90", "1.2.3.4:80:80", "::1:80",
                        "[::1]:80", "1.2.3.4:65536", "localhost:65536"} do
    badarg(2, "invalid port", system.address, "ipv4", text)
  end
  for _, text in ipairs{"[::1]:", "[::1]:x", "[::1]:-8080", "[::1]:0x50",
                        "[::1]:99999999999999"} do
    badarg(2, "invalid port", system.address, "ipv6", text)
  end
end)

H.case("address: data is a string or a memory", function ()
  -- the C module, not test/memory.lua (LUA_PATH starts with test/)
  local path = package.path
  package.path = ""
  local memory = require "memory"
  package.path = path
  local a = system.address("ipv4", memory.create("127.0.0.1:8080"))
  H.same({"127.0.0.1:8080"}, tostring(a))
  a = system.address("ipv6", memory.create("::1"), 80, "t")
  H.same({"[::1]:80"}, tostring(a))
  a = system.address("ipv4", memory.create("\127\0\0\2"), 80, "b")
  H.same({"127.0.0.2:80"}, tostring(a))
  a.binary = memory.create("\127\0\0\3")
  a.literal = memory.create("127.0.0.4")
  H.same({"127.0.0.4:80"}, tostring(a))
  for _, v in ipairs{true, {}, print} do
    badarg(2, "string or memory expected, got " .. type(v),
           system.address, "ipv4", v)
    badarg(2, "string or memory expected, got " .. type(v),
           system.address, "ipv4", v, 80, "b")
  end
end)

H.case("address: an explicit nil is an argument", function ()
  -- only absent arguments are left out: nil is a wrong value
  local got = "string or memory expected, got nil"
  badarg(2, got, system.address, "ipv4", nil)
  badarg(2, got, system.address, "ipv6", nil, nil)
  badarg(2, got, system.address, "ipv4", nil, nil, nil)
  badarg(2, got, system.address, "ipv4", nil, 80, "b")
  badarg(3, "number expected, got nil",
         system.address, "ipv4", "127.0.0.1:80", nil)
  badarg(3, "number expected, got nil",
         system.address, "ipv6", "[::1]:80", nil, nil)
  -- a nil mode is the default one
  H.same({"127.0.0.1:80"},
         tostring(system.address("ipv4", "127.0.0.1", 80, nil)))
end)

H.case("address: invalid port", function ()
  badarg(2, "invalid port", system.address, "ipv4", "1.2.3.4:65536")
  badarg(2, "invalid port", system.address, "ipv6", "[::1]:99999999999999")
  badarg(3, "invalid port", system.address, "ipv4", "1.2.3.4", 65536)
  badarg(3, "invalid port", system.address, "ipv4", "1.2.3.4", -1)
  badarg(3, "invalid port", system.address, "ipv6", "::1", math.mininteger)
  badarg(3, "number has no integer representation",
         system.address, "ipv4", "1.2.3.4", 1.5)
  badarg(3, "number expected, got string",
         system.address, "ipv4", "1.2.3.4", "http")
  badarg(3, "number expected, got nil",
         system.address, "ipv4", "1.2.3.4", nil, "t")
end)

H.case("address: invalid mode", function ()
  for _, mode in ipairs{"", "x", "bt", "tb", "B", "T", "~", "b "} do
    badarg(4, "invalid mode", system.address, "ipv4", "1.2.3.4", 1, mode)
  end
  badarg(4, "string expected, got table",
         system.address, "ipv4", "1.2.3.4", 1, {})
end)

H.case("address: bad host with a port", function ()
  badarg(2, "invalid argument", system.address, "ipv4", "::1", 1)
  badarg(2, "invalid argument", system.address, "ipv6", "1.2.3.4", 1)
  badarg(2, "invalid argument", system.address, "ipv4", "1.2.3.4:1", 1)
  badarg(2, "invalid argument", system.address, "ipv4", "", 1)
  badarg(2, "invalid argument", system.address, "ipv6", "[::1]", 1, "t")
  badarg(2, "invalid argument", system.address, "ipv4", "localhost", 1, "t")
  badarg(2, "invalid binary address",
         system.address, "ipv4", "\1\2\3", 1, "b")
  badarg(2, "invalid binary address",
         system.address, "ipv4", string.rep("\0", 16), 1, "b")
  badarg(2, "invalid binary address",
         system.address, "ipv6", "\1\2\3\4", 1, "b")
  badarg(2, "string or memory expected, got nil",
         system.address, "ipv4", nil, 1)
end)

-- --- system.address: fields and metamethods --------------------------------

H.case("address: writable fields", function ()
  local a = system.address("ipv4")
  a.literal = "192.0.2.1"
  a.port = 443
  H.same({"192.0.2.1:443", "\192\0\2\1"}, tostring(a), a.binary)
  a.binary = "\127\0\0\1"
  H.same({"127.0.0.1", 443}, a.literal, a.port)
  a.port = 0
  a.port = 65535
  H.same({"127.0.0.1:65535"}, tostring(a))
  local b = system.address("ipv6")
  b.literal = "fe80::1"
  b.port = 8080
  H.same({"[fe80::1]:8080"}, tostring(b))
  b.binary = string.rep("\0", 10) .. "\xff\xff\127\0\0\1"
  H.same({"::ffff:127.0.0.1", 8080}, b.literal, b.port)
end)

H.case("address: field errors leave the address unchanged", function ()
  local a = system.address("ipv4", "10.0.0.1:7")
  local function set (k, v) a[k] = v end
  badarg(3, "invalid port", set, "port", 65536)
  badarg(3, "invalid port", set, "port", -1)
  badarg(3, "number has no integer representation", set, "port", 0.5)
  badarg(3, "number expected, got string", set, "port", "x")
  badarg(3, "invalid argument", set, "literal", "::1")
  badarg(3, "invalid argument", set, "literal", "10.0.0.1:7")
  badarg(3, "string or memory expected, got nil", set, "literal", nil)
  badarg(3, "invalid binary address", set, "binary", "\1\2\3\4\5")
  badarg(3, "invalid binary address", set, "binary", "")
  badarg(2, "invalid option 'type'", set, "type", "ipv6")
  badarg(2, "invalid option 'host'", set, "host", "x")
  H.same({"10.0.0.1:7", "ipv4"}, tostring(a), a.type)
  local b = system.address("ipv6")
  badarg(3, "invalid argument", function () b.literal = "1.2.3.4" end)
  badarg(3, "invalid binary address",
         function () b.binary = "\1\2\3\4" end)
end)

H.case("address: unknown fields", function ()
  local a = system.address("ipv4")
  badarg(2, "invalid option 'foo'", function () return a.foo end)
  badarg(2, "invalid option 'close'", function () return a:close() end)
  badarg(2, "invalid option '1'", function () return a[1] end)
end)

H.case("address: equality", function ()
  local a = system.address("ipv4", "127.0.0.1:80")
  assert(a == system.address("ipv4", "127.0.0.1", 80))
  assert(a ~= system.address("ipv4", "127.0.0.1:81"))
  assert(a ~= system.address("ipv4", "127.0.0.2:80"))
  assert(a ~= system.address("ipv6", "[::ffff:127.0.0.1]:80"))
  assert(a ~= system.address("ipv6"))
  assert(system.address("ipv6") ~= system.address("ipv4"))
  assert(system.address("ipv6", "[::1]:1") == system.address("ipv6", "::1", 1))
  assert(a ~= "127.0.0.1:80")
  assert(a ~= io.stdout)
  local b = system.address("ipv4", "127.0.0.1:80")
  b.port = 1
  assert(a ~= b)
  b.port = 80
  assert(a == b and rawequal(a, a) and not rawequal(a, b))
end)

H.case("address: collected", function ()
  H.track(system.address("ipv4"), system.address("ipv6", "[::1]:1"))
end)

-- --- system.findaddr -------------------------------------------------------

H.case("findaddr: localhost", function ()
  local list = H.track(system.findaddr("localhost", 80, "~4"))
  local addrs, kinds = collect(list)
  assert(contains(addrs, "127.0.0.1:80"), table.concat(addrs, " "))
  assert(contains(kinds, "ipv4/stream"))
  assert(contains(kinds, "ipv4/datagram"))
  for i = 1, #addrs do
    assert(addrs[i]:match(":80$"))
    assert(kinds[i]:match("^ipv4/"))
  end
end)

H.case("findaddr: without mode", function ()
  local list = H.track(system.findaddr("127.0.0.1", "8080", "~"))
  local addrs, kinds = collect(list)
  H.same({"127.0.0.1:8080", "127.0.0.1:8080"}, table.unpack(addrs))
  H.same({"ipv4/stream", "ipv4/datagram"}, table.unpack(kinds))
end)

H.case("findaddr: socket types", function ()
  local list = H.track(system.findaddr("127.0.0.1", 9, "~s"))
  H.same({"stream", false}, list:getsocktype(), list:next())
  list = H.track(system.findaddr("127.0.0.1", 9, "~d"))
  H.same({"datagram", false}, list:getsocktype(), list:next())
  list = H.track(system.findaddr("127.0.0.1", 9, "~ds"))
  local _, kinds = collect(list)
  H.same({"ipv4/stream", "ipv4/datagram"}, table.unpack(kinds))
end)

H.case("findaddr: no service means port zero", function ()
  local list = H.track(system.findaddr("127.0.0.1", nil, "~s"))
  H.same({"127.0.0.1:0"}, tostring(list:getaddress()))
  list = H.track(system.findaddr("localhost", nil, "~4s"))
  H.same({"127.0.0.1:0"}, tostring(list:getaddress()))
end)

H.case("findaddr: numeric IPv6 and families", function ()
  local list = H.track(system.findaddr("::1", 80, "~6s"))
  H.same({"[::1]:80", "ipv6", "stream"},
         tostring(list:getaddress()), list:getdomain(), list:getsocktype())
  list = H.track(system.findaddr("::1", 80, "~46s"))
  H.same({"[::1]:80"}, tostring(list:getaddress()))
  failure("address family not supported", system.findaddr("::1", 80, "~4"))
  failure("address family not supported",
          system.findaddr("127.0.0.1", 80, "~6"))
end)

H.case("findaddr: IPv6 scope kept and compared", function ()
  local list = H.track(system.findaddr("fe80::1%lo", 1, "~6s"))
  local a = list:getaddress()
  H.same({"[fe80::1]:1"}, tostring(a))
  assert(a ~= system.address("ipv6", "[fe80::1]:1"), "scope ignored")
  assert(a == list:getaddress(system.address("ipv6")))
end)

H.case("findaddr: IPv4-mapped", function ()
  local list = H.track(system.findaddr("127.0.0.1", 80, "~6ms"))
  H.same({"[::ffff:127.0.0.1]:80", "ipv6"},
         tostring(list:getaddress()), list:getdomain())
  list = H.track(system.findaddr("127.0.0.1", 80, "~ms"))
  H.same({"[::ffff:127.0.0.1]:80"}, tostring(list:getaddress()))
  list = H.track(system.findaddr("127.0.0.1", 80, "~46ms"))
  H.same({"[::ffff:127.0.0.1]:80"}, tostring(list:getaddress()))
  -- mapped results are IPv6 ones: asking for IPv4 only contradicts it
  for _, mode in ipairs{"~m4", "~4m", "m4", "~4ms", "~dm4"} do
    badarg(3, "'m' is invalid for IPv4", system.findaddr, "localhost", 0,
           mode)
  end
end)

H.case("findaddr: nil name is the loopback", function ()
  local list = H.track(system.findaddr(nil, 8080, "~4s"))
  H.same({"127.0.0.1:8080", false}, tostring(list:getaddress()), list:next())
  list = H.track(system.findaddr(nil, 8080, "~6s"))
  H.same({"[::1]:8080", false}, tostring(list:getaddress()), list:next())
  list = H.track(system.findaddr(nil, 8080, "~"))
  local addrs = collect(list)
  for _, a in ipairs(addrs) do
    assert(a == "127.0.0.1:8080" or a == "[::1]:8080", a)
  end
end)

H.case("findaddr: '*' is the wildcard", function ()
  local list = H.track(system.findaddr("*", 8080, "~4s"))
  H.same({"0.0.0.0:8080", false}, tostring(list:getaddress()), list:next())
  list = H.track(system.findaddr("*", "8080", "~6d"))
  H.same({"[::]:8080", "datagram"},
         tostring(list:getaddress()), list:getsocktype())
end)

H.case("findaddr: service names", function ()
  if not has_http then
    return H.skip("findaddr: service names", "/etc/services has no http")
  end
  local list = H.track(system.findaddr("127.0.0.1", "http", "~s"))
  H.same({"127.0.0.1:80"}, tostring(list:getaddress()))
  local a = list:getaddress()
  H.same({80}, a.port)
  failure(nil, system.findaddr("127.0.0.1", "no-such-service-here", "~"))
end)

H.case("findaddr: names that libuv refuses", function ()
  failure("invalid argument", system.findaddr("", 80, "~"))
  failure("invalid argument", system.findaddr("\xff\xfe", 80, "~"))
  failure("invalid argument", system.findaddr(string.rep("a", 300), 1, "~"))
end)

H.case("findaddr: bad arguments", function ()
  badarg(1, "name or service must be provided", system.findaddr)
  badarg(1, "name or service must be provided", system.findaddr, nil, nil, "~")
  badarg(2, "service must be provided for '*'", system.findaddr, "*")
  badarg(2, "service must be provided for '*'", system.findaddr, "*", nil, "~")
  badarg(1, "string expected, got table", system.findaddr, {}, 80, "~")
  badarg(1, "string expected, got boolean", system.findaddr, true, 80, "~")
  badarg(2, "string expected, got table", system.findaddr, "x", {}, "~")
  badarg(2, "invalid port", system.findaddr, "localhost", 65536, "~")
  badarg(2, "invalid port", system.findaddr, "localhost", -1, "~")
  badarg(2, "number has no integer representation",
         system.findaddr, "localhost", 80.5, "~")
  badarg(3, "unknown mode char (got 'x')", system.findaddr, "x", 1, "x")
  badarg(3, "unknown mode char (got 'l')", system.findaddr, "x", 1, "~4l")
  badarg(3, "'~' must be in the begin of 'mode'",
         system.findaddr, "x", 1, "4~")
  badarg(3, "string expected, got table", system.findaddr, "x", 1, {})
end)

H.case("findaddr: unable to yield", function ()
  H.raises("unable to yield", system.findaddr, "localhost", 80)
  H.raises("unable to yield", system.findaddr, "localhost", 80, "4s")
end)

-- --- addresses objects -----------------------------------------------------

H.case("addresses: next and reset", function ()
  local list = H.track(system.findaddr("127.0.0.1", 7, "~"))
  local first = list:getaddress()
  H.same({"stream"}, list:getsocktype())
  H.same({true}, list:next())
  H.same({"datagram"}, list:getsocktype())
  H.same({false}, list:next())
  H.same({false}, list:next())
  H.same({"datagram"}, list:getsocktype())
  H.same({n = 0}, list:reset())
  H.same({"stream"}, list:getsocktype())
  assert(list:getaddress() == first)
end)

H.case("addresses: getaddress fills an address", function ()
  local list = H.track(system.findaddr("127.0.0.1", 7, "~s"))
  local a = system.address("ipv4", "10.1.1.1:1")
  local b = list:getaddress(a)
  assert(rawequal(a, b))
  H.same({"127.0.0.1:7"}, tostring(a))
  local fresh = list:getaddress(nil)
  assert(fresh == a and not rawequal(fresh, a))
  badarg(2, "wrong domain", list.getaddress, list, system.address("ipv6"))
  badarg(2, "address expected, got table", list.getaddress, list, {})
  badarg(2, "address expected, got string", list.getaddress, list, "x")
  local six = H.track(system.findaddr("::1", 7, "~s"))
  local c = system.address("ipv6")
  assert(rawequal(six:getaddress(c), c))
  H.same({"[::1]:7"}, tostring(c))
  badarg(2, "wrong domain", six.getaddress, six, system.address("ipv4"))
end)

H.case("addresses: closed object", function ()
  local list = H.track(system.findaddr("127.0.0.1", 7, "~"))
  H.same({true}, list:close())
  H.same({false}, list:close())  -- it was closed already
  for _, name in ipairs{"next", "reset", "getaddress", "getdomain",
                        "getsocktype"} do
    badarg(1, "closed object", list[name], list)
  end
  badarg(1, "closed object", list.getaddress, list, system.address("ipv4"))
end)

H.case("addresses: methods check self", function ()
  local list = H.track(system.findaddr("127.0.0.1", 7, "~"))
  for _, name in ipairs{"close", "next", "reset", "getaddress", "getdomain",
                        "getsocktype"} do
    badarg(1, "coutil.addresses expected", list[name], {})
    badarg(1, "coutil.addresses expected", list[name], system.address("ipv4"))
  end
end)

H.case("addresses: to-be-closed", function ()
  local kept
  do
    local list <close> = system.findaddr("127.0.0.1", 7, "~")
    kept = H.track(list)
    H.same({"ipv4"}, list:getdomain())
  end
  badarg(1, "closed object", kept.getdomain, kept)
end)

H.case("addresses: collected while open", function ()
  for _ = 1, 20 do H.track(system.findaddr("localhost", 80, "~")) end
end)

-- --- findaddr as an await function -----------------------------------------

H.case("findaddr: awaits", function ()
  local list = H.run(function ()
    return system.findaddr("localhost", 80, "4s")
  end)
  H.track(list)
  H.same({"127.0.0.1:80", "ipv4", "stream"},
         tostring(list:getaddress()), list:getdomain(), list:getsocktype())
end)

H.case("findaddr: awaited failures", function ()
  H.run(function ()
    failure("address family not supported", system.findaddr("::1", 1, "4"))
    failure("invalid argument", system.findaddr("\xff", 1))
  end)
end)

H.case("findaddr: many at once", function ()
  local found = 0
  for i = 1, 20 do
    spawn(function ()
      local list = H.track(system.findaddr("127.0.0.1", i, "s"))
      H.same({"127.0.0.1:" .. i}, tostring(list:getaddress()))
      found = found + 1
    end)
  end
  drain()
  H.same({20}, found)
end)

H.case("findaddr: resumed early", function ()
  local after
  local co = spawn(function ()
    H.same({"early", 2}, system.findaddr("localhost", 80))
    after = H.track(system.findaddr("localhost", 80, "4s"))
    return "done"
  end)
  H.same({true}, coroutine.resume(co, "early", 2))
  drain()
  H.same({"dead", "127.0.0.1:80"},
         coroutine.status(co), tostring(after:getaddress()))
end)

H.case("findaddr: resumed early, with no values", function ()
  local co = spawn(function ()
    H.same({n = 0}, system.findaddr(nil, 1))
  end)
  assert(coroutine.resume(co))
  assert(coroutine.status(co) == "dead")
  drain()
end)

H.case("findaddr: coroutine closed while waiting", function ()
  local co = spawn(function ()
    system.findaddr("localhost", 80)
    error("must not run")
  end)
  assert(coroutine.close(co))
  drain()
end)

H.case("findaddr: waiting coroutine only referenced by the loop", function ()
  local got
  spawn(function ()
    local list = system.findaddr("localhost", 80, "4s")
    collectgarbage("collect")  -- inside the loop's resume
    got = tostring(list:getaddress())
  end)
  collectgarbage("collect")
  collectgarbage("collect")
  drain()
  H.same({"127.0.0.1:80"}, got)
end)

-- --- system.nameaddr -------------------------------------------------------

local localname = hostnames["127.0.0.1"]

H.case("nameaddr: address", function ()
  if not localname then
    return H.skip("nameaddr: address", "127.0.0.1 not in /etc/hosts")
  end
  local a = system.address("ipv4", "127.0.0.1", 80)
  H.same({localname, servname(80, "tcp")}, system.nameaddr(a, "~"))
  H.same({localname, servname(80, "tcp")}, system.nameaddr(a, "~l"))
  H.same({localname, servname(53, "udp")},
         system.nameaddr(system.address("ipv4", "127.0.0.1:53"), "~d"))
  a.port = unnamed
  H.same({localname, tostring(unnamed)}, system.nameaddr(a, "~"))
  for _, mode in ipairs{"~i", "~u", "~a", "~ldiua"} do
    H.same({localname, tostring(unnamed)}, system.nameaddr(a, mode))
  end
end)

H.case("nameaddr: IPv6 address", function ()
  local name = hostnames["::1"]
  if not name then
    -- the lookup would go to a name server: never in tests
    return H.skip("nameaddr: IPv6 address", "::1 not in /etc/hosts")
  end
  local a = system.address("ipv6", "[::1]:80")
  H.same({name, servname(80, "tcp")}, system.nameaddr(a, "~"))
end)

H.case("nameaddr: an address with no name", function ()
  -- the unspecified IPv6 address has no name, and glibc asks no name
  -- server about it: the look-up fails instead of giving the number
  local a = system.address("ipv6", "[::]:80")
  failure(nil, system.nameaddr(a, "~"))
  local r
  spawn(function () r = H.pack(system.nameaddr(a)) end)
  drain()
  failure(nil, table.unpack(r, 1, r.n))
end)

H.case("nameaddr: port numbers", function ()
  H.same({servname(80, "tcp")}, system.nameaddr(80, "~"))
  H.same({servname(53, "udp")}, system.nameaddr(53, "~d"))
  H.same({servname(443, "tcp")}, system.nameaddr(443, "~l"))
  H.same({tostring(unnamed)}, system.nameaddr(unnamed, "~"))
  H.same({"0"}, system.nameaddr(0, "~"))
  H.same({servname(65535, "tcp")}, system.nameaddr(65535, "~"))
  H.same({servname(80, "tcp")}, system.nameaddr(80.0, "~"))
end)

H.case("nameaddr: names", function ()
  if localname ~= "localhost" then
    return H.skip("nameaddr: names", "localhost is not 127.0.0.1's name")
  end
  H.same({"localhost"}, system.nameaddr("localhost", "~"))
  H.same({"localhost"}, system.nameaddr("localhost", "~i"))
  H.same({"localhost"}, system.nameaddr("localhost", "~ua"))
  H.same({"127.0.0.1"}, system.nameaddr("127.0.0.1", "~"))
  H.same({"::1"}, system.nameaddr("::1", "~"))
end)

H.case("nameaddr: names that libuv refuses", function ()
  failure("invalid argument", system.nameaddr("", "~"))
  failure("invalid argument", system.nameaddr("\xff\xfe", "~"))
  failure("invalid argument", system.nameaddr(string.rep("a", 300), "~"))
end)

H.case("nameaddr: bad arguments", function ()
  badarg(1, "address, number or string expected, got no value",
         system.nameaddr)
  badarg(1, "address, number or string expected, got nil",
         system.nameaddr, nil, "~")
  badarg(1, "address, number or string expected, got table",
         system.nameaddr, {}, "~")
  badarg(1, "address, number or string expected, got boolean",
         system.nameaddr, true, "~")
  badarg(1, "invalid port", system.nameaddr, 65536, "~")
  badarg(1, "invalid port", system.nameaddr, -1, "~")
  badarg(1, "number has no integer representation",
         system.nameaddr, 1.5, "~")
  badarg(2, "unknown mode char (got 'x')", system.nameaddr, 80, "x")
  badarg(2, "unknown mode char (got '4')", system.nameaddr, 80, "~4")
  badarg(2, "'~' must be in the begin of 'mode'", system.nameaddr, 80, "l~")
  badarg(2, "string expected, got table", system.nameaddr, 80, {})
end)

H.case("nameaddr: unable to yield", function ()
  H.raises("unable to yield", system.nameaddr, 80)
  H.raises("unable to yield", system.nameaddr, "localhost")
  H.raises("unable to yield", system.nameaddr, system.address("ipv4"), "l")
end)

H.case("nameaddr: awaits", function ()
  local a = system.address("ipv4", "127.0.0.1", 80)
  local r = H.pack(H.run(function ()
    local host, serv = system.nameaddr(a)
    local port = system.nameaddr(53, "d")
    local unknown = system.nameaddr(unnamed)
    local canon = system.nameaddr("127.0.0.1")
    return host, serv, port, unknown, canon
  end))
  H.same({localname or r[1], servname(80, "tcp"), servname(53, "udp"),
          tostring(unnamed), "127.0.0.1"}, table.unpack(r, 1, r.n))
end)

H.case("nameaddr: awaited failures", function ()
  H.run(function ()
    failure("invalid argument", system.nameaddr(""))
    failure("invalid argument", system.nameaddr("\xff"))
  end)
end)

H.case("nameaddr: resumed early", function ()
  local later
  local co = spawn(function ()
    H.same({"early"}, system.nameaddr(80))
    H.same({"again", 1}, system.nameaddr("localhost"))
    local a = system.address("ipv4", "127.0.0.1:1")
    H.same({nil, false}, system.nameaddr(a))
    later = system.nameaddr(80)
  end)
  H.same({true}, coroutine.resume(co, "early"))
  H.same({true}, coroutine.resume(co, "again", 1))
  H.same({true}, coroutine.resume(co, nil, false))
  drain()
  H.same({"dead", servname(80, "tcp")}, coroutine.status(co), later)
end)

H.case("nameaddr: coroutine closed while waiting", function ()
  local cos = {
    spawn(function () system.nameaddr(80); error("must not run") end),
    spawn(function () system.nameaddr("localhost"); error("must not run") end),
    spawn(function ()
      system.nameaddr(system.address("ipv4", "127.0.0.1:1"))
      error("must not run")
    end),
  }
  for _, co in ipairs(cos) do assert(coroutine.close(co)) end
  drain()
end)

H.case("nameaddr: waiting coroutine only referenced by the loop", function ()
  local got
  spawn(function ()
    local serv = system.nameaddr(80)
    collectgarbage("collect")
    got = serv
  end)
  collectgarbage("collect")
  drain()
  H.same({servname(80, "tcp")}, got)
end)

-- --- teardown --------------------------------------------------------------

H.case("lookups pending when the state closes", function ()
  local ok, out = H.runlua([[
    local system = require "coutil.system"
    for i = 1, 5 do
      coroutine.wrap(function () system.findaddr("localhost", i) end)()
      coroutine.wrap(function () system.nameaddr(i) end)()
      coroutine.wrap(function () system.nameaddr("localhost") end)()
    end
    print("closing")
  ]])
  assert(ok, out)
  assert(out:find("closing", 1, true), out)
end)

H.case("objects alive when the state closes", function ()
  local ok, out = H.runlua([[
    local system = require "coutil.system"
    kept = {system.findaddr("localhost", 80, "~"), system.address("ipv6")}
    local list = system.findaddr("127.0.0.1", 1, "~")
    list:close()
    print("closing")
  ]])
  assert(ok, out)
  assert(out:find("closing", 1, true), out)
end)

H.done()
