-- test/coroutine.lua: coutil.coroutine (state coroutines) and
-- system.resume (manual, "State Coroutines", "Thread Synchronization").

local H = require "helpers"
local system = require "coutil.system"
local scoro = require "coutil.coroutine"

local spawn, drain = H.spawn, H.drain
local childcase = require "threads.common".childcase

-- Resumes state coroutine co under system.run (bounded) and returns what
-- system.resume returned.
local function resume (co, ...)
  return H.run(system.resume, 20, co, ...)
end

-- --- load, loadfile --------------------------------------------------------

H.case("load returns a suspended state coroutine", function ()
  local co = H.track(scoro.load("return 1"))
  assert(type(co) == "userdata")
  H.same({"suspended"}, scoro.status(co))
  H.same({"suspended"}, co:status())
  H.same({true, 1}, resume(co))
  H.same({"dead"}, co:status())
end)

H.case("load reports syntax errors like load", function ()
  local co, err = scoro.load("return +", "=mychunk")
  assert(co == false)  -- false, not nil: conventions.md
  assert(err:find("mychunk:1:", 1, true), err)
  co, err = scoro.load("x x")
  assert(co == false and err:find('[string "x x"]:1:', 1, true), err)
end)

H.case("load honours the mode argument", function ()
  local co, err = scoro.load("return 1", "chunk", "b")
  assert(co == false and err:find("attempt to load a text chunk", 1, true),
         err)
  local bin = string.dump(function () return 7 end)
  co, err = scoro.load(bin, "bin", "t")
  assert(co == false and err:find("attempt to load a binary chunk", 1, true))
  co = assert(scoro.load(bin, "bin", "b"))
  H.same({true, 7}, resume(co))
end)

H.case("load accepts a reader function", function ()
  local parts = {"return ", "'a'", " .. ", "'b'"}
  local i = 0
  local co = assert(scoro.load(function () i = i + 1 return parts[i] end))
  H.same({true, "ab"}, resume(co))
  H.raises("reader function must return a string",
           scoro.load, function () return {} end)
end)

H.case("load checks its arguments", function ()
  H.badarg(1, "function expected, got no value", scoro.load)
  H.badarg(1, "function expected, got table", scoro.load, {})
  H.badarg(2, "string expected, got table", scoro.load, "", {})
  H.badarg(3, "string expected, got table", scoro.load, "", "n", {})
end)

H.case("loadfile loads a file and reports failures", function ()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("local a, b = ... return a * b, 'file'")
  f:close()
  local co = assert(scoro.loadfile(path))
  H.same({true, 42, "file"}, resume(co, 6, 7))
  co = assert(scoro.loadfile(path, "t"))
  co:close()
  local bad, err = scoro.loadfile(path, "b")
  assert(bad == false and err:find("attempt to load a text chunk", 1, true))
  os.remove(path)
  bad, err = scoro.loadfile(path)
  assert(bad == false and err:find("cannot open", 1, true), err)
  H.badarg(1, "string expected, got table", scoro.loadfile, {})
end)

-- --- system.resume ---------------------------------------------------------

H.case("resume passes values in and out, yields keep it suspended",
function ()
  local co = assert(scoro.load[[
    local coroutine = require "coroutine"
    local a, b = ...
    local c = coroutine.yield(a + b, a .. b)
    local d, e = coroutine.yield()
    return c, d, e
  ]])
  H.same({true, 3, "12"}, resume(co, 1, 2))
  H.same({"suspended"}, co:status())
  H.same({true}, resume(co, "c"))
  H.same({true, "c", nil, 2.5}, resume(co, nil, 2.5))
  H.same({"dead"}, co:status())
end)

H.case("the status is running while the chunk runs", function ()
  local co = assert(scoro.load[[
    require "coutil.system".suspend(0.05, "~")
    return "slow"
  ]])
  H.run(function ()
    local res
    spawn(function () res = H.pack(system.resume(co)) end)
    H.same({"running"}, co:status())
    H.same({false, "cannot resume running coroutine"}, system.resume(co))
    H.raises("cannot close a running coroutine", co.close, co)
    while res == nil do system.suspend(0.01) end
    H.same({true, "slow"}, table.unpack(res, 1, res.n))
  end)
  H.same({"dead"}, co:status())
end)

H.case("errors come back like coroutine.resume", function ()
  local co = assert(scoro.load("require '_G'; error('boom', 0)"))
  H.same({false, "boom"}, resume(co))
  H.same({"dead"}, co:status())
  H.same({false, "boom"}, co:close())
  H.same({"dead"}, co:status())
  co = assert(scoro.load("require '_G'; error(nil)"))
  H.same({false, nil, n = 2}, resume(co))
end)

H.case("the chunk runs in an independent state", function ()
  local co = assert(scoro.load[[
    local before = {print, string, table, package, require ~= nil}
    local base = require "_G"
    local str = require "string"
    return before[1], before[2], before[3], before[4], before[5],
           base == _ENV, print ~= nil, string, type(str.len),
           type(require "package".loaded), ("x"):rep(2)
  ]])
  H.same({true, nil, nil, nil, nil, true, true, true, nil, "function",
          "table", "xx", n = 12}, resume(co))
end)

