-- test/state.lua: independent states and transferable values (manual,
-- "Independent State", "Transferable Values"), observed through state
-- coroutines and tasks.

local H = require "helpers"
local system = require "coutil.system"
local scoro = require "coutil.coroutine"

-- Runs 'chunk' in a new independent state with the given arguments and
-- returns what system.resume returns.
local function runchunk (chunk, ...)
  local co = assert(scoro.load(chunk))
  local res = H.pack(H.run(system.resume, 20, co, ...))
  co:close()
  return table.unpack(res, 1, res.n)
end

local childcase = require "threads.common".childcase

local stdlibs = {"_G", "coroutine", "table", "io", "os", "string", "math",
                 "utf8", "debug"}

H.case("only require is global; package is loaded", function ()
  H.same({true, true, true, nil, nil, "package", n = 6}, runchunk[[
    local pkg = require "package"
    local loaded = {}
    for _, name in require "_G".ipairs{"package", "string", "table"} do
      if pkg.loaded[name] then loaded[#loaded + 1] = name end
    end
    return require ~= nil, pkg.loaded.package == pkg, package, string,
           require "table".concat(loaded, ",")
  ]])
end)

H.case("every standard library is a preloaded module", function ()
  for _, name in ipairs(stdlibs) do
    H.same({true, "table", true}, runchunk([[
      local name = ...
      local pkg = require "package"
      local lib = require(name)
      local isglobal = name == "_G" or _ENV[name] == nil
      return pkg.preload[name] ~= nil and "table" or "missing", isglobal
    ]], name))
  end
end)

H.case("standard libraries load without setting globals", function ()
  H.same({true, nil, nil, "ABC", 3, n = 5}, runchunk[[
    local string = require "string"
    local math = require "math"
    return _ENV.string, _ENV.math, string.upper("abc"), math.max(1, 3)
  ]])
end)

H.case("the standalone set-up of the manual works", function ()
  H.same({true, "table", "function", "3"}, runchunk[[
    for _, module in require "_G".ipairs{"_G", "package", "coroutine",
        "table", "io", "os", "string", "math", "utf8", "debug"} do
      _ENV[module] = require(module)
    end
    return type(package), type(coroutine.wrap), tostring(math.max(1, 3))
  ]])
end)

H.case("C functions and Lua loaders are inherited, C closures are not",
function ()
  local upvalue = "caller's"
  package.preload["test.state.c"] = string.len
  package.preload["test.state.lua"] = function (name)
    return "lua " .. name .. " " .. type(require)
  end
  -- its first upvalue (here 'upvalue') becomes the new state's globals,
  -- as load does with a dumped function
  package.preload["test.state.upvalue"] = function () return upvalue end
  package.preload["test.state.closure"] = string.gmatch("a", "a")
  package.preload["test.state.string"] = "not a loader"
  package.preload[1] = string.len
  H.same({true, 12, "lua test.state.lua function", "table", false, false,
          nil, n = 7}, runchunk[[
    local pcall = require "_G".pcall
    local preload = require "package".preload
    return require "test.state.c", require "test.state.lua",
           require "_G".type(require "test.state.upvalue"),
           (pcall(require, "test.state.closure")),
           (pcall(require, "test.state.string")), preload[1]
  ]])
  for _, name in ipairs{"c", "lua", "upvalue", "closure", "string"} do
    package.preload["test.state." .. name] = nil
  end
  package.preload[1] = nil
end)

H.case("a Lua loader is copied when the state is made", function ()
  package.preload["test.state.later"] = function () return "first" end
  local co = assert(scoro.load[[ return (require "test.state.later") ]])
  package.preload["test.state.later"] = function () return "second" end
  H.same({true, "first"}, H.run(system.resume, 20, co))
  package.preload["test.state.later"] = nil
end)

H.case("coutil's modules are preloaded, even with no search path", function ()
  H.same({true, "function", "function", "function", "table"}, runchunk[[
    local package = require "package"
    package.path, package.cpath = "", ""
    local type = require "_G".type
    return type(require "coutil.system".run),
           type(require "coutil.channel".sync),
           type(require "coutil.spawn".catch),
           type(package.preload["coutil.threads"] and {})
  ]])
end)

H.case("an inherited preload wins over a standard library", function ()
  package.preload["utf8"] = string.upper
  H.same({true, "UTF8"}, runchunk[[ return (require "utf8") ]])
  package.preload["utf8"] = nil
end)

childcase("warnings are off until enabled, then go to stderr", function ()
  local ok, out = H.runlua[[
    local system = require "coutil.system"
    local scoro = require "coutil.coroutine"
    local co = assert(scoro.load[=[
      local warn = require "_G".warn
      warn("hidden")
      warn("@on")
      warn("shown ", "in pieces")
      warn("@off")
      warn("hidden too")
    ]=])
    coroutine.wrap(function () assert(system.resume(co)) end)()
    system.run()
    print("end")
  ]]
  assert(ok, out)
  assert(out:find("Lua warning: shown in pieces\n", 1, true), out)
  assert(not out:find("hidden", 1, true), out)
  assert(out:find("end", 1, true), out)
end)

H.case("values keep their exact type and bytes across states", function ()
  local light = debug.upvalueid(runchunk, 1)
  local values = {n = 12, nil, true, false, 0, -1, math.maxinteger,
                  math.mininteger, 0.5, 1e308, -0.0, "\0\1\2\255",
                  string.rep("x", 10000)}
  local res = H.pack(runchunk([[
    local math = require "math"
    local n = require "_G".select("#", ...)
    local types = {}
    for i = 1, n do
      types[i] = math.type((require "_G".select(i, ...))) or "-"
    end
    return n, require "table".concat(types, ","), ...
  ]], table.unpack(values, 1, values.n)))
  H.same({true, values.n}, res[1], res[2])
  assert(res[3] ==
         "-,-,-,integer,integer,integer,integer,float,float,float,-,-",
         res[3])
  for i = 1, values.n do
    assert(res[i + 3] == values[i], i)
    assert(math.type(res[i + 3]) == math.type(values[i]), i)
  end
  assert(1 / res[3 + 10] < 0)
  res = H.pack(runchunk("return ...", light))
  H.same({true, light}, table.unpack(res, 1, res.n))
  assert(type(res[2]) == "userdata")
end)

H.case("values that cannot cross are refused in each direction", function ()
  local co = assert(scoro.load("return ..."))
  for _, v in ipairs{{}, print, io.stdout, coroutine.create(print)} do
    local tname = type(v)
    H.run(function ()  -- returned, not raised (the original's way)
      H.same({false, "unable to transfer argument #3 (got " .. tname .. ")"},
             system.resume(co, 1, v))
    end)
  end
  co:close()
  for _, expr in ipairs{"{}", "print", "require 'io'.stdout",
                         "require 'coroutine'.running()"} do
    local r = H.pack(runchunk("require '_G'; return 1, " .. expr))
    assert(r[1] == false, expr)  -- a failure, returned
    assert(r[2]:find("unable to transfer return value #2 (got ", 1, true))
  end
end)

H.done()
