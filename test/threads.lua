-- test/threads.lua: coutil.threads (manual, "Thread Pools"), tasks on
-- channels, system.run inside tasks and lua_close with live pools.

local H = require "helpers"
local system = require "coutil.system"
local channel = require "coutil.channel"
local threads = require "coutil.threads"

local C = require "threads.common"
local childcase, guarded, waitfor = C.childcase, C.guarded, C.waitfor
local function newname () return C.newname("test/threads") end

-- Receives 'n' values from channel 'name' (endpoint "in"), in order.
local function receive (name, n, secs)
  local ch = channel.create(name)
  local got = {}
  guarded(function ()
    for i = 1, n do
      local res = H.pack(system.awaitch(ch, "in"))
      assert(res[1] == true, res[2])
      got[i] = res.n > 2 and {table.unpack(res, 2, res.n)} or res[2]
    end
  end, secs)
  ch:close()
  return got
end

-- Common prologue of task chunks: the base library and coroutine.
local prologue = [[
  require "_G"
  local coroutine = require "coroutine"
]]

-- --- create, count, resize, close ------------------------------------------

H.case("create returns a pool with its threads", function ()
  local pool = threads.create(2)
  assert(type(pool) == "userdata")
  H.same({0, 0, 0, 0, 2, 2}, threads.count(pool, "nrpsea"))
  H.same({2, 2, 0}, pool:count("ean"))
  H.same({true}, pool:close())
end)

H.case("create without size outside a task returns nil", function ()
  H.same({nil, n = 1}, threads.create())
  H.same({nil, n = 1}, threads.create(nil))
end)

H.case("create checks its argument", function ()
  H.badarg(1, "out of range", threads.create, 0x10000)
  local none = threads.create(-1)  -- negative: no threads
  H.same({0, 0}, none:count("ea"))
  none:close()
  H.badarg(1, "number has no integer representation", threads.create, 1.5)
  H.badarg(1, "number expected, got table", threads.create, {})
end)

H.case("a pool without threads keeps tasks pending", function ()
  local pool = threads.create(0)
  H.same({true}, pool:dostring("return"))
  H.same({true}, pool:dostring("return"))
  H.same({2, 0, 2, 0, 0, 0}, pool:count("nrpsea"))
  H.same({true}, pool:close())  -- no threads: discards the tasks
end)

H.case("resize starts threads on demand or at once", function ()
  local pool = threads.create(0)
  H.same({true}, pool:resize(3))
  H.same({3, 0}, pool:count("ea"))  -- no task, no thread yet
  H.same({true}, pool:resize(3, true))
  H.same({3, 3}, pool:count("ea"))
  H.same({true}, pool:resize(1))
  waitfor(function () return pool:count("a") == 1 end, "threads to leave")
  H.same({1}, pool:count("e"))
  pool:close()
end)

H.case("resize checks its arguments", function ()
  local pool = threads.create(0)
  H.badarg(2, "out of range", pool.resize, pool, 0x10000)
  H.same({true}, pool:resize(-2))
  H.same({0}, pool:count("e"))
  H.badarg(2, "number expected, got no value", pool.resize, pool)
  H.badarg(1, "coutil.threads expected, got table", threads.resize, {}, 1)
  pool:close()
end)

H.case("count tells running, pending and suspended tasks apart",
function ()
  local name = newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    coroutine.yield(..., "in")  -- suspended until the end of the case
  ]], "suspended", "t", name))
  waitfor(function () return pool:count("s") == 1 end, "the suspension")
  assert(pool:dostring(prologue .. [[
    local name = ...
    coroutine.yield(name .. "/started", "out")
    require "coutil.system".suspend(2, "~")
  ]], "running", "t", name))
  local ch = channel.create(name .. "/started")
  guarded(function () assert(system.awaitch(ch, "in")) end)
  waitfor(function () return pool:count("r") == 1 end, "the runner")
  -- queued only now: while the runner blocks the only thread, it waits
  assert(pool:dostring("return", "pending"))
  H.same({3, 1, 1, 1, 1, 1}, pool:count("nrpsea"))
  H.same({true}, channel.create(name):sync("out"))  -- frees the first
  waitfor(function () return pool:count("n") == 0 end, "the end")
  H.same({0, 0, 0, 0}, pool:count("nrps"))
  ch:close()
  pool:close()
