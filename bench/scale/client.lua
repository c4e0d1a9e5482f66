-- bench/scale/client.lua <server> <n> <rounds> <inflight>: one run of
-- bench/conn_scale.lua. Starts the server process (bench/scale/server.lua,
-- coutil or luv), opens n connections to it (luv, at most 256 connects
-- under way at a time), and prints one line:
--   rss0 rss1 rss2 kmem0 kmem1 lua0 lua1 warm wall srvcpu srvusr srvsys clicpu
-- rss0: the server's VmRSS (bytes) with the control connection only;
-- rss1: with the n connections accepted, each waiting in a read, no byte
--   sent yet; rss2: after the round trips;
-- kmem0, kmem1: the kernel's TCP buffer memory of the machine (bytes,
--   /proc/net/sockstat "mem" pages), at rss0 and rss1;
-- lua0, lua1: the server's Lua heap (bytes, collectgarbage "count" after
--   a full collection) at rss0 and rss1, as the server printed them;
-- warm: wall seconds of one round trip on every connection (untimed
--   warm-up, so that each connection has carried traffic once);
-- wall: wall seconds of 'rounds' round trips of 64 bytes, 'inflight' at a
--   time, worker w taking its connections w, w + inflight, ... round
--   robin (with n = 10 and 10 in flight, each connection carries one);
-- srvcpu: CPU seconds of the server during those round trips
--   (/proc/<pid>/schedstat, in nanoseconds); srvusr, srvsys: its user and
--   system part (/proc/<pid>/stat, in clock ticks of 10 ms); clicpu: CPU
--   seconds (user + system) of this client meanwhile.
local uv = require "luv"
local kind = arg[1]
local n = math.tointeger(tonumber(arg[2]))
local rounds = math.tointeger(tonumber(arg[3]))
local inflight = math.tointeger(tonumber(arg[4]))
assert(kind and n and rounds and inflight and n % inflight == 0,
       "usage: client.lua coutil|luv <n> <rounds> <inflight>")
local SIZE = 64
local MSG = string.rep("x", SIZE)
local lua = os.getenv("BENCH_LUA") or "lua5.4"

local server = assert(io.popen(string.format("exec %s bench/scale/server.lua %s %d",
                                             lua, kind, n)))
local port, pid = server:read("l"):match("^port (%d+) pid (%d+)$")
port, pid = assert(tonumber(port)), assert(tonumber(pid))

local function readfile (path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end
local function rss ()
  return tonumber(readfile("/proc/" .. pid .. "/status"):match("VmRSS:%s*(%d+)")) * 1024
end
local function kmem ()
  return tonumber(readfile("/proc/net/sockstat"):match("TCP:.- mem (%d+)")) * 4096
end
-- user and system CPU seconds: fields 14 and 15 of /proc/<pid>/stat
local function srvcpu ()
  local rest = readfile("/proc/" .. pid .. "/stat"):match("%) (.*)$")
  local f = {}
  for x in rest:gmatch("%S+") do f[#f + 1] = x end
  return tonumber(f[12]) / 100, tonumber(f[13]) / 100  -- fields 3.. here
end
local function srvsched ()  -- nanoseconds on a CPU
  return tonumber(readfile("/proc/" .. pid .. "/schedstat"):match("^(%d+)")) / 1e9
end
local function now () return uv.hrtime() / 1e9 end

local out = {}
local conns, got = {}, {}
local control = uv.new_tcp()
local ready, connected = false, 0

-- the round trips: worker w sends on its connections in turn
local cursor, left, onreply = {}, {}, nil
local function send (w)
  local i = cursor[w]
  cursor[w] = i + inflight > n and w or i + inflight
  conns[i]:write(MSG)
end
local phase_done
local active
local function startphase (perworker, after)
  active = inflight
  for w = 1, inflight do
    cursor[w], left[w] = w, perworker
    send(w)
  end
  phase_done = after
end
onreply = function (i)
  local w = (i - 1) % inflight + 1
  left[w] = left[w] - 1
  if left[w] > 0 then
    send(w)
  else
    active = active - 1
    if active == 0 then phase_done() end
  end
end

local function finish ()
  out.rss2 = rss()
  for i = 1, n do conns[i]:close() end
  control:close()
end

local function measure ()
  out.rss1, out.kmem1 = rss(), kmem()
  local t0 = now()
  startphase(n // inflight, function ()
    out.warm = now() - t0
    local c0, w0 = os.clock(), now()
    local u0, s0 = srvcpu()
    local sc0 = srvsched()
    startphase(rounds // inflight, function ()
      out.wall = now() - w0
      out.srvcpu = srvsched() - sc0
      local u1, s1 = srvcpu()
      out.srvusr, out.srvsys = u1 - u0, s1 - s0
      out.clicpu = os.clock() - c0
      finish()
    end)
  end)
end

local function connectall ()
  local started = 0
  local function connectone ()
    if started == n then return end
    started = started + 1
    local i = started
    local c = uv.new_tcp()
    conns[i], got[i] = c, 0
    assert(c:connect("127.0.0.1", port, function (err)
      assert(not err, err)
      c:nodelay(true)
      c:read_start(function (rerr, data)
        assert(data, rerr)
        got[i] = got[i] + #data
        if got[i] == SIZE then
          got[i] = 0
          onreply(i)
        end
      end)
      connected = connected + 1
      if connected == n and ready then measure() end
      connectone()
    end))
  end
  for _ = 1, math.min(256, n) do connectone() end
end

assert(control:connect("127.0.0.1", port, function (err)
  assert(not err, err)
  control:nodelay(true)
  control:read_start(function (rerr, data)
    assert(data, rerr)
    for ch in data:gmatch(".") do
      if ch == "A" then
        out.rss0, out.kmem0 = rss(), kmem()
        connectall()
      elseif ch == "R" then
        ready = true
        if connected == n then measure() end
      end
    end
  end)
end))
uv.run()
out.lua0 = tonumber(server:read("l"):match("^lua (%d+)$"))
out.lua1 = tonumber(server:read("l"):match("^lua (%d+)$"))
server:close()
print(string.format("%d %d %d %d %d %d %d %.6f %.6f %.6f %.2f %.2f %.6f", out.rss0,
  out.rss1, out.rss2, out.kmem0, out.kmem1, out.lua0, out.lua1, out.warm, out.wall,
  out.srvcpu, out.srvusr, out.srvsys, out.clicpu))