H.case("every transferable type crosses in both directions", function ()
  local light = debug.upvalueid(resume, 1)
  local big = string.rep("\0\255", 500)
  local co = assert(scoro.load[[
    require "_G"
    local coroutine = require "coroutine"
    local math = require "math"
    local n, t = 0, {...}
    local types = {}
    for i = 1, select("#", ...) do
      types[i] = math.type((select(i, ...))) or type((select(i, ...)))
    end
    coroutine.yield(require "table".concat(types, ","))
    return ...
  ]])
  local args = {n = 8, nil, false, true, 1, 1.0, "a\0", big, light}
  local function pass () return table.unpack(args, 1, args.n) end
  H.same({true, "nil,boolean,boolean,integer,float,string,string,userdata"},
         resume(co, pass()))
  local res = H.pack(resume(co))  -- returns the chunk's own '...'
  assert(res.n == args.n + 1)
  co = assert(scoro.load("return ..."))
  res = H.pack(resume(co, pass()))
  assert(res.n == args.n + 1)
  for i = 1, args.n do
    assert(res[i + 1] == args[i])
    assert(math.type(res[i + 1]) == math.type(args[i]))
  end
end)

H.case("resume refuses values that cannot be transferred", function ()
  local co = assert(scoro.load("return ..."))
  H.run(function ()
    -- returned, like the failures of coroutine.resume, not raised
    H.same({false, "unable to transfer argument #2 (got table)"},
           system.resume(co, {}))
    H.same({false, "unable to transfer argument #4 (got function)"},
           system.resume(co, 1, 2, print))
    H.same({false, "unable to transfer argument #2 (got thread)"},
           system.resume(co, coroutine.running()))
    H.same({false, "unable to transfer argument #3 (got userdata)"},
           system.resume(co, 1, io.stdout))
    local many = {}
    for i = 1, 300 do many[i] = string.rep("x", i) end
    many[#many + 1] = {}
    H.same({false, "unable to transfer argument #302 (got table)"},
           system.resume(co, table.unpack(many)))
  end)
  H.same({"suspended"}, co:status())
  H.same({true, 1}, resume(co, 1))
end)

H.case("results and errors that cannot be transferred fail", function ()
  local co = assert(scoro.load[[
    require "_G"
    local coroutine = require "coroutine"
    coroutine.yield(1, {})
    coroutine.yield(print)
    error({})
  ]])
  H.same({false, "unable to transfer return value #2 (got table)"},
         resume(co))
  H.same({"suspended"}, co:status())
  H.same({false, "unable to transfer return value #1 (got function)"},
         resume(co))
  H.same({false, "unable to transfer error (got table)"}, resume(co))
  H.same({"dead"}, co:status())
  H.same({false, "unable to transfer error (got table)"}, co:close())
end)

H.case("resume checks its arguments and the coroutine status", function ()
  H.badarg(1, "coutil.coroutine expected, got no value", system.resume)
  H.badarg(1, "coutil.coroutine expected, got thread", system.resume,
           coroutine.create(print))
  local co = assert(scoro.load("return"))
  H.raises("unable to yield", system.resume, co)
  H.same({"suspended"}, co:status())
  H.same({true}, resume(co))
  H.same({false, "cannot resume dead coroutine"}, system.resume(co))
  local closed = assert(scoro.load("return"))
  closed:close()
  H.same({false, "cannot resume dead coroutine"}, system.resume(closed))
end)

H.case("an early resume of the caller lets the chunk finish and drops results",
function ()
  local co = assert(scoro.load[[
    local coroutine = require "coroutine"
    require "coutil.system".suspend(0.05, "~")
    coroutine.yield("dropped")
    return "second"
  ]])
  local caller = spawn(system.resume, co)
  H.same({true, "early", 2}, coroutine.resume(caller, "early", 2))
  H.same({"dead"}, coroutine.status(caller))
  H.same({"running"}, co:status())
  drain()
  H.same({"suspended"}, co:status())
  H.same({true, "second"}, resume(co))
end)

H.case("closing the caller lets the chunk finish as well", function ()
  local co = assert(scoro.load[[
    require "coutil.system".suspend(0.02, "~")
    return "dropped"
  ]])
  local caller = spawn(system.resume, co)
  assert(coroutine.close(caller))
  H.same({"running"}, co:status())
  drain()
  H.same({"dead"}, co:status())
end)

H.case("a state coroutine collected while running is freed afterwards",
function ()
  local co = assert(scoro.load[[
    require "coutil.system".suspend(0.05, "~")
    return "gone"
  ]])
  local caller = spawn(system.resume, H.track(co))
  co = nil
  coroutine.resume(caller)
  collectgarbage()
  collectgarbage()
  drain()
end)

H.case("GC inside the resumed caller", function ()
  local co = assert(scoro.load("return 1"))
  H.run(function ()
    assert(system.resume(co))
    collectgarbage()
  end)
end)

-- --- status, close ---------------------------------------------------------

H.case("close runs to-be-closed variables of a suspended chunk", function ()
  local path = os.tmpname()
  local co = assert(scoro.load([[
    require "_G"
    local coroutine = require "coroutine"
    local io = require "io"
    local path = ...
    local mark <close> = setmetatable({}, {__close = function ()
      local f = io.open(path, "w") f:write("closed") f:close()
    end})
    coroutine.yield()
  ]], "tbc"))
  H.same({true}, resume(co, path))
  H.same({true}, co:close())
  H.same({"dead"}, co:status())
  local f = assert(io.open(path))
  H.same({"closed"}, f:read("a"))
  f:close()
  os.remove(path)
  H.same({true}, co:close())  -- closing again is harmless
end)

H.case("a <close> variable closes a suspended state coroutine", function ()
  local path = os.tmpname()
  local keep
  do
    local co <close> = assert(scoro.load([[
      require "_G"
      local coroutine = require "coroutine"
      local path = ...
      local mark <close> = setmetatable({}, {__close = function ()
        local f = require "io".open(path, "w") f:write("closed") f:close()
      end})
      coroutine.yield()
    ]]))
    keep = co
    H.same({true}, resume(co, path))
    H.same({"suspended"}, co:status())
  end
  H.same({"dead"}, keep:status())
  local f = assert(io.open(path))
  H.same({"closed"}, f:read("a"))
  f:close()
  os.remove(path)
  do local failed <close> = assert(scoro.load("error('x')")) end
end)

H.case("a <close> variable of a running one closes it when it stops",
function ()
  local keep, res
  local path = os.tmpname()
  H.run(function ()
    do
      local co <close> = assert(scoro.load[[
        local path = ...
        local coroutine = require "coroutine"
        local mark <close> = require "_G".setmetatable({}, {__close =
          function ()
            local f = require "io".open(path, "w")
            f:write("closed") f:close()
          end})
        require "coutil.system".suspend(0.02, "~")
        coroutine.yield("yielded")
      ]])
      keep = co
      spawn(function () res = H.pack(system.resume(co, path)) end)
    end  -- no error: the state coroutine is closed once its run ends
    H.same({"running"}, keep:status())
    while res == nil do system.suspend(0.01) end
  end)
  H.same({true, "yielded"}, table.unpack(res, 1, res.n))
  H.same({"dead"}, keep:status())
  local f = assert(io.open(path))
  H.same({"closed"}, f:read("a"))
  f:close()
  os.remove(path)
  H.same({false, "cannot resume dead coroutine"}, system.resume(keep))
end)

H.case("status and close check their argument", function ()
  H.badarg(1, "coutil.coroutine expected, got no value", scoro.status)
  H.badarg(1, "coutil.coroutine expected, got table", scoro.close, {})
end)

H.case("preloaded C functions and Lua loaders are inherited", function ()
  package.preload["test.cfunc"] = string.len
  package.preload["test.lfunc"] = function () return "lua" end
  local co = assert(scoro.load[[
    require "_G"
    return require "test.cfunc", (require "test.lfunc")
  ]])
  package.preload["test.cfunc"] = nil
  package.preload["test.lfunc"] = nil
  H.same({true, 10, "lua"}, resume(co))
end)

childcase("lua_close waits for a state coroutine still running", function ()
  local ok, out = H.runlua[[
    local system = require "coutil.system"
    local scoro = require "coutil.coroutine"
    local co = assert(scoro.load[=[
      require "coutil.system".suspend(0.05, "~")
      require "io".write("chunk done\n")
    ]=])
    local caller = coroutine.create(system.resume)
    coroutine.resume(caller, co)
    coroutine.resume(caller)  -- early: nobody waits for the results
    print("main done")
  ]]
  assert(ok, out)
  local m = out:find("main done", 1, true)
  assert(m and out:find("chunk done", m, true), out)
end)

-- A resumer whose stack cannot take what the state coroutine yielded used
-- to be left waiting for ever; coroutine.resume fails so in that case.
H.case("more results than the resumer's stack takes fail the resume", function ()
  local co = H.track(scoro.load([[
    local table = require "table"
    local coroutine = require "coroutine"
    local t = {}
    for i = 1, 990000 do t[i] = i end  -- 1,000,000 slots at most in all
    coroutine.yield(table.unpack(t))
    return "done"
  ]]))
  local filler = {}
  for i = 1, 20000 do filler[i] = i end
  local first, second
  local function deep (...)  -- keeps the 20,000 values in its frame
    first = H.pack(system.resume(co))
    second = H.pack(system.resume(co))
    return select("#", ...)
  end
  spawn(deep, table.unpack(filler))
  drain(20)
  H.same({false, "too many results to resume"},
         table.unpack(first, 1, first.n))
  H.same({true, "done"}, table.unpack(second, 1, second.n))
  H.same({"dead"}, co:status())
end)

H.done()