end)

H.case("count checks its options", function ()
  local pool = threads.create(0)
  H.same({}, pool:count(""))
  H.badarg(2, "bad option (got 'x')", pool.count, pool, "nx")
  H.same({0, 0, 0, 0}, pool:count("nnaa"))
  H.badarg(2, "string expected, got no value", pool.count, pool)
  pool:close()
end)

H.case("a closed pool cannot be used; closing it again returns false",
function ()
  local pool = threads.create(1)
  H.same({true}, pool:close())
  H.same({false}, pool:close())
  do local tbc <close> = threads.create(1) end  -- closed by __close
  H.raises("closed object", pool.count, pool, "n")
  H.raises("closed object", pool.resize, pool, 1)
  H.raises("closed object", pool.dostring, pool, "return")
  H.raises("closed object", pool.dofile, pool, "x.lua")
end)

-- --- dostring, dofile ------------------------------------------------------

H.case("dostring runs a chunk with transferable arguments", function ()
  local name = newname()
  local pool = threads.create(1)
  local light = debug.upvalueid(newname, 1)
  H.same({true}, pool:dostring(prologue .. [[
    local name = ...
    coroutine.yield(name, "out", select("#", ...), ...)
  ]], "args", "t", name, nil, false, 7, 7.0, "s\0", light))
  local got = receive(name, 1)[1]
  H.same({7, name, nil, false, 7, 7.0, "s\0", light}, table.unpack(got, 1, 8))
  assert(math.type(got[6]) == "float")
  pool:close()
end)

