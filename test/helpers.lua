-- test/helpers.lua: the small harness every test file uses.
--
--   local H = require "helpers"
--   H.case("suspend returns true", function ()
--     local co = H.track(coroutine.create(function () ... end))
--     ...
--   end)
--   H.done()
--
-- Every case ends the same way: the loop of coutil.system (when loaded)
-- has nothing pending, and after a full GC every value given to H.track
-- during the case has been collected.

local H = {}

local passed, failed, skipped = 0, 0, 0
local tracked

local function fail (name, err)
  failed = failed + 1
  io.stdout:write("FAIL ", name, "\n", tostring(err), "\n")
end

-- Adds values to the case's weak set; returns them unchanged.
function H.track (...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v ~= nil then tracked[v] = true end
  end
  return ...
end

-- Checks that the loop is idle and that tracked values are garbage.
function H.checkclean ()
  local system = package.loaded["coutil.system"]
  if system and not system.isrunning() then
    assert(system.run("ready") == false, "the loop still has pending work")
  end
  collectgarbage("collect")
  collectgarbage("collect")
  local left = next(tracked)
  if left ~= nil then error("not collected: " .. tostring(left), 2) end
end

function H.case (name, fn)
  tracked = setmetatable({}, {__mode = "k"})
  local ok, err = xpcall(fn, debug.traceback)
  if ok then ok, err = xpcall(H.checkclean, debug.traceback) end
  if ok then passed = passed + 1 else fail(name, err) end
  tracked = nil
end

-- Skips a case with a reason: reported on a SKIP line and counted apart,
-- never as passed.
function H.skip (name, why)
  skipped = skipped + 1
  io.stdout:write("SKIP ", name, ": ", why, "\n")
end

-- Calls f(...) and checks that it raises an error containing 'phrase'.
function H.raises (phrase, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error("no error raised (expected '" .. phrase .. "')", 2) end
  if not string.find(tostring(err), phrase, 1, true) then
    error("error '" .. tostring(err) .. "' lacks '" .. phrase .. "'", 2)
  end
  return err
end

-- Compares a list of values with the expected ones (count included).
function H.same (expected, ...)
  local n = select("#", ...)
  local msg
  if n ~= expected.n and n ~= #expected then
    msg = "expected " .. (expected.n or #expected) .. " values, got " .. n
  else
    for i = 1, n do
      local v = select(i, ...)
      if v ~= expected[i] then
        msg = "value #" .. i .. ": expected " .. tostring(expected[i]) ..
              ", got " .. tostring(v)
        break
      end
    end
  end
  if msg then
    local got = {}
    for i = 1, n do got[i] = tostring((select(i, ...))) end
    error(msg .. " (got: " .. table.concat(got, ", ") .. ")", 2)
  end
  return ...
end

-- require(name) from the C paths only: the C 'memory' module, which
-- test/memory.lua would shadow (LUA_PATH starts with test/).
function H.cmodule (name)
  local path = package.path
  package.path = ""
  local ok, m = pcall(require, name)
  package.path = path
  if not ok then error(m, 2) end
  return m
end

-- Packs results with their count.
function H.pack (...) return {n = select("#", ...), ...} end

-- The whole contents of the file at 'path' (raises when it cannot be read).
function H.readfile (path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- Writes 'text' as the whole contents of the file at 'path'; returns path.
function H.writefile (path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- The first line a shell command prints (stderr discarded), or nil.
function H.sh (cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local line = p:read("l")
  p:close()
  return line
end

-- The descriptors this process holds (0 to 255), as a string of their
-- numbers: /proc/self/fd/N exists exactly for those. Starts nothing, so
-- it counts only what the process itself holds.
function H.fds ()
  local set = {}
  for n = 0, 255 do
    local f, _, code = io.open("/proc/self/fd/" .. n)
    if f then f:close() end
    if f or code ~= 2 then set[#set + 1] = n end  -- 2: ENOENT
  end
  return table.concat(set, " ")
end

-- Runs Lua code in a child lua5.4 (or $COUTIL_LUA, the interpreter the
-- suite runs under) with the same module paths. Returns
-- ok (exit status 0), the combined stdout+stderr text, and the exit code.
-- 'env' goes before the interpreter (variables, or a command such as
-- "timeout 60"), 'flags' after it (such as "-W").
function H.runlua (code, env, flags)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  local cmd = string.format("%s %s %s %s %s 2>&1", H.childenv(), env or "",
    os.getenv("COUTIL_LUA") or "lua5.4", flags or "", path)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  os.remove(path)
  return ok == true, out, code
end

function H.childenv ()
  local vars = {}
  for _, name in ipairs{"LUA_CPATH", "LUA_PATH", "LD_PRELOAD",
                        "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"} do
    local v = os.getenv(name)
    if v then vars[#vars + 1] = name .. "='" .. v .. "'" end
  end
  return "env " .. table.concat(vars, " ")
end

-- Runs 'fn' in a coroutine under system.run until it returns, within
-- 'timeout' seconds of loop time (default 10). Returns fn's results.
function H.run (fn, timeout, ...)
  local system = require "coutil.system"
  local results
  local co = coroutine.create(function (...)
    results = H.pack(fn(...))
  end)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 2) end
  local deadline = system.nanosecs() + (timeout or 10) * 1e9
  while results == nil do
    assert(coroutine.status(co) ~= "dead", "coroutine died")
    if system.nanosecs() > deadline then error("timed out", 2) end
    system.run("step")
  end
  return table.unpack(results, 1, results.n)
end

-- Starts f(...) in a tracked coroutine that must reach an await (be left
-- suspended); returns the coroutine.
function H.spawn (f, ...)
  local co = H.track(coroutine.create(f))
  local ok, err = coroutine.resume(co, ...)
  assert(ok, err)
  assert(coroutine.status(co) == "suspended", "the coroutine did not wait")
  return co
end

-- Runs system.run("step") until nothing waits, within 'secs' seconds
-- (default 10) of real time.
function H.drain (secs)
  local system = require "coutil.system"
  local deadline = system.nanosecs() + (secs or 10) * 1e9
  while system.run("step") do
    if system.nanosecs() > deadline then error("the loop is still busy", 2) end
  end
end

-- Checks that f(...) raises an error on argument #n containing 'phrase';
-- returns the message.
function H.badarg (n, phrase, f, ...)
  local err = H.raises(phrase, f, ...)
  if not string.find(err, "bad argument #" .. n .. " ", 1, true) then
    error("error '" .. err .. "' is not about argument #" .. n, 2)
  end
  return err
end

function H.done ()
  io.stdout:write(string.format("%d passed, %d failed, %d skipped\n",
                                passed, failed, skipped))
  os.exit(failed == 0 and 0 or 1)
end

return H
