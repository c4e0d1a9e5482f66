-- test/info.lua: system.procinfo, cpuinfo, netinfo and random (manual,
-- "System Information"). Values are checked against sources that do not
-- go through libuv: /proc, uname, id, getent, ip.

local H = require "helpers"
local system = require "coutil.system"
local memory = H.cmodule "memory"

local sh = H.sh

local function readfile (path)
  local f = io.open(path)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- Fields of /proc/self/stat (after the command name, which may hold
-- spaces): index 1 is the state, as in proc(5) field 3.
local function selfstat ()
  local text = assert(readfile("/proc/self/stat"))
  local pid, rest = text:match("^(%d+) %(.*%) (.*)$")
  local fields = {}
  for v in rest:gmatch("%S+") do fields[#fields + 1] = v end
  return tonumber(pid), fields
end

local function meminfo (name)
  local text = assert(readfile("/proc/meminfo"))
  return tonumber(text:match(name .. ":%s*(%d+) kB")) * 1024
end

local function status (name)
  local text = assert(readfile("/proc/self/status"))
  return tonumber(text:match(name .. ":%s*(%d+)"))
end

-- Every character of procinfo and the Lua type of its value.
local PROCTYPES = {
  e = "string", n = "string", T = "string", h = "string", k = "string",
  v = "string", V = "string", ["$"] = "string", H = "string", U = "string",
  u = "integer", g = "integer", ["="] = "integer", d = "integer",
  m = "integer", R = "integer", ["<"] = "integer", [">"] = "integer",
  i = "integer", o = "integer", p = "integer", P = "integer",
  S = "integer", w = "integer", x = "integer", X = "integer",
  c = "float", s = "float", ["1"] = "float", l = "float", L = "float",
  t = "float", ["#"] = "integer", ["^"] = "integer", b = "integer",
  f = "integer", M = "integer", r = "integer",
}

local function luatype (v)
  return math.type(v) or type(v)
end

-- --- procinfo ------------------------------------------------------------

H.case("procinfo: every character gives a value of its type", function ()
  local all = {}
  for c, t in pairs(PROCTYPES) do
    all[#all + 1] = c
    local v = system.procinfo(c)
    assert(luatype(v) == t, c .. ": " .. luatype(v) .. " instead of " .. t)
  end
  local which = table.concat(all)
  local values = H.pack(system.procinfo(which))
  assert(values.n == #which)
  for i = 1, #which do
    local c = which:sub(i, i)
    assert(luatype(values[i]) == PROCTYPES[c], c)
  end
end)

H.case("procinfo: a repeated character repeats its value", function ()
  for _, c in ipairs{"k", "u", "#", "H", "b"} do
    local a, b, x = system.procinfo(c .. c .. c)
    assert(a == b and b == x, c)
  end
  H.same({0}, select("#", system.procinfo("")))
end)

H.case("procinfo: unknown characters raise", function ()
  for byte = 0, 255 do
    local c = string.char(byte)
    if not PROCTYPES[c] then
      local shown = byte == 0 and "\\0" or c
      H.badarg(1, "unknown mode char (got '" .. shown .. "')",
               system.procinfo, "k" .. c)
    end
  end
  H.badarg(1, "unknown mode char (got '~')", system.procinfo, "~k")
  H.badarg(1, "string expected, got no value", system.procinfo)
  H.badarg(1, "string expected, got table", system.procinfo, {})
end)

H.case("procinfo: system names match uname", function ()
  H.same({sh "uname -s", sh "uname -m", sh "uname -r", sh "uname -v",
          sh "uname -n"}, system.procinfo("khvVn"))
end)

H.case("procinfo: the user matches id and the passwd entry", function ()
  local uid, gid, user = tonumber(sh "id -u"), tonumber(sh "id -g"),
                         sh "id -un"
  local entry = sh("getent passwd " .. uid)
  local home, shell = entry:match("^[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:([^:]*):(.*)$")
  H.same({uid, gid, user, home, shell}, system.procinfo("ugUH$"))
end)

H.case("procinfo: process ids and paths", function ()
  local pid, fields = selfstat()
  H.same({pid, tonumber(fields[2])}, system.procinfo("#^"))
  local exe = sh("readlink /proc/" .. pid .. "/exe")
  -- under valgrind (make check-valgrind) the process is valgrind's tool,
  -- while /proc/self/exe, which libuv reads, names the interpreter
  if not exe:find("valgrind", 1, true) then
    assert(system.procinfo("e") == exe, system.procinfo("e"))
  end
  local tmp = os.getenv("TMPDIR") or os.getenv("TMP") or
              os.getenv("TEMP") or "/tmp"
  tmp = #tmp > 1 and tmp:gsub("/$", "") or tmp
  assert(system.procinfo("T") == tmp)
end)

H.case("procinfo: memory figures match /proc", function ()
  local total, free, limit, rss = system.procinfo("bfMr")
  assert(total == meminfo("MemTotal"))
  assert(free > 0 and free <= total)
  assert(limit > 0)
  local pages = tonumber(readfile("/proc/self/statm"):match("^%d+ (%d+)"))
  local page = tonumber(sh "getconf PAGESIZE")
  assert(math.abs(rss - pages * page) <= 4 * 1024 * 1024, rss)
  local maxrss = system.procinfo("R")
  assert(maxrss >= status("VmHWM") * 1024 - 4 * 1024 * 1024)
  assert(maxrss > 0)
end)

H.case("procinfo: uptime and load match /proc", function ()
  local text = assert(readfile("/proc/uptime"))
  local up = tonumber(text:match("^(%S+)"))
  local t = system.procinfo("t")
  assert(math.abs(t - up) < 2, t)
  local l1, l5, l15 = readfile("/proc/loadavg"):match("^(%S+) (%S+) (%S+)")
  local a, b, c = system.procinfo("1lL")
  assert(math.abs(a - tonumber(l1)) < 1)
  assert(math.abs(b - tonumber(l5)) < 1)
  assert(math.abs(c - tonumber(l15)) < 1)
end)

H.case("procinfo: CPU times and faults lie between two /proc reads",
function ()
  local x = 0
  for i = 1, 2e6 do x = x + i % 7 end  -- some CPU time to measure
  assert(x > 0)
  local _, before = selfstat()
  local vol0, invol0 = status("voluntary_ctxt_switches"),
                       status("nonvoluntary_ctxt_switches")
  local minflt, majflt, user, sys, vol, invol =
    system.procinfo("pPcsxX")
  local _, after = selfstat()
  local vol1, invol1 = status("voluntary_ctxt_switches"),
                       status("nonvoluntary_ctxt_switches")
  local hz = tonumber(sh "getconf CLK_TCK")
  -- proc(5): minflt is field 10, majflt 12, utime 14, stime 15
  assert(minflt >= tonumber(before[8]) and minflt <= tonumber(after[8]))
  assert(majflt >= tonumber(before[10]) and majflt <= tonumber(after[10]))
  assert(user >= tonumber(before[12]) / hz - 0.02)
  assert(user <= tonumber(after[12]) / hz + 0.02)
  assert(sys >= tonumber(before[13]) / hz - 0.02)
  assert(sys <= tonumber(after[13]) / hz + 0.02)
  assert(vol >= vol0 and vol <= vol1)
  assert(invol >= invol0 and invol <= invol1)
  assert(math.abs(user + sys - os.clock()) < 0.05)
end)

H.case("procinfo: a child's usage is its own", function ()
  -- a fresh lua5.4 has used little CPU and reports its own pid
  local ok, out = H.runlua([[
    local system = require "coutil.system"
    local x = 0
    for i = 1, 3e6 do x = x + i % 3 end
    local c, s, pid, ppid = system.procinfo("cs#^")
    print(c, s, pid, ppid, x)
  ]])
  assert(ok, out)
  local c, s, pid, ppid = out:match("^(%S+)\t(%S+)\t(%S+)\t(%S+)")
  assert(tonumber(c) > 0 and tonumber(c) < 30, out)
  assert(tonumber(s) >= 0)
  assert(tonumber(pid) ~= system.procinfo("#"))
  assert(tonumber(ppid) ~= tonumber(pid))
end)

H.case("procinfo: counters Linux does not keep are zero", function ()
  if system.procinfo("k") ~= "Linux" then return end
  -- getrusage(2): unmaintained on Linux
  H.same({0, 0, 0, 0, 0, 0, 0}, system.procinfo("=dm<>Sw"))
  local i, o = system.procinfo("io")
  assert(i >= 0 and o >= 0)
end)

-- --- cpuinfo -------------------------------------------------------------

-- The cpuN lines of /proc/stat: their user, nice, system, irq and idle
-- ticks (proc(5)).
local function procstat ()
  local cpus = {}
  for line in assert(readfile("/proc/stat")):gmatch("[^\n]+") do
    local n, user, nice, sys, idle, _, irq =
      line:match("^cpu(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)")
    if n then
      cpus[#cpus + 1] = {u = tonumber(user), n = tonumber(nice),
                         s = tonumber(sys), i = tonumber(idle),
                         d = tonumber(irq)}
    end
  end
  return cpus
end

H.case("cpuinfo: the iterator protocol", function ()
  local iter, which, first, closing = system.cpuinfo("m")
  assert(type(iter) == "userdata")
  assert(which == "m" and first == 0 and closing == iter)
  local total = #iter
  local count = 0
  for i, model in iter, which, first, closing do
    count = count + 1
    assert(i == count)
    assert(type(model) == "string")
  end
  assert(count == total and count == #procstat())
  H.raises("closed", function () return #iter end)  -- the loop closed it
  local again <close> = system.cpuinfo()
  H.same({n = 1}, again("m", #again))
  H.same({n = 1}, again("m", -1))
  H.same({1}, again(nil, 0))
  H.same({1}, again("", 0))
end)

H.case("cpuinfo: every character, against /proc", function ()
  local before = procstat()
  local cpus <close> = system.cpuinfo()
  local after = procstat()
  local hz = tonumber(sh "getconf CLK_TCK")
  for idx = 0, #cpus - 1 do
    local i, m, c, u, n, s, x, d = cpus("mcunsid", idx)
    assert(i == idx + 1)
    assert(type(m) == "string" and math.type(c) == "integer" and c >= 0)
    local got = {u = u, n = n, s = s, d = d, i = x}
    for k, v in pairs(got) do
      assert(math.type(v) == "integer", k)
      local lo = before[idx + 1][k] * 1000 // hz
      local hi = after[idx + 1][k] * 1000 // hz
      assert(v >= lo and v <= hi, k .. ": " .. v .. " not in " .. lo ..
             ".." .. hi)
    end
    local a, b2, c2 = cpus("uuu", idx)
    assert(a == idx + 1 and b2 == c2)
  end
end)

H.case("cpuinfo: models match /proc/cpuinfo", function ()
  local models = {}
  for m in assert(readfile("/proc/cpuinfo")):gmatch("model name%s*:%s*([^\n]*)") do
    models[m] = true
  end
  if next(models) == nil then
    return H.skip("cpuinfo: models", "/proc/cpuinfo has no model names")
  end
  for _, m in system.cpuinfo("m") do assert(models[m], m) end
end)

H.case("cpuinfo: bad characters raise", function ()
  H.badarg(1, "unknown mode char (got 'x')", system.cpuinfo, "mx")
  local cpus <close> = system.cpuinfo()
  for byte = 1, 255 do
    local c = string.char(byte)
    if not ("mcunsid"):find(c, 1, true) then
      H.raises("unknown mode char (got '" .. c .. "')", cpus, c, 0)
    end
  end
  H.raises("number expected", cpus, "m")
  H.raises("number has no integer representation", cpus, "m", 0.5)
end)

H.case("cpuinfo: closed iterators raise 'closed'", function ()
  local cpus = H.track((system.cpuinfo()))
  do local closing <close> = cpus end
  H.raises("closed", cpus, "m", 0)
  H.raises("closed", function () return #cpus end)
  getmetatable(cpus).__close(cpus)  -- closing twice is harmless
  -- a loop that breaks closes the iterator too
  local seen
  for _, m in system.cpuinfo("m") do seen = m break end
  assert(seen)
end)

-- --- netinfo -------------------------------------------------------------

-- Addresses from 'ip -o addr': key "name family text/length" -> true.
local function ipaddrs ()
  local p = io.popen("ip -o addr 2>/dev/null")
  if not p then return nil end
  local set, any = {}, false
  for line in p:lines() do
    local name, fam, addr = line:match("^%d+:%s+(%S+)%s+(inet6?)%s+(%S+)")
    if name then
      name = name:gsub("@.*", "")
      set[name .. " " .. (fam == "inet" and "ipv4" or "ipv6") .. " " ..
          addr] = true
      any = true
    end
  end
  p:close()
  return any and set or nil
end

-- Interfaces from 'ip -o link': index -> {name, mac}.
local function iplinks ()
  local p = io.popen("ip -o link 2>/dev/null")
  local links = {}
  for line in p:lines() do
    local idx, name = line:match("^(%d+):%s+([^:@%s]+)")
    local mac = line:match("link/%S+%s+(%x%x:%x%x:%x%x:%x%x:%x%x:%x%x)")
    if idx then links[tonumber(idx)] = {name = name, mac = mac} end
  end
  p:close()
  return links
end

H.case("netinfo all: the addresses 'ip -o addr' lists", function ()
  local expected = ipaddrs()
  if not expected then
    return H.skip("netinfo all: against ip", "'ip -o addr' is not available")
  end
  local got = {}
  local nets <close> = system.netinfo("all", "ndtl")
  for i, name, domain, text, len in nets, "ndtl", 0 do
    assert(i >= 1)
    text = text:gsub("%%.*", "")  -- a scoped address names its interface
    got[name .. " " .. domain .. " " .. text .. "/" .. len] = true
  end
  for k in pairs(expected) do assert(got[k], "netinfo lacks " .. k) end
  for k in pairs(got) do assert(expected[k], "ip lacks " .. k) end
end)

H.case("netinfo all: every character is consistent", function ()
  local links = iplinks()
  local nets <close> = system.netinfo("all")
  assert(#nets >= 1)  -- the loopback at least
  for idx = 0, #nets - 1 do
    local i, n, internal, d, l, m, t, b, T, B =
      nets("nidlmtbTB", idx)
    assert(i == idx + 1)
    assert(type(n) == "string" and type(internal) == "boolean")
    assert(d == "ipv4" or d == "ipv6")
    local size = d == "ipv4" and 4 or 16
    assert(#b == size and #m == size)
    assert(math.type(l) == "integer" and l >= 0 and l <= 8 * size)
    -- the mask is 'l' one bits, then zeros
    local bits = {}
    for k = 1, #m do
      local byte = m:byte(k)
      for bit = 7, 0, -1 do bits[#bits + 1] = (byte >> bit) & 1 end
    end
    assert(table.concat(bits) == ("1"):rep(l) .. ("0"):rep(8 * size - l))
    -- the text and the binary form are the same address
    local text = t:gsub("%%.*", "")
    assert(system.address(d, text, 0, "t") == system.address(d, b, 0, "b"))
    assert(#B == 6)
    assert(T == string.format("%02x:%02x:%02x:%02x:%02x:%02x",
                              B:byte(1, 6)))
    if n == "lo" then assert(internal == true) end
    for _, link in pairs(links) do
      if link.name == n and link.mac then assert(T == link.mac, n) end
    end
  end
  H.same({n = 1}, nets("n", #nets))
  H.same({n = 1}, nets("n", -1))
end)

H.case("netinfo name and id: against 'ip -o link'", function ()
  local links = iplinks()
  local count = 0
  for idx, link in pairs(links) do
    count = count + 1
    assert(system.netinfo("name", idx) == link.name)
    assert(system.netinfo("id", idx) == link.name)  -- Linux: the name
  end
  assert(count > 0)
  local missing = 1
  while links[missing] do missing = missing + 1 end
  missing = missing + 1000
  H.same({false, "no such device or address", 6},
         system.netinfo("name", missing))
end)

H.case("netinfo: bad arguments raise", function ()
  H.badarg(1, "invalid option 'list'", system.netinfo, "list")
  H.badarg(1, "string expected, got no value", system.netinfo)
  for _, option in ipairs{"name", "id"} do
    H.badarg(2, "number expected, got no value", system.netinfo, option)
    for _, bad in ipairs{0, -1, math.maxinteger, 1 << 32} do
      H.badarg(2, "out of range", system.netinfo, option, bad)
    end
  end
  H.badarg(2, "unknown mode char (got 'x')", system.netinfo, "all", "nx")
  local nets = H.track((system.netinfo("all")))
  H.raises("unknown mode char (got 'z')", nets, "z", 0)
  do local closing <close> = nets end
  H.raises("closed", nets, "n", 0)
  H.raises("closed", function () return #nets end)
end)

-- --- random --------------------------------------------------------------

-- A fixed memory of n bytes, all of them 0xAA.
local function sentinel (n)
  local m = memory.create(n)
  memory.fill(m, 0xAA)
  return m
end

-- Whether bytes i..j of m hold anything but the sentinel (random bytes
-- are all 0xAA with probability 256^-n: only ranges of 8+ are checked).
local function changed (m, i, j)
  for k = i, j do if memory.get(m, k) ~= 0xAA then return true end end
  return false
end

local function untouched (m, i, j)
  for k = i, j do
    if memory.get(m, k) ~= 0xAA then return false end
  end
  return true
end

H.case("random '~': fills the range, nothing else", function ()
  local m = sentinel(64)
  assert(system.random(m, 9, 40, "~") == m)
  assert(untouched(m, 1, 8) and untouched(m, 41, 64))
  assert(changed(m, 9, 40))
  m = sentinel(32)
  assert(system.random(m, -16, nil, "~") == m)  -- j defaults to -1
  assert(untouched(m, 1, 16) and changed(m, 17, 32))
  m = sentinel(16)
  assert(system.random(m, 10, 5, "~") == m)  -- empty range
  assert(untouched(m, 1, 16))
  m = sentinel(16)
  assert(system.random(m, nil, nil, "~") == m)
  assert(changed(m, 1, 16))
end)

H.case("random: awaits and returns the buffer", function ()
  local m = sentinel(48)
  local res = H.pack(H.run(function () return system.random(m, 5, 20) end))
  H.same({m}, table.unpack(res, 1, res.n))
  assert(untouched(m, 1, 4) and untouched(m, 21, 48))
  assert(changed(m, 5, 20))
end)

H.case("random: two calls give different bytes", function ()
  local a, b = memory.create(32), memory.create(32)
  system.random(a, 1, -1, "~")
  H.run(function () system.random(b) end)
  assert(memory.diff(a, b) ~= nil)
end)

H.case("random: a resizable memory", function ()
  local m = memory.create()
  memory.resize(m, 40, "\xAA")
  H.run(function () assert(system.random(m, 11, 30) == m) end)
  assert(untouched(m, 1, 10) and untouched(m, 31, 40))
  assert(changed(m, 11, 30))
end)

H.case("random: bad arguments raise", function ()
  H.badarg(1, "memory expected, got string", system.random, "abc", 1, 2, "~")
  H.badarg(1, "memory expected, got no value", system.random)
  H.badarg(2, "number has no integer representation", system.random,
           memory.create(4), 1.5)
  H.badarg(4, "unknown mode char (got 'x')", system.random,
           memory.create(4), 1, 4, "x")
  H.badarg(4, "'~' must be in the begin of 'mode'", system.random,
           memory.create(4), 1, 4, "~~")
  H.raises("unable to yield", system.random, memory.create(4))
end)

H.case("random: resized while pending", function ()
  local m = memory.create()
  memory.resize(m, 4096, "\xAA")
  local done
  H.run(function ()
    local filler = H.spawn(function ()
      done = H.pack(system.random(m))
    end)
    -- the bytes are pinned: a resize cannot move them meanwhile
    local ok, err = pcall(memory.resize, m, 1)
    assert(not ok and err:find("in use"), err)
    while not done do system.suspend(0) end
    assert(coroutine.status(filler) == "dead")
  end)
  H.same({m}, table.unpack(done, 1, done.n))
  assert(changed(m, 1, 64))
  memory.resize(m, 8)  -- free again
  assert(#m == 8)
end)

H.case("random: buffer dropped and collected while pending", function ()
  local result
  H.run(function ()
    local co = H.spawn(function ()
      local m = memory.create()
      memory.resize(m, 1 << 16)
      system.random(m)
      result = "finished"
    end)
    -- the coroutine, resumed early, drops the only reference to m
    H.same({true}, coroutine.resume(co))
    assert(coroutine.status(co) == "dead")
    collectgarbage("collect")
    collectgarbage("collect")
  end)
  H.drain()  -- the thread pool's work ends without touching freed memory
  assert(result == "finished")
end)

H.case("random: early resume and coroutine.close", function ()
  H.run(function ()
    local m = sentinel(1024)
    local co = H.spawn(system.random, m)
    H.same({true, "early", 2}, coroutine.resume(co, "early", 2))
    local closed = H.spawn(system.random, memory.create(1 << 16))
    assert(coroutine.close(closed))
  end)
  H.drain()
  collectgarbage("collect")
end)

H.case("random: a memory closed while pending", function ()
  local m = memory.create()
  memory.resize(m, 1 << 16)
  local res
  H.run(function ()
    H.spawn(function () res = H.pack(system.random(m)) end)
    do local closing <close> = m end  -- hides the bytes; they are freed
                                      -- at the last unpin
    while not res do system.suspend(0) end
  end)
  assert(res[1] == m)
  assert(#m == 0)
end)

-- One call reads each value once: the moving ones (uptime, free memory,
-- resident memory) too, however many times the mode names them. 200 reads
-- of /proc/uptime (hundredths of a second) per call, 50 calls: without
-- that, some call would see the clock tick.
H.case("procinfo: a moving value is read once per call", function ()
  for _, c in ipairs{"t", "f", "r"} do
    for _ = 1, 50 do
      local values = table.pack(system.procinfo(string.rep(c, 200)))
      assert(values.n == 200)
      for i = 2, values.n do
        assert(values[i] == values[1], c .. ": " .. values[i] .. " after " ..
               values[1])
      end
    end
  end
end)

H.done()