H.case("dostring passes many arguments", function ()
  local name = newname()
  local pool = threads.create(1)
  local many = {}
  for i = 1, 300 do many[i] = i end
  assert(pool:dostring(prologue .. [[
    local name = ...
    local sum = 0
    for i = 2, select("#", ...) do sum = sum + select(i, ...) end
    coroutine.yield(name, "out", select("#", ...), sum)
  ]], "many", "t", name, table.unpack(many)))
  local got = receive(name, 1)[1]
  H.same({301, 300 * 301 // 2}, got[1], got[2])
  pool:close()
end)

H.case("dostring reports chunks that do not load", function ()
  local pool = threads.create(1)
  local ok, err = pool:dostring("return +", "=bad")
  assert(ok == false and err:find("bad:1:", 1, true), err)
  ok, err = pool:dostring("return 1", "text", "b")
  assert(ok == false and err:find("attempt to load a text chunk", 1, true))
  H.same({0}, pool:count("n"))
  pool:close()
end)

H.case("dostring compiles again what differs in chunk, name or mode",
function ()
  local name = newname()
  local pool = threads.create(1)
  -- where the chunk thinks it is, and an error raised in it
  local chunk = prologue .. [[
    local name, i = ...
    local where = require("debug").getinfo(1, "S").source
    local _, err = pcall(function () error("boom") end)
    coroutine.yield(name, "out", i, where, err)
  ]]
  local names = {"=one", "@two.lua", "three", "=one"}
  for i, chunkname in ipairs(names) do
    H.same({true}, pool:dostring(chunk, chunkname, "t", name, i))
    H.same({true}, pool:dostring(chunk, chunkname, "bt", name, i + 10))
  end
  local got = receive(name, 2 * #names)
  table.sort(got, function (a, b) return a[1] < b[1] end)
  local expect = {one = "one:", ["two.lua"] = "two.lua:",
                  three = '[string "three"]:'}
  for _, g in ipairs(got) do
    local i = g[1] > 10 and g[1] - 10 or g[1]
    local chunkname = names[i]
    H.same({chunkname}, g[2])
    local prefix = expect[chunkname:gsub("^[=@]", "")]
    assert(g[3]:sub(1, #prefix) == prefix and g[3]:find("boom", 1, true),
           g[3])
  end
  -- the default name is the chunk itself
  H.same({true}, pool:dostring(chunk, nil, nil, name, 1))
  H.same({true}, pool:dostring(chunk, nil, nil, name, 2))
  for _, g in ipairs(receive(name, 2)) do H.same({chunk}, g[2]) end
  -- a mode refuses what another mode took from the same chunk and name
  local bin = string.dump(load("local name = ... require('coroutine')" ..
                               ".yield(name, 'out', 'binary')"))
  H.same({true}, pool:dostring(prologue, "text", "t", name))
  H.same({true}, pool:dostring(bin, "bin", "bt", name))
  H.same({true}, pool:dostring(bin, "bin", "b", name))
  local ok, err = pool:dostring(bin, "bin", "t", name)
  assert(ok == false and err:find("attempt to load a binary chunk"), err)
  ok, err = pool:dostring(prologue, "text", "b", name)
  assert(ok == false and err:find("attempt to load a text chunk"), err)
  H.same({"binary", "binary"}, table.unpack(receive(name, 2)))
  -- load errors are not kept: the same message each time
  for _ = 1, 2 do
    ok, err = pool:dostring("return +", "=bad")
    assert(ok == false and err:find("bad:1:", 1, true), err)
  end
  pool:close()
end)

H.case("dostring with more distinct chunks than it keeps compiled",
function ()
  local name = newname()
  local pool = threads.create(2)
  local big = "--" .. string.rep("x", 40 * 1024) .. "\n"  -- never kept
  local function chunk (i)
    return (i % 5 == 0 and big or "") .. prologue ..
           "local name, a, b = ... coroutine.yield(name, 'out', " .. i ..
           ", a + b)"
  end
  local n = 0
  for round = 1, 3 do
    for i = 1, 30 do
      H.same({true}, pool:dostring(chunk(i), "many", "t", name, i, round))
      n = n + 1
    end
  end
  local sums = {}
  for _, g in ipairs(receive(name, n)) do
    sums[g[1]] = (sums[g[1]] or 0) + g[2]
  end
  for i = 1, 30 do H.same({3 * i + 6}, sums[i]) end
  pool:close()
end)

H.case("a finalizer at lua_close of a task still starts tasks", function ()
  local name = newname()
  local pool = threads.create(1)
  -- marked for finalization before the module's own blocks, so run after
  -- them when the task's state closes
  assert(pool:dostring(prologue .. [[
    local name = ...
    setmetatable({}, {__gc = function ()
      local own = require("coutil.threads").create()
      own:dostring("local name = ... require('coroutine').yield(name, " ..
                   "'out', 'from gc')", "gc", "t", name)
    end})
    require "coutil.threads"
  ]], "finalizer", "t", name))
  H.same({"from gc"}, receive(name, 1)[1])
  pool:close()
end)

H.case("a task gets the preloads of the call, not those at its start",
function ()
  local name = newname()
  local pool = threads.create(0)  -- the task waits for a thread
  package.preload["test.threads.late"] = function () return "lua loader" end
  package.preload["test.threads.len"] = string.len
  assert(pool:dostring(prologue .. [[
    local name = ...
    coroutine.yield(name, "out", require "test.threads.late",
                    require "test.threads.len")
  ]], "preloads", "t", name))
  package.preload["test.threads.late"] = nil
  package.preload["test.threads.len"] = nil
  assert(pool:resize(1))
  local got = receive(name, 1)[1]
  H.same({"lua loader", 16}, got[1], got[2])
  pool:close()
end)

H.case("dostring checks its arguments", function ()
  local pool = threads.create(0)
  H.badarg(2, "string expected, got no value", pool.dostring, pool)
  H.badarg(2, "string expected, got table", pool.dostring, pool, {})
  H.badarg(3, "string expected, got table", pool.dostring, pool, "", {})
  -- returned, not raised
  H.same({false, "unable to transfer argument #5 (got table)"},
         pool:dostring("return", "n", "t", {}))
  H.same({false, "unable to transfer argument #7 (got function)"},
         pool:dostring("return", "n", "t", 1, 2, print))
  H.badarg(1, "coutil.threads expected, got string", threads.dostring, "x")
  H.same({0}, pool:count("n"))
  pool:close()
end)

H.case("dofile runs a file with arguments", function ()
  local name = newname()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(prologue, "local name, a, b = ...\n",
          "coroutine.yield(name, 'out', a + b)")
  f:close()
  local pool = threads.create(1)
  H.same({true}, pool:dofile(path, "t", name, 20, 22))
  H.same({42}, receive(name, 1)[1])
  -- a file is read again at each call
  f = assert(io.open(path, "w"))
  f:write(prologue, "local name, a, b = ...\n",
          "coroutine.yield(name, 'out', a * b)")
  f:close()
  H.same({true}, pool:dofile(path, "t", name, 20, 22))
  H.same({440}, receive(name, 1)[1])
  local ok, err = pool:dofile(path, "b")
  assert(ok == false and err:find("attempt to load a text chunk", 1, true))
  os.remove(path)
  ok, err = pool:dofile(path)
  assert(ok == false and err:find("cannot open", 1, true), err)
  H.same({false, "unable to transfer argument #4 (got table)"},
         pool:dofile(path, "t", {}))
  pool:close()
end)

-- --- tasks -----------------------------------------------------------------

H.case("tasks that yield are rescheduled; many tasks on few threads",
function ()
  local name = newname()
  local pool = threads.create(2)
  local ntasks = 100
  for i = 1, ntasks do
    assert(pool:dostring(prologue .. [[
      local name, i = ...
      for _ = 1, 5 do coroutine.yield() end
      coroutine.yield(name, "out", i)
    ]], "task", "t", name, i))
  end
  local got = receive(name, ntasks)
  local seen = {}
  for _, i in ipairs(got) do
    assert(not seen[i])
    seen[i] = true
  end
  for i = 1, ntasks do assert(seen[i]) end
  pool:close()
end)

H.case("tasks see the caller's C preloads, also in spare states",
function ()
  local name = newname()
  local pool = threads.create(1)
  waitfor(function () return pool:count("n") == 0 end, "nothing")
  system.suspend(0.02, "~")  -- the idle thread makes spare states
  package.preload["test.threads.len"] = string.len
  for i = 1, 3 do
    assert(pool:dostring(prologue .. [[
      local name = ...
      coroutine.yield(name, "out", require "test.threads.len",
                      string == nil)
    ]], "preload", "t", name))
  end
  package.preload["test.threads.len"] = nil
  for _, got in ipairs(receive(name, 3)) do
    H.same({16, true}, got[1], got[2])
  end
  pool:close()
end)

H.case("a task gets its own pool from create()", function ()
  local name = newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    local threads = require "coutil.threads"
    local name = ...
    local own = threads.create()
    local n, e = own:count("ne")
    assert(own:dostring("return") == true)
    assert(own:close() == true)
    local ok, err = pcall(own.count, own, "n")
    coroutine.yield(name, "out", n, e, err)
  ]], "own", "t", name))
  local got = receive(name, 1)[1]
  H.same({1, 1}, got[1], got[2])
  assert(got[3]:find("closed object", 1, true), got[3])
  pool:close()  -- the task's close did not close it
end)

