-- test/threads/common.lua: helpers shared by the tests of system threads
-- (test/state.lua, channel.lua, coroutine.lua, threads.lua).

local H = require "helpers"
local system = require "coutil.system"

local C = {}

-- /bin/sh crashes with the ThreadSanitizer runtime preloaded, so child
-- processes (H.runlua) cannot run under COUTIL_SANITIZER=tsan.
local notsan = not (os.getenv("LD_PRELOAD") or ""):find("tsan", 1, true)
function C.childcase (name, fn)
  if notsan then H.case(name, fn)
  else H.skip(name, "child processes cannot run under ThreadSanitizer") end
end

-- Channel names unique to this process, so parallel test files never meet.
local serial = 0
function C.newname (prefix)
  serial = serial + 1
  return (prefix or "test") .. "#" .. serial
end

-- Runs fn under system.run with a guard timer bounding every wait.
function C.guarded (fn, secs)
  local guard = coroutine.create(system.suspend)
  coroutine.resume(guard, secs or 30)
  local results = H.pack(pcall(H.run, fn, (secs or 30) + 1))
  coroutine.resume(guard)  -- cancels the timer
  assert(results[1], results[2])
  return table.unpack(results, 2, results.n)
end

-- Polls until cond() holds, sleeping (blocking) between tries; bounded.
function C.waitfor (cond, what)
  for _ = 1, 2000 do
    if cond() then return end
    system.suspend(0.005, "~")
  end
  error("timed out waiting for " .. what, 2)
end

return C
