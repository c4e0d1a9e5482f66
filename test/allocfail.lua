-- test/allocfail.lua: allocation-failure sweeps (issue 12), run by
-- `make check-allocfail` (plain build) and `make check-allocfail-asan`.
--   lua5.4 test/allocfail.lua <host> <libdir> [scenario ...]
-- <host> is test/c/allocfail.c built (build/allocfail, or build-asan/
-- allocfail, which is itself instrumented and then loads the ASan build).
-- For each scenario below it first runs the host with no failure (N = 0)
-- to learn how many allocations the scenario makes, then once for each N
-- from 1 to that count (every STRIDE-th when the count is above
-- COUTIL_ALLOCFAIL_STEPS, default 400), each in its own process with a
-- time limit (COUTIL_ALLOCFAIL_TIMEOUT, default 30 s). A step passes when:
--   * the host exits 0 (lua_close returned: no crash, no abort, no
--     sanitizer report, no leak under LeakSanitizer);
--   * the scenario either ended normally, or raised exactly "not enough
--     memory" (a Lua memory error), or raised "failure: not enough memory"
--     (check() below: a failure triple with libuv's ENOMEM message and code
--     12, what a libuv call that could not allocate returns);
--   * the descriptors the process holds after lua_close are those before
--     lua_newstate;
--   * no warning, except "coutil: unhandled error in coroutine: not enough
--     memory" where the loop resumed a coroutine and the resume itself ran
--     out of memory (counted apart and shown: the coroutine could not be
--     told otherwise).
-- COUTIL_ALLOCFAIL_MODE = from (default: the N-th allocation and every
-- later one fail until the scenario's pcall returns), twice (the N-th and
-- the next: Lua retries a failed allocation once after an emergency
-- collection, so this is a transient failure the scenario may survive)
-- or once (the N-th only: the retry succeeds); COUTIL_ALLOCFAIL_COUNT = both
-- (default: Lua's and libuv's allocations), lua or uv.

local host = assert(arg[1], "usage: allocfail.lua <host> <libdir> [names]")
local libdir = assert(arg[2], "usage: allocfail.lua <host> <libdir> [names]")
local maxsteps = tonumber(os.getenv("COUTIL_ALLOCFAIL_STEPS")) or 400
local timeout = tonumber(os.getenv("COUTIL_ALLOCFAIL_TIMEOUT")) or 30
local mode = os.getenv("COUTIL_ALLOCFAIL_MODE") or "from"
local counted = os.getenv("COUTIL_ALLOCFAIL_COUNT") or "both"

-- Run before the count starts: helpers only, no coutil module.
local prelude = [==[
local memory = require "memory"
local NOMEM = "failure: not enough memory"

-- A failure triple with libuv's ENOMEM becomes the NOMEM sentinel (a
-- constant: raising it allocates nothing); any other failure is wrong.
local function check (ok, ...)
  if ok then return ok, ... end
  local msg, code = ...
  if msg == "not enough memory" and code == 12 then error(NOMEM, 0) end
  error("failure: " .. tostring(msg) .. " (" .. tostring(code) .. ")", 0)
end

-- A result that must be a failure: another one than ENOMEM (which raises
-- as in check), or it is wrong.
local function checkfail (ok, msg, code)
  if ok then error("failure: it did not fail", 0) end
  if code == 12 then check(ok, msg, code) end
  return msg, code
end

-- Results of the form ok, message (coroutine.load, system.resume,
-- threads.dostring): a memory error of the other state comes back as
-- its message.
local function checkmsg (ok, msg, ...)
  if ok then return ok, msg, ... end
  if msg == "not enough memory" then error(msg, 0) end
  error("failure: " .. tostring(msg), 0)
end

-- Runs body(...) in a coroutine under system.run("step") until it ends;
-- raises its error. A coroutine still waiting while the loop has nothing
-- pending is a lost wake-up.
local function loop (system, body, ...)
  local done, rok, rerr = false
  local co = coroutine.create(function (...)
    rok, rerr = pcall(body, ...)
    done = true
  end)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(err, 0) end
  while not done do
    if coroutine.status(co) == "dead" then error("coroutine died", 0) end
    if not system.run("step") and not done then
      error("lost wake-up: the loop has nothing pending", 0)
    end
  end
  if not rok then error(rerr, 0) end
end

-- Starts f in a coroutine of its own; returns a function that gives
-- f's pcall status and first result once it has ended (nil before).
local function spawn (f, ...)
  local done, rok, rv = false
  local co = coroutine.create(function (...)
    rok, rv = pcall(f, ...)
    done = true
  end)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(err, 0) end
  return function ()
    if not done and coroutine.status(co) == "dead" then
      error("coroutine died", 0)
    end
    if done then return true, rok, rv end
    return false
  end
end

-- A connected pair of TCP sockets on the loopback: the listening one, its
-- address, the client and the server side.
local function tcppair (system)
  local passive = check(system.socket("passive", "ipv4"))
  check(passive:bind(system.address("ipv4", "127.0.0.1", 0)))
  check(passive:listen(8))
  local bound = passive:getaddress("self")
  local client = check(system.socket("stream", "ipv4"))
  check(client:connect(bound))
  return passive, bound, client, check(passive:accept())
end

local function join (system, res)
  while true do
    local ended, ok, v = res()
    if ended then
      if not ok then error(v, 0) end
      return v
    end
    system.suspend(0)
  end
end
]==]