H.case("the bare channel protocol reports misuse as a failure", function ()
  local name = newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    local name = ...
    local r1 = {coroutine.yield(name, "sideways")}
    local r2 = {coroutine.yield(name, "out", {})}
    local r3 = {coroutine.yield(name, 5)}
    coroutine.yield(name, "out", r1[1], r1[2], r2[1], r2[2], r3[1], r3[2])
  ]], "misuse", "t", name))
  local got = receive(name, 1)[1]
  H.same({false, "bad argument #2 (invalid option 'sideways')",
          false, "unable to transfer argument #3 (got table)",
          false, "bad argument #2 (invalid option '5')"},
         table.unpack(got, 1, 6))
  pool:close()
end)

H.case("a task waits on a channel with any endpoint", function ()
  local name = newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    local name = ...
    local ok, v = coroutine.yield(name)
    coroutine.yield(name, "any", v * 2)
  ]], "any", "t", name))
  local ch = channel.create(name)
  guarded(function ()
    H.same({true}, system.awaitch(ch, "out", 21))
    H.same({true, 42}, system.awaitch(ch, "in"))
  end)
  ch:close()
  pool:close()
end)

H.case("system.run in a task with only awaitch pending frees the thread",
function ()
  local name = newname()
  local report = newname()
  local pool = threads.create(1)  -- one thread for both tasks
  assert(pool:dostring(prologue .. [[
    local system = require "coutil.system"
    local channel = require "coutil.channel"
    local name, report = ...
    local results = {}
    for i = 1, 3 do
      local ch = channel.create(name)  -- one object per waiting coroutine
      coroutine.wrap(function ()
        local ok, v = system.awaitch(ch, "in")
        results[#results + 1] = v
      end)()
    end
    system.run()
    local table = require "table"
    table.sort(results)
    coroutine.yield(report, "out", table.concat(results, ","))
  ]], "runner", "t", name, report))
  waitfor(function () return pool:count("s") == 1 end, "the task to park")
  assert(pool:dostring(prologue .. [[
    local name = ...
    for i = 1, 3 do coroutine.yield(name, "out", i) end
  ]], "sender", "t", name))
  H.same({"1,2,3"}, receive(report, 1)[1])
  pool:close()
end)

H.case("system.run in a task still runs other awaits", function ()
  local report = newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    local system = require "coutil.system"
    local report = ...
    local done = 0
    for i = 1, 3 do
      coroutine.wrap(function ()
        system.suspend(0.01 * i)
        done = done + 1
      end)()
    end
    assert(system.run() == false)
    coroutine.yield(report, "out", done)
  ]], "timers", "t", report))
  H.same({3}, receive(report, 1)[1])
  pool:close()
