-- test/environ.lua: system.getpriority, setpriority, getdir, setdir,
-- getenv, setenv, packenv and unpackenv (manual, "System Processes").
-- Results are checked against what does not go through libuv: os.getenv,
-- a shell's pwd, a child interpreter. The process's own priority is
-- restored after each case that changes it; unprivileged failures are
-- seen from a child run as user nobody.

local H = require "helpers"
local system = require "coutil.system"

local ESRCH, ENOENT, EINVAL, ENOTDIR, EPERM, EACCES = 3, 2, 22, 20, 1, 13

-- The manual's priority names and the numbers they stand for.
local PRIORITIES = {
  highest = -20, high = -14, above = -7, normal = 0, below = 10, low = 19,
}

local function isroot ()
  local p = assert(io.popen("id -u"))
  local uid = p:read("l")
  p:close()
  return uid == "0"
end

local sh = H.sh

-- Runs 'fn' and puts our priority back afterwards, even when it fails.
local function keeppriority (fn)
  local _, saved = assert(system.getpriority(0))
  local ok, err = pcall(fn)
  assert(system.setpriority(0, saved))
  if not ok then error(err, 0) end
end

-- --- priority --------------------------------------------------------------

H.case("getpriority of our process: a name and its number", function ()
  local name, value = system.getpriority(0)
  assert(math.type(value) == "integer" and value >= -20 and value <= 19)
  assert(name == "other" or PRIORITIES[name] == value, name)
  for n, v in pairs(PRIORITIES) do
    if v == value then assert(name == n, "expected " .. n) end
  end
  H.same({name, value}, system.getpriority(system.procinfo("#")))
end)

if isroot() then
  H.case("setpriority by name, read back by name and number", function ()
    keeppriority(function ()
      for name, value in pairs(PRIORITIES) do
        H.same({true}, system.setpriority(0, name))
        H.same({name, value}, system.getpriority(0))
      end
    end)
  end)

  H.case("setpriority by number: names or 'other' in between", function ()
    keeppriority(function ()
      for value = -20, 19 do
        local expected = "other"
        for n, v in pairs(PRIORITIES) do
          if v == value then expected = n end
        end
        H.same({true}, system.setpriority(0, value))
        H.same({expected, value}, system.getpriority(0))
      end
    end)
  end)
else
  H.skip("setpriority round trips", "raising a priority needs root")
end

H.case("setpriority: numbers out of range and bad names raise", function ()
  for _, v in ipairs{-21, 20, math.maxinteger, math.mininteger} do
    H.badarg(2, "out of range", system.setpriority, 0, v)
  end
  for _, v in ipairs{"other", "Normal", "", "5"} do
    H.badarg(2, "invalid option", system.setpriority, 0, v)
  end
  H.badarg(2, "number has no integer representation",
           system.setpriority, 0, 1.5)
  H.badarg(2, "string expected", system.setpriority, 0, nil)
  H.badarg(2, "string expected", system.setpriority, 0, {})
  H.badarg(1, "number expected", system.setpriority, "me", 0)
  H.badarg(1, "out of range", system.setpriority, 1 << 40, 0)
  H.badarg(1, "number expected", system.getpriority)
  H.badarg(1, "out of range", system.getpriority, -(1 << 40))
end)

H.case("a process that does not exist: ESRCH", function ()
  local pid = 1 << 30  -- above Linux's largest pid (2^22)
  H.same({false, "no such process", ESRCH}, system.getpriority(pid))
  H.same({false, "no such process", ESRCH}, system.setpriority(pid, 0))
end)

