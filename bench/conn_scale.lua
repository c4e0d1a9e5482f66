-- bench/conn_scale.lua: up to 10,000 concurrent TCP connections to one
-- server process (coutil, luv, or the floor: plain C on libuv,
-- bench/scale/floor_server.c), the clients in a second process (luv,
-- the same for every server): bench/scale/client.lua starts
-- bench/scale/server.lua, connects, and reports.
--
-- (a) Round-trip cost: 100,000 round trips of 64 bytes, 10 in flight at a
--     time, over 10, 1,000 or 10,000 connections (each of the 10 client
--     workers takes its connections round robin, so at 10,000 consecutive
--     requests go to different connections), after a warm-up of one round
--     trip on every connection. Given as wall time per round trip and as
--     the server's CPU time per round trip (/proc/<pid>/schedstat, split
--     into user and system time by /proc/<pid>/stat: the server's cost
--     alone, whatever the client and the other jobs of the machine do). Target: coutil at 10,000 connections within 1.3x of 10.
-- (b) The server's memory per idle connection: its VmRSS with n accepted
--     connections, each waiting in a read, no byte sent yet, minus its
--     VmRSS with the control connection only, divided by n. RSS counts the
--     process's user pages only; the kernel's socket structures and
--     buffers are kernel memory (slab, and /proc/net/sockstat "mem" for
--     the buffers of the whole machine, shown for reference), never in a
--     process's RSS, so the RSS delta / n is user memory per connection.
--     Also given: the server's Lua heap (collectgarbage "count" after a
--     full collection) per connection, and the rest of the RSS delta,
--     malloc'ed outside Lua; and the RSS after the round trips ("after
--     traffic"), / n.
--     Target: coutil at most 2 KiB, and no more than luv.
--
-- The file descriptor limit is raised to the hard limit for the children
-- (10,001 connections in each process); 127.0.0.1 has enough ephemeral
-- ports (net.ipv4.ip_local_port_range) for the clients of a run, and the
-- server's port is new in every run. Runs take turns in a new random
-- order every round, each in fresh processes; the tables give medians.
-- Run it with the harness (sh bench/run.sh build/lib bench/conn_scale.lua):
-- it has no timed run(n) contenders but a 'main' of its own.

local S = dofile("bench/lib/stats.lua")
local q, median, shuffled = S.q, S.median, S.shuffled

local SERVERS = {"coutil", "luv", "floor"}
local CONNS = {10, 1000, 10000}
local ROUNDS, INFLIGHT = 100000, 10




local FIELDS = {"rss0", "rss1", "rss2", "kmem0", "kmem1", "lua0", "lua1", "warm",
                "wall", "srvcpu", "srvusr", "srvsys", "clicpu"}

