-- test/faults.lua: system-call faults (issue 12), run by `make check-faults`
-- (and check-faults-asan).
--   lua5.4 test/faults.lua <shim.so> <libdir>
-- Runs this same file as a child (`--child`) once per seed of
-- COUTIL_FAULTS_SEEDS (default "1 2 3 4 5"), with the shim test/c/faults.c
-- preloaded (after the sanitizer runtime when COUTIL_SANITIZER=asan) and
-- COUTIL_FAULTS_RATE percent (default 1) of read, write, accept4, connect,
-- pread64, epoll_wait, ... failing with EINTR, EAGAIN, ENOMEM, ECONNRESET,
-- ECONNABORTED or ECONNREFUSED, as each call can. The child arms the shim
-- (COUTIL_FAULTS_ARM = its pid) once the interpreter has started, then:
--   tcp    COUTIL_FAULTS_CONNS (default 40) loopback connections at once;
--          each client writes a pattern in random chunks, shuts down, reads
--          the server's reply to the end; the server reads to the end, then
--          writes its reply and closes
--   local  the same over a local (Unix) socket
--   pipe   /bin/cat through execute's pipes (the child is not faulted)
--   file   files written in random chunks, copied chunk by chunk, read back
-- A pattern is 8-byte blocks (stream id, block number), so a byte lost,
-- doubled or out of order shows. Each stream either arrives whole and in
-- order, or some coroutine of it got a failure triple (the stream counts as
-- failed, which is allowed) and what arrived is a prefix of the pattern.
-- Wrong data, a short stream nobody was told about, a coroutine still
-- waiting at the deadline (COUTIL_FAULTS_DEADLINE, default 30 s of loop
-- time), an error raised, a crash, a sanitizer report or descriptors left
-- open fail the run.

if arg[1] ~= "--child" then
  local shim = assert(arg[1], "usage: faults.lua <shim.so> <libdir>")
  local libdir = assert(arg[2], "usage: faults.lua <shim.so> <libdir>")
  local seeds = os.getenv("COUTIL_FAULTS_SEEDS") or "1 2 3 4 5"
  local rate = os.getenv("COUTIL_FAULTS_RATE") or "1"
  local preload = shim
  local extra = ""
  if os.getenv("COUTIL_SANITIZER") == "asan" then
    local p = io.popen("gcc -print-file-name=libasan.so")
    preload = p:read("l") .. " " .. shim
    p:close()
    extra = "ASAN_OPTIONS='detect_leaks=1:abort_on_error=1' " ..
            "UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1' "
  end
  local passed, failed = 0, 0
  for seed in seeds:gmatch("%d+") do
    local started = os.time()
    local cmd = string.format("env LUA_CPATH='%s/?.so' LUA_PATH='test/?.lua;;' " ..
      "LD_PRELOAD='%s' %sCOUTIL_FAULTS_SEED=%s COUTIL_FAULTS_RATE=%s " ..
      "COUTIL_FAULTS_REPORT=1 timeout -k 5 150 lua5.4 test/faults.lua " ..
      "--child 2>&1; echo \"EXIT $?\"", libdir, preload, extra, seed, rate)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    local code = tonumber(out:match("EXIT (%d+)%s*$"))
    local np, nf = out:match("(%d+) passed, (%d+) failed")
    local faults = tonumber(out:match("faults: (%d+) of"))
    local problem
    if code == 124 or code == 137 then problem = "timed out (hang)"
    elseif not np then problem = "no summary line (exit " .. tostring(code) .. ")"
    elseif code ~= 0 and tonumber(nf) == 0 then problem = "exit code " .. code
    elseif out:find("ERROR: %a+Sanitizer") or out:find("runtime error:") then
      problem = "sanitizer report"
    elseif not faults or faults == 0 then problem = "the shim injected nothing"
    end
    np, nf = tonumber(np) or 0, (tonumber(nf) or 0) + (problem and 1 or 0)
    if nf > 0 then failed = failed + 1 else passed = passed + 1 end
    io.stdout:write(string.format("seed %-4s %d passed, %d failed (%ds)%s\n",
      seed, np, nf, os.time() - started, problem and ("  " .. problem) or ""))
    for line in out:gmatch("[^\n]+") do
      if nf > 0 or line:find("^  ") or line:find("^faults:") then
        io.stdout:write("  ", line, "\n")
      end
    end
    io.stdout:flush()
  end
  io.stdout:write(string.format("%d passed, %d failed\n", passed, failed))
  os.exit(failed == 0 and 0 or 1)
