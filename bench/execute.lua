-- bench/execute.lua: n children of /bin/true, one after another, each
-- awaited until it exits. Floor: bench/floor_execute.c, the same loop in C
-- on libuv (uv_spawn, the exit callback, the handle closed). Wall-clock
-- time: what a child costs is mostly the kernel's fork and exec, which
-- CPU time of the parent alone would not show.

local loadfloor = dofile("bench/threads/floor.lua")
loadfloor("execute")  -- built before anything is timed

local TRUE = "/bin/true"

local function floor (n)
  return loadfloor("execute").run(n, TRUE)
end

local function coutil (n)
  local system = require "coutil.system"
  local execute = system.execute
  local done = 0
  coroutine.wrap(function ()
    for _ = 1, n do
      local how, code = execute(TRUE)
      if how == "exit" and code == 0 then done = done + 1 end
    end
  end)()
  system.run()
  return done
end

local function luv (n)
  local uv = require "luv"
  local done = 0
  local function spawn (left)
    if left == 0 then return end
    local handle
    handle = uv.spawn(TRUE, {args = {}, stdio = {0, 1, 2}},
      function (code, signal)
        if code == 0 and signal == 0 then done = done + 1 end
        handle:close()
        spawn(left - 1)
      end)
  end
  spawn(n)
  uv.run()
  return done
end

local function osexecute (n)
  local done = 0
  for _ = 1, n do
    if os.execute(TRUE) then done = done + 1 end
  end
  return done
end

return {
  title = "500 children of /bin/true, one after another",
  unit = "child",
  n = 500,
  clock = "wall",
  contenders = {
    {name = "C libuv", floor = true, run = floor},
    {name = "coutil", needs = {"coutil.system"}, run = coutil},
    {name = "luv", needs = {"luv"}, run = luv},
    {name = "os.execute", run = osexecute},
  },
  targets = {
    {slower = "coutil", than = "C libuv", atmost = 1.1},
    {faster = "coutil", than = "luv", atleast = 1},
  },
}