local function main (libdir, reps)
  local lua = os.getenv("BENCH_LUA") or "lua5.4"
  local env = "env LUA_CPATH=" .. q(libdir .. "/?.so;;")
  local ports = io.open("/proc/sys/net/ipv4/ip_local_port_range")
  local range = ports and ports:read("l"):gsub("%s+", "-") or "?"
  if ports then ports:close() end
  local runs = {}
  for _, server in ipairs(SERVERS) do
    for _, n in ipairs(CONNS) do
      runs[#runs + 1] = {server = server, n = n, out = {}}
    end
  end
  local failed = {}
  math.randomseed(1)
  for _ = 1, reps do
    for _, r in ipairs(shuffled(runs)) do
      local key = r.server .. r.n
      if not failed[key] then
        local cmd = string.format("ulimit -n $(ulimit -Hn); %s timeout 300 %s " ..
          "bench/scale/client.lua %s %d %d %d 2>&1", env, lua, r.server, r.n,
          ROUNDS, INFLIGHT)
        local p = assert(io.popen(cmd))
        local line = p:read("a")
        p:close()
        local t = {}
        local i = 0
        for x in line:gmatch("%S+") do
          i = i + 1
          if FIELDS[i] then t[FIELDS[i]] = tonumber(x) end
        end
        if i == #FIELDS and t.clicpu then
          table.insert(r.out, t)
        else
          failed[key] = line:match("[^\n]*")
        end
      end
    end
  end

  local function stat (server, n, f)  -- median of f(run) over the runs
    for _, r in ipairs(runs) do
      if r.server == server and r.n == n then
        local l = {}
        for _, t in ipairs(r.out) do l[#l + 1] = f(t) end
        return median(l)
      end
    end
  end
  local function fmt (x, p) return x and string.format(p or "%.1f", x) or "-" end

  print(string.format("## TCP round trips over 10 to 10,000 connections to one server " ..
    "(%d round trips of 64 bytes, %d in flight, median of %d runs)", ROUNDS, INFLIGHT,
    reps))
  print()
  print(string.format("Client: luv, in a second process; ephemeral ports %s; " ..
    "fd limit: the hard limit.", range))
  print()
  print("| server | connections | wall us/round trip | x 10 | server CPU us/round trip " ..
        "| x 10 | of which user | of which system | client CPU us/round trip " ..
        "| warm-up us/round trip |")
  print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  local cost = {}
  for _, server in ipairs(SERVERS) do
    for _, n in ipairs(CONNS) do
      local wall = stat(server, n, function (t) return t.wall / ROUNDS * 1e6 end)
      local cpu = stat(server, n, function (t) return t.srvcpu / ROUNDS * 1e6 end)
      local usr = stat(server, n, function (t) return t.srvusr / ROUNDS * 1e6 end)
      local sys = stat(server, n, function (t) return t.srvsys / ROUNDS * 1e6 end)
      local cli = stat(server, n, function (t) return t.clicpu / ROUNDS * 1e6 end)
      local warm = stat(server, n, function (t) return t.warm / n * 1e6 end)
      cost[server .. n] = {wall = wall, cpu = cpu}
      local base = cost[server .. CONNS[1]]
      if wall then
        print(string.format("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |",
          server, n, fmt(wall), fmt(base.wall and wall / base.wall, "%.2f"), fmt(cpu),
          fmt(base.cpu and cpu / base.cpu, "%.2f"), fmt(usr), fmt(sys), fmt(cli),
          fmt(warm)))
      else
        print(string.format("| %s | %d | %s | | | | | | | |", server, n,
                            failed[server .. n] or "not measured"))
      end
    end
  end
  print()

  print(string.format("## Server memory per connection, 10 to 10,000 connections " ..
    "(median of %d runs)", reps))
  print()
  print("| server | connections | RSS before KiB | RSS idle KiB | idle B/connection " ..
        "| of which Lua heap | outside Lua | after traffic B/connection " ..
        "| kernel TCP buffers (machine) KiB |")
  print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
  local idle = {}
  for _, server in ipairs(SERVERS) do
    for _, n in ipairs(CONNS) do
      local r0 = stat(server, n, function (t) return t.rss0 / 1024 end)
      if r0 then
        local r1 = stat(server, n, function (t) return t.rss1 / 1024 end)
        local per = stat(server, n, function (t) return (t.rss1 - t.rss0) / n end)
        local lua = stat(server, n, function (t) return (t.lua1 - t.lua0) / n end)
        local out = stat(server, n, function (t)
          return ((t.rss1 - t.rss0) - (t.lua1 - t.lua0)) / n
        end)
        local after = stat(server, n, function (t) return (t.rss2 - t.rss0) / n end)
        local km = stat(server, n, function (t) return (t.kmem1 - t.kmem0) / 1024 end)
        idle[server .. n] = per
        print(string.format("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %+.0f |",
          server, n, r0, r1, per, lua, out, after, km))
      else
        print(string.format("| %s | %d | %s | | | | | | |", server, n,
                            failed[server .. n] or "not measured"))
      end
    end
  end
  print()

  local big, small = CONNS[#CONNS], CONNS[1]
  local c, s = cost["coutil" .. big], cost["coutil" .. small]
  local function target (label, x, limit)
    if not x then
      print(string.format("- target: %s: not measured", label))
    else
      print(string.format("- target: %s at most %g: %.2f (%s)", label, limit, x,
                          x <= limit and "met" or "NOT met"))
    end
  end
  target(string.format("coutil wall time per round trip, %d / %d connections", big, small),
         c.wall and s.wall and c.wall / s.wall, 1.3)
  target(string.format("coutil server CPU per round trip, %d / %d connections", big, small),
         c.cpu and s.cpu and c.cpu / s.cpu, 1.3)
  local mid = cost["coutil" .. CONNS[2]]
  print(string.format("- for reference, %d / %d connections: coutil wall %.2f, " ..
    "server CPU %.2f; luv wall %.2f, server CPU %.2f", big, CONNS[2],
    c.wall / mid.wall, c.cpu / mid.cpu,
    cost["luv" .. big].wall / cost["luv" .. CONNS[2]].wall,
    cost["luv" .. big].cpu / cost["luv" .. CONNS[2]].cpu))
  local f, fs = cost["floor" .. big], cost["floor" .. small]
  if f and fs and f.wall and fs.wall then
    print(string.format("- for reference, the C floor (plain libuv, no coroutine, " ..
      "no Lua) %d / %d connections: wall %.2f, server CPU %.2f: what the kernel " ..
      "and libuv alone grow by", big, small, f.wall / fs.wall, f.cpu / fs.cpu))
  end
  target(string.format("coutil server bytes per idle connection (%d)", big),
         idle["coutil" .. big], 2048)
  target(string.format("coutil / luv bytes per idle connection (%d)", big),
         idle["coutil" .. big] and idle["luv" .. big] and
         idle["coutil" .. big] / idle["luv" .. big], 1.0)
  print()
end

return {
  title = "10,000 concurrent TCP connections to one server",
  reps = 7,  -- a run takes 1-4 s, and the wall times vary much
  main = main,
}