local scenarios = {}
local order = {}
local function scenario (name, code)
  order[#order + 1] = name
  scenarios[name] = prelude .. "\nreturn function ()\n" .. code .. "\nend\n"
end

scenario("load", [[
  require "coutil.system"
]])

scenario("loadall", [[
  for _, name in ipairs{"coutil.system", "coutil.event", "coutil.queued",
      "coutil.mutex", "coutil.promise", "coutil.spawn", "coutil.channel",
      "coutil.coroutine", "coutil.threads"} do
    require(name)
  end
]])

scenario("tcp", [[
  local system = require "coutil.system"
  loop(system, function ()
    local passive, bound, client, server = tcppair(system)
    local buf = memory.create(64)
    check(client:write("hello, server"))
    local n = check(server:read(buf))
    assert(memory.tostring(buf, 1, n) == ("hello, server"):sub(1, n))
    check(server:write("hello, client"))
    n = check(client:read(buf))
    assert(memory.tostring(buf, 1, n) == ("hello, client"):sub(1, n))
    check(client:shutdown())
    server:close()
    client:close()
    passive:close()
  end)
]])

scenario("execute", [[
  local system = require "coutil.system"
  loop(system, function ()
    local ok, how, code = check(system.execute("/bin/true"))
  end)
]])

scenario("file", [[
  local system = require "coutil.system"
  loop(system, function ()
    local f = check(system.openfile("/etc/passwd", "r"))
    local buf = memory.create(100)
    local n = check(f:read(buf))
    assert(n > 0)
    n = check(f:read(buf, 1, -1, 0))
    assert(n > 0)
    check(f:close())
    -- the blocking mode too
    f = check(system.openfile("/etc/passwd", "r", nil, "~"))
    f:close()
  end)
]])

scenario("dostring", [[
  local system = require "coutil.system"
  local coroutine_ = require "coutil.coroutine"
  local threads = require "coutil.threads"
  loop(system, function ()
    local co = checkmsg(coroutine_.load("local a = ... return a + 1"))
    local ok, v = checkmsg(system.resume(co, 41))
    assert(v == 42)
    coroutine_.close(co)
    local pool = threads.create(1)
    checkmsg(pool:dostring("local x = {} for i = 1, 10 do x[i] = i end"))
    pool:close()
  end)
]])

scenario("channel", [[
  local system = require "coutil.system"
  local channel = require "coutil.channel"
  local coroutine_ = require "coutil.coroutine"
  loop(system, function ()
    local a = channel.create("allocfail")
    local b = channel.create("allocfail")
    -- a coroutine of this loop waits; sync from here matches it
    local res = spawn(function () return select(2, system.awaitch(a, "in")) end)
    if res() then join(system, res) end  -- it failed before waiting
    local ok, v = channel.sync(b, "out", "ping")
    if not ok then error("failure: " .. tostring(v), 0) end
    assert(join(system, res) == "ping")
    -- a state coroutine on another thread syncs with a waiter here
    res = spawn(function () return select(2, system.awaitch(a, "in")) end)
    if res() then join(system, res) end
    local co = checkmsg(coroutine_.load([=[
      local channel = require "coutil.channel"
      local ch = channel.create("allocfail")
      return channel.sync(ch, "out", "pong")
    ]=]))
    local rok, synced, err = checkmsg(system.resume(co))
    if not synced then error("failure: " .. tostring(err), 0) end
    assert(join(system, res) == "pong")
    coroutine_.close(co)
    a:close()
    b:close()
  end)
]])

scenario("findaddr", [[
  local system = require "coutil.system"
  loop(system, function ()
    local list = check(system.findaddr("localhost"))
    list:getaddress()
    list:close()
    list = check(system.findaddr("127.0.0.1", "80"))
    list:getaddress()
    list:close()
    list = check(system.findaddr("127.0.0.1", 80, "~"))
    list:close()
  end)
]])


-- The regression scenarios: every test/regress/<n>-<slug>.lua that starts
-- with "-- allocfail scenario" is a scenario
-- named regress/<n>-<slug> (a function to run, as above), swept in full;
-- a "-- mode: <mode>" line in it sets its mode.
local modes = {}
do
  local p = assert(io.popen("ls test/regress/*-*.lua 2>/dev/null"))
  for path in p:lines() do
    local f = assert(io.open(path))
    local code = f:read("a")
    f:close()
    local name = path:match("test/(regress/.*)%.lua$")
    -- only the files that are scenarios; the others are tests of the suite
    if not code:find("^%-%- allocfail scenario") then goto next end
    order[#order + 1] = name
    scenarios[name] = prelude .. "\nreturn (function ()\n" .. code ..
                      "\nend)()\n"
    modes[name] = code:match("\n%-%- mode: (%w+)")
    ::next::
  end
  p:close()
end

-- COUTIL_ALLOCFAIL_DUMP=<name>: prints that scenario file (to run the host
-- on it by hand, under gdb) and exits.
if os.getenv("COUTIL_ALLOCFAIL_DUMP") then
  local name = os.getenv("COUTIL_ALLOCFAIL_DUMP")
  io.stdout:write((assert(scenarios[name], "no scenario " .. name)))
  os.exit(0)
end

local names = {}
for i = 3, #arg do names[#names + 1] = arg[i] end
if #names == 0 then names = order end

local function runhost (file, n, how)
  local cmd = string.format(
    "timeout -k 5 %d %s '%s' '%s' %d %s %s 2>&1; echo \"EXIT $?\"",
    timeout, host, libdir, file, n, how or mode, counted)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local r = {out = out, warnings = {}}
  r.exit = tonumber(out:match("EXIT (%d+)%s*$"))
  local line = out:match("RESULT ([^\n]*)")
  if line then
    r.count = tonumber(line:match("count=(%d+)"))
    r.class = line:match("class=(%S+)")
    r.before, r.after = line:match("fds=(%-?%d+)/(%-?%d+)")
    r.msg = line:match("msg=(.*)$")
  end
  for w in out:gmatch("WARN ([^\n]*)") do r.warnings[#r.warnings + 1] = w end
  return r
end

local UNHANDLED = "coutil: unhandled error in coroutine: not enough memory"

-- nil when the step passed, else why not; second result: a note.
local function judge (r)
  if r.exit == 124 or r.exit == 137 then return "hang (timed out)" end
  if r.exit ~= 0 then return "exit code " .. tostring(r.exit) end
  if not r.class then return "no RESULT line" end
  if r.before ~= r.after then
    return "descriptors " .. r.before .. " before, " .. r.after .. " after"
  end
  if r.out:find("ERROR: %a+Sanitizer") or r.out:find("runtime error:") then
    return "sanitizer report"
  end
  local died = false
  for _, w in ipairs(r.warnings) do
    if w:sub(1, #UNHANDLED) == UNHANDLED then died = true
    else return "warning: " .. w end
  end
  if r.class == "ok" or r.class == "nomem" or r.class == "triple" then
    return nil, died and "unhandled" or r.class
  end
  if died and r.msg == "coroutine died" then return nil, "unhandled" end
  return "error: " .. tostring(r.msg)
end

local passed, failed = 0, 0
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
for _, name in ipairs(names) do
  local code = assert(scenarios[name], "no scenario " .. name)
  local file = dir .. "/" .. name:gsub("/", "-") .. ".lua"
  local f = assert(io.open(file, "w"))
  f:write(code)
  f:close()
  local started = os.time()
  local how = modes[name]
  local base = runhost(file, 0, how)
  local bad = judge(base)
  if bad or base.class ~= "ok" then
    failed = failed + 1
    io.stdout:write("FAIL ", name, " without failures: ",
                    bad or tostring(base.msg), "\n", base.out, "\n")
  else
    local total = base.count
    local stride = name:find("^regress/") and 1 or
                   math.max(1, math.ceil(total / maxsteps))
    local tally = {ok = 0, nomem = 0, triple = 0, unhandled = 0}
    local bads = 0
    for n = 1, total, stride do
      local r = runhost(file, n, how)
      local why, kind = judge(r)
      if why then
        bads = bads + 1
        if bads <= 5 then
          io.stdout:write("FAIL ", name, " N=", n, ": ", why, "\n", r.out, "\n")
        end
      else
        tally[kind] = tally[kind] + 1
      end
    end
    if bads > 0 then failed = failed + 1 else passed = passed + 1 end
    io.stdout:write(string.format(
      "%-9s %5d allocations, stride %d: %d ok, %d nomem, %d triple, " ..
      "%d unhandled, %d bad (%ds)\n", name .. (how and " (" .. how .. ")" or ""),
      total, stride, tally.ok,
      tally.nomem, tally.triple, tally.unhandled, bads, os.time() - started))
  end
  io.stdout:flush()
  os.remove(file)
end
os.remove(dir)
io.stdout:write(string.format("%d passed, %d failed\n", passed, failed))
os.exit(failed == 0 and 0 or 1)