end

-- The child ---------------------------------------------------------------

local H = require "helpers"
local system = require "coutil.system"
local memory = H.cmodule("memory")

local seed = tonumber(os.getenv("COUTIL_FAULTS_SEED")) or 1
local nconns = tonumber(os.getenv("COUTIL_FAULTS_CONNS")) or 40
local deadline = tonumber(os.getenv("COUTIL_FAULTS_DEADLINE")) or 30
math.randomseed(seed)

-- A stream's bytes: 8-byte blocks (id, block number), 'len' bytes.
local function pattern (id, len)
  local t = {}
  for i = 0, len // 8 do t[#t + 1] = string.pack(">I4I4", id, i) end
  return table.concat(t):sub(1, len)
end

-- How 'got' compares with 'want': "whole", "prefix" (a shorter start of
-- it) or "wrong at <offset>".
local function compare (got, want)
  if got == want then return "whole" end
  if #got < #want and want:sub(1, #got) == got then return "prefix" end
  for i = 1, math.min(#got, #want) do
    if got:byte(i) ~= want:byte(i) then return "wrong at " .. (i - 1) end
  end
  return "wrong at " .. math.min(#got, #want) .. " (" .. #got .. " bytes, " ..
         #want .. " expected)"
end

local results = {}   -- per part: whole, failed, wrong, hung, notes
local function newpart (name)
  local r = {name = name, whole = 0, failed = 0, wrong = 0, hung = 0,
             notes = {}, failures = {}}
  results[#results + 1] = r
  return r
end
local function note (part, msg)
  if #part.notes < 10 then part.notes[#part.notes + 1] = msg end
end
-- A failure triple some coroutine got: counted by message.
local function failure (part, what, msg)
  local key = what .. ": " .. tostring(msg)
  part.failures[key] = (part.failures[key] or 0) + 1
end

-- Runs the coroutines made by start() under the loop until every one
-- has ended or the deadline passes; returns the number still running.
local function runall (fns)
  local left = #fns
  local cos = {}
  for i, f in ipairs(fns) do
    cos[i] = coroutine.create(function ()
      local ok, err = xpcall(f, debug.traceback)
      if not ok then io.stdout:write("ERROR ", err, "\n") error(err) end
      left = left - 1
    end)
  end
  local ticking = true
  local ticker = coroutine.create(function ()
    while ticking do system.suspend(0.1) end
  end)
  assert(coroutine.resume(ticker))
  for _, co in ipairs(cos) do assert(coroutine.resume(co)) end
  local stop = system.nanosecs() + deadline * 1e9
  while left > 0 and system.nanosecs() < stop do
    system.run("step")
    for _, co in ipairs(cos) do
      if coroutine.status(co) == "dead" and left > 0 then
        -- xpcall above reports errors; a dead coroutine that did not
        -- count itself down raised
      end
    end
  end
  ticking = false
  coroutine.resume(ticker)  -- ends it
  local hung = left
  for _, co in ipairs(cos) do
    if coroutine.status(co) == "suspended" then coroutine.close(co) end
  end
  H.drain(10)
  return hung
end

-- Writes 'data' in random chunks; true, or false and the failure message.
local function writeall (sock, data)
  local pos = 1
  while pos <= #data do
    local j = math.min(#data, pos + math.random(1, 16384) - 1)
    local ok, msg = sock:write(data, pos, j)
    if not ok then return false, msg end
    pos = j + 1
  end
  return true
end

-- Reads to the end of the stream: the bytes, and nil or the failure.
local function readall (sock)
  local buf = memory.create(math.random(1, 4) == 1 and 65536 or 4096)
  local parts = {}
  while true do
    local n, msg = sock:read(buf)
    if not n then
      if msg == "end of file" then return table.concat(parts) end
      return table.concat(parts), msg
    end
    parts[#parts + 1] = memory.tostring(buf, 1, n)
  end
end

-- The stream part over 'domain' ("ipv4" or "local"): 'n' connections.
local function streams (name, domain, n)
  local part = newpart(name)
  local addr, path
  local passive = assert(system.socket("passive", domain))
  if domain == "local" then
    path = os.tmpname()
    os.remove(path)
    assert(passive:bind(path))
    addr = path
  else
    assert(passive:bind(system.address("ipv4", "127.0.0.1", 0)))
    addr = passive:getaddress()
  end
  assert(passive:listen(n))
  local up = {}      -- id: size, and what the client saw
  local down = {}
  local fns = {}
  local accepted = 0
  local handlers = {}
  -- the server: accepts n connections (retrying accept failures), one
  -- coroutine per connection
  fns[#fns + 1] = function ()
    while accepted < n do
      local conn, msg = passive:accept()
      if not conn and msg == "closed" then break  -- every client ended
      elseif not conn then failure(part, "accept", msg)
      else
        accepted = accepted + 1
        local h = coroutine.create(function ()
          local got, err = readall(conn)
          local id = #got >= 4 and string.unpack(">I4", got) or nil
          local rec = {got = got, err = err}
          if id and up[id] and not up[id].server then up[id].server = rec
          elseif err then
            -- failed before the id came: it stands for one stream whose
            -- server side is missing
            part.anonymous = (part.anonymous or 0) + 1
          else note(part, "a connection with no known id (" .. #got .. " bytes)") end
          if err then failure(part, "server read", err) end
          if id and not err then
            local ok, werr = writeall(conn, pattern(id + 100000, down[id].size))
            down[id].serverok = ok
            if not ok then failure(part, "server write", werr) end
          end
          conn:close()
          if id and down[id] then down[id].serverdone = true end
        end)
        handlers[#handlers + 1] = h
        assert(coroutine.resume(h))
      end
    end
  end
  local clientsleft = n
  for id = 1, n do
    up[id] = {size = math.random(1, 200000)}
    down[id] = {size = math.random(1, 100000)}
    fns[#fns + 1] = function ()
      local u, d = up[id], down[id]
      local s = assert(system.socket("stream", domain))
      local ok, msg = s:connect(addr)
      if not ok then
        failure(part, "connect", msg)
        u.connectfailed = true
        s:close()
        clientsleft = clientsleft - 1
        -- the server waits for no connection that will not come
        if clientsleft == 0 then passive:close() end
        return
      end
      u.clientok, msg = writeall(s, pattern(id, u.size))
      if not u.clientok then failure(part, "client write", msg)
      else
        ok, msg = s:shutdown()
        if not ok then u.clientok = false failure(part, "shutdown", msg) end
      end
      if u.clientok then
        d.got, d.err = readall(s)
        if d.err then failure(part, "client read", d.err) end
      end
      s:close()
      clientsleft = clientsleft - 1
      if clientsleft == 0 then passive:close() end
    end
  end
  local hung = runall(fns)
  for _, h in ipairs(handlers) do
    if coroutine.status(h) ~= "dead" then hung = hung + 1 end
  end
  if path then os.remove(path) end
  part.hung = hung
  for id = 1, n do
    local u, d = up[id], down[id]
    if u.connectfailed then part.failed = part.failed + 1
    else
      local srv = u.server
      local cmp = srv and compare(srv.got, pattern(id, u.size)) or "missing"
      local told = not u.clientok or (srv and srv.err)
      if not srv and not told and (part.anonymous or 0) > 0 then
        part.anonymous = part.anonymous - 1  -- its server read failed
        told = true
      end
      local verdict
      if cmp:find("^wrong") then verdict = "wrong"
        note(part, "stream " .. id .. " up: " .. cmp)
      elseif cmp ~= "whole" and not told then verdict = "wrong"
        note(part, "stream " .. id .. " up: " .. cmp ..
             " and nobody got a failure")
      elseif cmp ~= "whole" then verdict = "failed"
      else  -- the reply
        local dcmp = d.got and compare(d.got, pattern(id + 100000, d.size))
                     or "missing"
        local dtold = d.err or srv.err or d.serverok == false
        if dcmp:find("^wrong") then verdict = "wrong"
          note(part, "stream " .. id .. " down: " .. dcmp)
        elseif dcmp ~= "whole" and not dtold then verdict = "wrong"
          note(part, "stream " .. id .. " down: " .. dcmp ..
               " and nobody got a failure")
        elseif dcmp ~= "whole" then verdict = "failed"
        else verdict = "whole" end
      end
      part[verdict] = part[verdict] + 1
    end
  end
end

-- /bin/cat through execute's pipes, 'n' times at once.
local function pipes (n)
  local part = newpart("pipe")
  local fns = {}
  local rec = {}
  for id = 1, n do
    rec[id] = {size = math.random(1, 200000)}
    fns[id] = function ()
      local r = rec[id]
      local cmd = {execfile = "/bin/cat", stdin = "w", stdout = "r",
                   stderr = false}
      local done
      local waiter = coroutine.create(function ()
        r.exit = table.pack(system.execute(cmd))
        done = true
      end)
      assert(coroutine.resume(waiter))
      if r.exit and r.exit[1] == false then
        failure(part, "execute", r.exit[2])
        r.failed = true
        return
      end
      local writer = coroutine.create(function ()
        r.wok, r.werr = writeall(cmd.stdin, pattern(id, r.size))
        if not r.wok then failure(part, "pipe write", r.werr) end
        cmd.stdin:close()
      end)
      assert(coroutine.resume(writer))
      r.got, r.err = readall(cmd.stdout)
      if r.err then failure(part, "pipe read", r.err) end
      cmd.stdout:close()
      while not done do system.suspend(0.01) end
    end
  end
  part.hung = runall(fns)
  for id = 1, n do
    local r = rec[id]
    if r.failed then part.failed = part.failed + 1
    else
      local cmp = r.got and compare(r.got, pattern(id, r.size)) or "missing"
      local told = r.err or r.wok == false
      if cmp:find("^wrong") or (cmp ~= "whole" and not told) then
        part.wrong = part.wrong + 1
        note(part, "pipe " .. id .. ": " .. cmp)
      elseif cmp ~= "whole" then part.failed = part.failed + 1
      else part.whole = part.whole + 1 end
    end
  end
end

-- Files written in random chunks, copied chunk by chunk, read back.
local function files (n)
  local part = newpart("file")
  local fns = {}
  local rec = {}
  local dir = system.procinfo("T")
  for id = 1, n do
    rec[id] = {size = math.random(1, 300000)}
    fns[id] = function ()
      local r = rec[id]
      local data = pattern(id, r.size)
      local a = dir .. "/coutil-faults-" .. seed .. "-" .. id .. "a"
      local b = dir .. "/coutil-faults-" .. seed .. "-" .. id .. "b"
      local function fail (what, msg)
        failure(part, what, msg)
        r.failed = true
      end
      local f, msg = system.openfile(a, "rwnt")
      if not f then return fail("open", msg) end
      local pos = 1
      while pos <= #data do  -- at the position
        local j = math.min(#data, pos + math.random(1, 65536) - 1)
        local k, wmsg = f:write(data, pos, j)
        if not k then f:close() return fail("write", wmsg) end
        pos = pos + k
      end
      local g
      g, msg = system.openfile(b, "rwnt")
      if not g then f:close() return fail("open", msg) end
      local buf = memory.create(math.random(1, 65536))
      local off = 0
      while true do  -- copy, at explicit offsets
        local k, rmsg = f:read(buf, 1, -1, off)
        if not k then f:close() g:close() return fail("read", rmsg) end
        if k == 0 then break end
        local w = 0
        while w < k do
          local kk, wmsg = g:write(buf, w + 1, k, off + w)
          if not kk then f:close() g:close() return fail("write", wmsg) end
          w = w + kk
        end
        off = off + k
      end
      f:close()
      local parts = {}
      off = 0
      while true do  -- read back, at the position
        local k, rmsg = g:read(buf)
        if not k then g:close() return fail("read", rmsg) end
        if k == 0 then break end
        parts[#parts + 1] = memory.tostring(buf, 1, k)
      end
      g:close()
      r.got = table.concat(parts)
      os.remove(a)
      os.remove(b)
    end
  end
  part.hung = runall(fns)
  for id = 1, n do
    local r = rec[id]
    if r.failed then part.failed = part.failed + 1
    elseif r.got then
      local cmp = compare(r.got, pattern(id, r.size))
      if cmp == "whole" then part.whole = part.whole + 1
      else
        part.wrong = part.wrong + 1
        note(part, "file " .. id .. ": " .. cmp)
      end
    end
  end
end

-- libuv opens /dev/null for its loop the first time a stream is made (its
-- reserve against EMFILE, closed with the loop): part of the baseline
assert(system.socket("stream", "ipv4")):close()
H.drain(10)
local before = H.fds()
-- armed from here on: the shim fails calls of this process only
system.setenv("COUTIL_FAULTS_ARM", tostring(system.procinfo("#")))

-- What a descriptor is (fileinfo's "=" reads the /proc link without
-- starting a child, whose pipe the shim would disturb).
local function describe (fds)
  local t = {}
  for n in fds:gmatch("%d+") do
    t[#t + 1] = n .. "=" .. tostring(system.fileinfo("/proc/self/fd/" .. n, "~l="))
  end
  return table.concat(t, " ")
end

local started = system.nanosecs()
for _, run in ipairs{
  function () streams("tcp", "ipv4", nconns) end,
  function () streams("local", "local", nconns // 2) end,
  function () pipes(10) end,
  function () files(10) end,
} do
  local fds = H.fds()
  run()
  collectgarbage("collect")
  collectgarbage("collect")
  H.drain(10)
  local now = H.fds()
  if now ~= fds then
    local part = results[#results]
    part.wrong = part.wrong + 1
    note(part, "descriptors: before " .. fds .. "; after " .. describe(now))
  end
end

local passed, failed = 0, 0
for _, r in ipairs(results) do
  local bad = r.wrong > 0 or r.hung > 0
  if bad then failed = failed + 1 else passed = passed + 1 end
  io.stdout:write(string.format(
    "  %s %-5s %d whole, %d failed (reported), %d wrong, %d hung\n",
    bad and "FAIL" or "ok  ", r.name, r.whole, r.failed, r.wrong, r.hung))
  for _, msg in ipairs(r.notes) do io.stdout:write("      ", msg, "\n") end
  local keys = {}
  for k in pairs(r.failures) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    io.stdout:write(string.format("      %dx %s\n", r.failures[k], k))
  end
end
collectgarbage("collect")
collectgarbage("collect")
H.drain(10)
local after = H.fds()
if after ~= before then
  failed = failed + 1
  io.stdout:write("  FAIL descriptors: before ", before, "; after ", after, "\n")
end
io.stdout:write(string.format("  (%.1fs)\n", (system.nanosecs() - started) / 1e9))
io.stdout:write(string.format("%d passed, %d failed\n", passed, failed))
io.stdout:flush()
os.exit(failed == 0 and 0 or 1, true)