-- Runs Lua code as user nobody, with our module paths; returns what
-- H.runlua returns. The script file must be readable by nobody.
local function runasnobody (code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  assert(os.execute("chmod 644 " .. path))
  local p = assert(io.popen(string.format("runuser -u nobody -- %s %s %s 2>&1",
    H.childenv(), os.getenv("COUTIL_LUA") or "lua5.4", path)))
  local out = p:read("a")
  local ok = p:close()
  os.remove(path)
  return ok == true, out
end

if isroot() and sh("command -v runuser") then
  H.case("unprivileged: raising our priority or changing root's", function ()
    local ok, out = runasnobody(string.format([[
      local system = require "coutil.system"
      local function check (errno, ...)
        local ok, msg, code = ...
        assert(ok == false and type(msg) == "string" and code == errno,
               tostring(msg) .. " " .. tostring(code))
      end
      assert(system.setpriority(0, "low") == true)
      assert(system.getpriority(0) == "low")
      check(%d, system.setpriority(0, "below"))
      check(%d, system.setpriority(0, -20))
      check(%d, system.setpriority(1, "low"))  -- pid 1 belongs to root
      print("unprivileged ok")
    ]], EACCES, EACCES, EPERM))
    assert(ok and out:find("unprivileged ok", 1, true), out)
  end)
else
  H.skip("unprivileged priorities", "needs root and runuser")
end

-- --- working directory -----------------------------------------------------

-- A new empty directory (its real path: /tmp may be a link) and a
-- function that removes it with what it holds.
local function tempdir ()
  local path = os.tmpname()
  assert(os.remove(path))
  assert(os.execute("mkdir " .. path))
  local real = sh("cd " .. path .. " && pwd -P")
  return real, function () os.execute("rm -rf " .. path) end
end

-- Runs fn(dir) in a fresh directory and goes back where we were.
local function indir (fn)
  local saved = assert(system.getdir())
  local dir, remove = tempdir()
  local ok, err = pcall(fn, dir)
  assert(system.setdir(saved))
  remove()
  if not ok then error(err, 0) end
end

H.case("getdir and setdir: a round trip the shell sees", function ()
  local start = system.getdir()
  assert(start == sh("pwd -P"))
  indir(function (dir)
    H.same({true}, system.setdir(dir))
    H.same({dir}, system.getdir())
    assert(sh("pwd -P") == dir, "a child shell starts elsewhere")
    assert(io.open("made-here", "w")):close()
    assert(io.open(dir .. "/made-here")):close()
  end)
  assert(system.getdir() == start)
end)

H.case("getdir of a path longer than the first buffer", function ()
  indir(function (dir)
    local long = dir .. "/" .. string.rep("d", 200) .. "/" ..
                 string.rep("e", 200)
    assert(os.execute("mkdir -p " .. long))
    H.same({true}, system.setdir(long))
    H.same({long}, system.getdir())
  end)
end)

H.case("setdir failures and bad arguments", function ()
  local start = system.getdir()
  indir(function (dir)
    H.same({false, "no such file or directory", ENOENT},
           system.setdir(dir .. "/missing"))
    assert(io.open(dir .. "/file", "w")):close()
    H.same({false, "not a directory", ENOTDIR}, system.setdir(dir .. "/file"))
  end)
  indir(function (dir)
    local gone = dir .. "/gone"
    assert(os.execute("mkdir " .. gone))
    assert(system.setdir(gone))
    assert(os.execute("rmdir " .. gone))
    H.same({false, "no such file or directory", ENOENT}, system.getdir())
  end)
  H.badarg(1, "string expected", system.setdir)
  H.badarg(1, "string expected", system.setdir, {})
  assert(system.getdir() == start)
end)

-- --- variables --------------------------------------------------------------

local VAR = "COUTIL_ENVIRON_TEST"

H.case("getenv: all variables, as os.getenv sees them", function ()
  local all = system.getenv()
  assert(type(all) == "table" and next(all) ~= nil)
  for name, value in pairs(all) do
    assert(type(name) == "string" and type(value) == "string")
    assert(os.getenv(name) == value, name)
  end
  assert(all.PATH == os.getenv("PATH"))
  local again = system.getenv(nil)
  for name, value in pairs(all) do assert(again[name] == value) end
end)

H.case("getenv(table) fills and returns that table", function ()
  assert(system.setenv(VAR, "fresh"))
  local t = {1, "two", keep = "kept", [VAR] = "stale"}
  assert(rawequal(system.getenv(t), t))
  H.same({1, "two", "kept", "fresh"}, t[1], t[2], t.keep, t[VAR])
  assert(t.PATH == os.getenv("PATH"))
  assert(system.setenv(VAR, nil))
end)

H.case("getenv(name): its value, or ENOENT when undefined", function ()
  H.same({os.getenv("PATH")}, system.getenv("PATH"))
  assert(system.setenv(VAR, nil))
  H.same({false, "no such file or directory", ENOENT}, system.getenv(VAR))
  H.same({false, "no such file or directory", ENOENT}, system.getenv(""))
  H.same({false, "no such file or directory", ENOENT}, system.getenv(12345))
  H.badarg(1, "string expected", system.getenv, true)
  H.badarg(1, "string expected", system.getenv, print)
end)

H.case("setenv sets, overwrites and deletes", function ()
  H.same({true}, system.setenv(VAR, "one"))
  assert(os.getenv(VAR) == "one")
  H.same({"one"}, system.getenv(VAR))
  H.same({true}, system.setenv(VAR, "a=b=c"))
  assert(os.getenv(VAR) == "a=b=c")
  H.same({"b=c"}, system.getenv(VAR .. "=a"))  -- as getenv(3) reads it
  H.same({true}, system.setenv(VAR, ""))
  H.same({""}, system.getenv(VAR))
  H.same({true}, system.setenv(VAR, 42))  -- numbers are strings here
  H.same({"42"}, system.getenv(VAR))
  H.same({true}, system.setenv(VAR, nil))
  assert(os.getenv(VAR) == nil)
  H.same({true}, system.setenv(VAR))  -- deleting twice is no failure
  H.same({false, "no such file or directory", ENOENT}, system.getenv(VAR))
end)

H.case("setenv: a value longer than the first buffer", function ()
  local long = string.rep("0123456789", 500)
  assert(system.setenv(VAR, long))
  H.same({long}, system.getenv(VAR))
  assert(os.getenv(VAR) == long)
  assert(system.setenv(VAR, nil))
end)

H.case("setenv changes what a child process inherits", function ()
  assert(system.setenv(VAR, "inherited value"))
  local ok, out = H.runlua(string.format("io.write(os.getenv(%q))", VAR))
  assert(ok and out == "inherited value", out)
  assert(system.setenv(VAR, nil))
  ok, out = H.runlua(string.format("io.write(tostring(os.getenv(%q)))", VAR))
  assert(ok and out == "nil", out)
end)

H.case("setenv: names the system refuses, bad arguments", function ()
  H.same({false, "invalid argument", EINVAL}, system.setenv(VAR .. "=x", "y"))
  H.same({false, "invalid argument", EINVAL}, system.setenv("", "y"))
  H.same({false, "invalid argument", EINVAL}, system.setenv(VAR .. "=x"))
  assert(os.getenv(VAR) == nil)
  H.badarg(1, "string expected", system.setenv)
  H.badarg(1, "string expected", system.setenv, false, "y")
  H.badarg(2, "string expected", system.setenv, VAR, {})
  H.badarg(2, "string expected", system.setenv, VAR, true)
  assert(os.getenv(VAR) == nil)
end)

-- --- packed environments ----------------------------------------------------

H.case("packenv: indexing finds values, nil for the rest", function ()
  local env = H.track(system.packenv{
    ONE = "1", EQUALS = "x=y=z", EMPTY = "", LONG = string.rep("v", 1000),
  })
  assert(type(env) == "userdata" and #env == 4)
  H.same({"1", "x=y=z", "", string.rep("v", 1000)},
         env.ONE, env.EQUALS, env.EMPTY, env.LONG)
  H.same({n = 6}, env.TWO, env.ON, env.ONEX,
         env["ONE=1"], env[1], env[true])
  assert(env["EQUALS=x"] == "y=z", "a name with '=' reads like getenv(3)")
  assert(env["ONE\0"] == nil)
  assert(tostring(env):find("coutil.packenv", 1, true))
end)

H.case("unpackenv: a new table, or the given one", function ()
  local vars = {A = "a", B = "b=c", C = ""}
  local env = H.track(system.packenv(vars))
  local t = system.unpackenv(env)
  local n = 0
  for name, value in pairs(t) do
    assert(vars[name] == value, name)
    n = n + 1
  end
  assert(n == 3)
  local mine = {1, A = "old", other = "kept"}
  assert(rawequal(system.unpackenv(env, mine), mine))
  H.same({1, "a", "b=c", "", "kept"}, mine[1], mine.A, mine.B, mine.C,
         mine.other)
  assert(next(system.unpackenv(env, nil)) ~= nil)
end)

H.case("packenv of an empty table", function ()
  local env = H.track(system.packenv{})
  assert(#env == 0 and env.PATH == nil)
  assert(next(system.unpackenv(env)) == nil)
end)

H.case("packenv takes names and values as C strings", function ()
  local env = H.track(system.packenv{["NAME\0tail"] = "value\0tail"})
  assert(#env == 1)
  H.same({"value"}, env.NAME)
  local t = system.unpackenv(env)
  assert(t.NAME == "value" and t["NAME\0tail"] == nil)
end)

H.case("packenv: bad names, values and arguments raise", function ()
  H.raises("bad name '=X' in environment (cannot contain '=')",
           system.packenv, {["=X"] = "v"})
  H.raises("bad name 'A=B' in environment (cannot contain '=')",
           system.packenv, {["A=B"] = "v"})
  H.raises("bad name in environment (string expected, got number)",
           system.packenv, {"v"})
  H.raises("bad name in environment (string expected, got boolean)",
           system.packenv, {[true] = "v"})
  H.raises("bad value of 'A' in environment (string expected, got number)",
           system.packenv, {A = 1})
  H.raises("bad value of 'A' in environment (string expected, got table)",
           system.packenv, {A = {}})
  H.badarg(1, "table expected", system.packenv)
  H.badarg(1, "table expected", system.packenv, "A=B")
  H.badarg(1, "packed environment expected", system.unpackenv, {})
  H.badarg(1, "packed environment expected", system.unpackenv)
  H.badarg(2, "table expected", system.unpackenv, system.packenv{}, "t")
end)

H.case("packed environments are collected", function ()
  for _ = 1, 100 do
    H.track(system.packenv{A = string.rep("a", 100), B = "b"})
  end
end)

H.done()