end)

-- The emit in progress is recorded per system thread (src/event.c): two
-- tasks handing off on their own threads at once must each see only
-- their own emits, nested ones, mutexes and promises included.
H.case("event hand-offs in tasks on two threads at once", function ()
  local report = newname()
  local pool = threads.create(2)
  local chunk = prologue .. [[
    local event = require "coutil.event"
    local mutex = require "coutil.mutex"
    local promise = require "coutil.promise"
    local report, n = ...
    local e, inner, lock = {}, {}, {}
    local got, sum, nested, locked = 0, 0, 0, 0
    coroutine.wrap(function ()
      while true do
        local _, v = event.await(e)
        got, sum = got + 1, sum + v
        if v % 100 == 0 then event.emitone(inner, v) end
      end
    end)()
    coroutine.wrap(function ()
      while true do
        local _, v = event.await(inner)
        nested = nested + v
      end
    end)()
    for i = 1, n do assert(event.emitone(e, i)) end
    local holder = coroutine.wrap(function ()
      mutex.lock(lock)
      event.await(lock)  -- until told to unlock
      mutex.unlock(lock)
    end)
    holder()
    coroutine.wrap(function ()
      mutex.lock(lock)  -- waits for the holder: an emit resumes it
      locked = locked + 1
      mutex.unlock(lock)
    end)()
    event.emitone(lock)
    local p, fulfill = promise.create()
    local value
    coroutine.wrap(function () value = p() end)()
    fulfill(n)
    coroutine.yield(report, "out", got, sum, nested, locked, value)
  ]]
  local n = 20000
  for _ = 1, 2 do assert(pool:dostring(chunk, "handoff", "t", report, n)) end
  local sum, nested = n * (n + 1) // 2, 0
  for v = 100, n, 100 do nested = nested + v end
  for _, got in ipairs(receive(report, 2, 60)) do
    H.same({n, sum, nested, 1, n}, got[1], got[2], got[3], got[4], got[5])
  end
  pool:close()
end)

-- A task ends when its state is closed: lua_close waits for the pools the
-- task made and did not close, and the task counts as running meanwhile
-- (the suite's "nested pool"). It used to be counted out before.
H.case("a task closing its own pool counts as running until closed", function ()
  local name = newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    local threads = require "coutil.threads"
    local inner = threads.create(1)
    assert(inner:dostring("local coroutine = require 'coroutine' \z
                           coroutine.yield(...)", "inner", "t", ...))
    -- returns with 'inner' open: its lua_close waits for the inner task
  ]], "outer", "t", name))
  waitfor(function () return channel.getnames()[name] end,
          "the inner task to wait")
  system.suspend(0.05, "~")  -- the outer chunk has long returned
  H.same({1, 1, 0}, pool:count("nrp"))
  local ch = channel.create(name)
  assert(ch:sync("in"))
  ch:close()
  waitfor(function () return pool:count("n") == 0 end, "the outer task")
  H.same({0, 0}, pool:count("nr"))
  pool:close()
end)

