-- test/socket/common.lua: helpers shared by test/socket*.lua (loaded with
-- dofile; kept out of test/*.lua so that test/run.lua does not run it).

local H = require "helpers"
local system = require "coutil.system"

local T = {}

-- the C module, not test/memory.lua (LUA_PATH starts with test/)
do
  local path = package.path
  package.path = ""
  T.memory = require "memory"
  package.path = path
end

-- Child processes cannot run under the ThreadSanitizer preload (/bin/sh
-- itself crashes with it): cases that need one are skipped there.
T.subprocesses = not (os.getenv("LD_PRELOAD") or ""):find("tsan", 1, true)

-- Cases that start child processes: run, or skipped with the reason.
function T.childcase (name, f)
  if T.subprocesses then H.case(name, f)
  else H.skip(name, "child processes cannot run under ThreadSanitizer") end
end

-- H.run, but an error inside the coroutine is raised with its traceback,
-- and a ticker wakes the loop so that H.run's time limit always applies
function T.run (f, timeout)
  local err, done
  H.run(function ()
    local ticker = coroutine.create(function ()
      while not done do system.suspend(0.05) end
    end)
    assert(coroutine.resume(ticker))
    local ok, e = xpcall(f, debug.traceback)
    done = true
    assert(coroutine.resume(ticker))  -- wakes it early: it ends
    if not ok then err = e end
  end, timeout)
  if err then error(err, 0) end
end

-- Starts a coroutine now; returns a table that gets its results.
function T.spawn (f, ...)
  local res = {}
  local co = H.track(coroutine.create(function (...)
    res.values = H.pack(f(...))
  end))
  assert(coroutine.resume(co, ...))
  return res, co
end

-- Waits (bounded) until res.values is set; returns those values.
function T.join (res)
  for _ = 1, 2000 do
    if res.values then return table.unpack(res.values, 1, res.values.n) end
    system.suspend(0.005)
  end
  error("timed out waiting for a coroutine")
end

function T.addr (port, host)
  return system.address("ipv4", host or "127.0.0.1", port or 0)
end

function T.str (buf, i, j) return T.memory.tostring(buf, i, j) end

function T.closeall (...)
  for i = 1, select("#", ...) do select(i, ...):close() end
end

-- Closes 'conn' and 'srv' while coroutines read from and accept on them:
-- both get false, "closed". Closes 'cli' too.
function T.closewhilewaiting (cli, conn, srv)
  local r = T.spawn(function () return conn:read(T.memory.create(4)) end)
  local a = T.spawn(function () return srv:accept() end)
  conn:close()
  srv:close()
  H.same({false, "closed"}, T.join(r))
  H.same({false, "closed"}, T.join(a))
  cli:close()
end

return T
