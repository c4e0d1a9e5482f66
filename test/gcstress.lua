-- test/gcstress.lua: the garbage collector modes of test/run.lua, loaded
-- through LUA_INIT (so children that tests start get the same) when
-- COUTIL_GC is set:
--   calls        a full collection before and after every call of a
--                function of coutil's modules or a method of their objects
--   generational the generational collector
--   incremental  the incremental collector with pause 0: a new cycle
--                starts as soon as one ends
-- Any use of freed memory then shows up under the sanitizers and the
-- torture interpreter, wherever a collection can happen.

local mode = os.getenv("COUTIL_GC")

if mode == "generational" then
  collectgarbage("generational")
elseif mode == "incremental" then
  collectgarbage("incremental", 0, 100)
elseif mode == "calls" then
  local stressed = setmetatable({}, {__mode = "k"})
  local function addtable (t)
    for _, v in pairs(t) do
      if type(v) == "function" then stressed[v] = true end
    end
  end
  -- the functions of a module just loaded and the methods of the classes
  -- it registered (metatables named coutil.* and memory's char[])
  local function collect (name, value)
    if type(name) ~= "string" or type(value) ~= "table" then return end
    if not (name:find("^coutil") or name == "memory") then return end
    addtable(value)
    for key, mt in pairs(debug.getregistry()) do
      if type(key) == "string" and type(mt) == "table" and
         (key:find("^coutil") or key == "char[]") then
        addtable(mt)
        if type(mt.__index) == "table" then addtable(mt.__index) end
      end
    end
  end
  local require0 = require
  function require (name, ...)
    local value, extra = require0(name, ...)
    collect(name, value)
    return value, extra
  end
  local getinfo, full = debug.getinfo, collectgarbage
  local function hook ()
    local info = getinfo(2, "f")
    if info and stressed[info.func] then full() end
  end
  debug.sethook(hook, "cr")
  -- coroutines made from now on inherit the hook
end