H.case("a task's awaitch can be halted", function ()
  local name, report = newname(), newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    local system = require "coutil.system"
    local channel = require "coutil.channel"
    local name, report = ...
    local ch = channel.create(name)
    local waiter = coroutine.create(system.awaitch)
    coroutine.resume(waiter, ch, "in")
    coroutine.wrap(function ()
      system.suspend(0.01)
      system.halt()
    end)()
    local pending = system.run()
    coroutine.resume(waiter, "stop")  -- ends the awaitch
    coroutine.yield(report, "out", pending, system.run("ready"))
  ]], "halt", "t", name, report))
  local got = receive(report, 1)[1]
  H.same({true, false}, got[1], got[2])
  pool:close()
end)

H.case("resize while tasks run", function ()
  local name = newname()
  local pool = threads.create(1)
  local ntasks = 20
  for i = 1, ntasks do
    assert(pool:dostring(prologue .. [[
      local name, i = ...
      require "coutil.system".suspend(0.005, "~")
      coroutine.yield(name, "out", i)
    ]], "task", "t", name, i))
  end
  H.same({true}, pool:resize(4, true))
  H.same({4, 4}, pool:count("ea"))
  local got = receive(name, ntasks // 2)
  H.same({true}, pool:resize(1))
  for _, i in ipairs(receive(name, ntasks - ntasks // 2)) do
    got[#got + 1] = i
  end
  table.sort(got)
  for i = 1, ntasks do assert(got[i] == i) end
  waitfor(function () return pool:count("a") == 1 end, "threads to leave")
  pool:close()
end)

H.case("close waits for the tasks to end", function ()
  local path = os.tmpname()
  local pool = threads.create(2)
  for i = 1, 4 do
    assert(pool:dostring(prologue .. [[
      local path, i = ...
      require "coutil.system".suspend(0.02, "~")
      local f = require "io".open(path .. i, "w")
      f:write("done")
      f:close()
    ]], "slow", "t", path, i))
  end
  H.same({true}, pool:close())
  for i = 1, 4 do
    local f = assert(io.open(path .. i))
    H.same({"done"}, f:read("a"))
    f:close()
    os.remove(path .. i)
  end
  os.remove(path)
end)

H.case("close waits for tasks suspended on channels while threads exist",
function ()
  local name = newname()
  local waiting = threads.create(1)
  local sender = threads.create(1)
  local path = os.tmpname()
  for i = 1, 3 do
    assert(waiting:dostring(prologue .. [[
      local name, path, i = ...
      local ok, v = coroutine.yield(name, "in")
      local f = require "io".open(path .. i, "w")
      f:write(v)
      f:close()
    ]], "waiting", "t", name, path, i))
  end
  waitfor(function () return waiting:count("s") == 3 end, "suspensions")
  assert(sender:dostring(prologue .. [[
    local name = ...
    require "coutil.system".suspend(0.02, "~")
    for i = 1, 3 do coroutine.yield(name, "out", "v" .. i) end
  ]], "sender", "t", name))
  H.same({true}, waiting:close())
  local seen = {}
  for i = 1, 3 do
    local f = assert(io.open(path .. i))
    seen[f:read("a")] = true
    f:close()
    os.remove(path .. i)
  end
  assert(seen.v1 and seen.v2 and seen.v3)
  sender:close()
  os.remove(path)
end)

H.case("close keeps tasks suspended on channels once no thread is left",
function ()
  local name = newname()
  local pool = threads.create(1)
  for _ = 1, 3 do
    assert(pool:dostring(prologue .. [[
      coroutine.yield(..., "in")
      error("never resumed")
    ]], "waiting", "t", name))
  end
  waitfor(function () return pool:count("s") == 3 end, "suspensions")
  assert(channel.getnames()[name] == true)
  H.same({true}, pool:resize(0))
  waitfor(function () return pool:count("a") == 0 end, "threads to leave")
  H.same({true}, pool:close())
  -- still queued: each later sync matches one, which is then closed
  assert(channel.getnames()[name] == true)
  local ch = channel.create(name)
  for _ = 1, 3 do H.same({true}, ch:sync("out")) end
  H.same({false, "empty"}, ch:sync("out"))
  ch:close()
  assert(channel.getnames()[name] == nil)
end)

H.case("close discards tasks parked in system.run", function ()
  local name = newname()
  local pool = threads.create(1)
  assert(pool:dostring(prologue .. [[
    local system = require "coutil.system"
    local ch = require "coutil.channel".create(...)
    coroutine.wrap(system.awaitch)(ch, "in")
    system.run()
  ]], "parked", "t", name))
  waitfor(function () return pool:count("s") == 1 end, "the task to park")
  pool:resize(0)
  waitfor(function () return pool:count("a") == 0 end, "threads to leave")
  H.same({true}, pool:close())
  assert(channel.getnames()[name] == nil)
end)

H.case("a pool collected without close keeps running its tasks", function ()
  local name = newname()
  local pool = threads.create(1)
  H.track(pool)
  assert(pool:dostring(prologue .. [[
    require "coutil.system".suspend(0.01, "~")
    coroutine.yield(..., "out", "still here")
  ]], "orphan", "t", name))
  pool = nil
  collectgarbage()
  collectgarbage()
  H.same({"still here"}, receive(name, 1)[1])
end)

childcase("task errors become warnings of the task's state", function ()
  local ok, out = H.runlua[[
    local threads = require "coutil.threads"
    local pool = threads.create(1)
    assert(pool:dostring([=[
      require "_G"
      warn("@on")
      error("task failed")
    ]=]))
    assert(pool:dostring("error('quiet')"))
    pool:close()
    print("closed")
  ]]
  assert(ok, out)
  assert(out:find("task failed", 1, true), out)
  assert(out:find("Lua warning: ", 1, true), out)
  assert(not out:find("quiet", 1, true), out)
  assert(out:find("closed", 1, true), out)
end)

childcase("lua_close waits for pools that were not closed", function ()
  local ok, out = H.runlua[[
    local threads = require "coutil.threads"
    local kept = threads.create(1)
    local dropped = threads.create(1)
    local chunk = [=[
      require "coutil.system".suspend(0.05, "~")
      require "io".write(..., "\n")
    ]=]
    assert(kept:dostring(chunk, "k", "t", "kept done"))
    assert(dropped:dostring(chunk, "d", "t", "dropped done"))
    dropped = nil
    collectgarbage()
    print("main done")
  ]]
  assert(ok, out)
  local m = out:find("main done", 1, true)
  assert(m and out:find("kept done", m, true), out)
  assert(out:find("dropped done", m, true), out)
end)

-- At lua_close, the pools left open are shut by a finalizer of coutil's;
-- a finalizer that runs after it (an object made before the module was
-- loaded) used to reach the freed pool through its object.
childcase("a pool shut at lua_close is closed for later finalizers", function ()
  local ok, out = H.runlua[[
    local keep = setmetatable({}, {__gc = function (o)
      print("count", pcall(o.pool.count, o.pool, "n"))
      print("close", o.pool:close())
    end})
    local threads = require "coutil.threads"  -- its finalizer runs first
    keep.pool = threads.create(1)
    assert(keep.pool:dostring("return"))
  ]]
  assert(ok, out)
  assert(out:find("count\tfalse\t[^\n]*closed object"), out)
  assert(out:find("close\tfalse", 1), out)
end)

childcase("lua_close ends once a pool has no threads", function ()
  local ok, out = H.runlua[[
    local threads = require "coutil.threads"
    local pool = threads.create(1)
    assert(pool:dostring("coroutine.yield('test/threads/stuck', 'in')"))
    assert(pool:dostring("require 'coroutine'.yield('test/threads/stuck')"))
    for _ = 1, 1000 do
      if pool:count("s") == 1 then break end
      require "coutil.system".suspend(0.005, "~")
    end
    pool:resize(0)
    print("main done")
  ]]
  assert(ok, out)
  assert(out:find("main done", 1, true), out)
end)

childcase("a task's own pools keep its state open until they end",
function ()
  local ok, out = H.runlua[==[
    local threads = require "coutil.threads"
    local pool = threads.create(1)
    assert(pool:dostring([=[
      local inner = require "coutil.threads".create(1)
      inner:dostring([[
        require "coutil.system".suspend(0.05, "~")
        require "io".write("inner done\n")
      ]])
    ]=]))
    pool:close()
    print("outer closed")
  ]==]
  assert(ok, out)
  local i = out:find("inner done", 1, true)
  assert(i and out:find("outer closed", i, true), out)
end)

H.done()
