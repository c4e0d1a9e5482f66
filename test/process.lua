-- test/process.lua: system.execute (manual "System Processes"): the
-- call and table forms, arguments, run path, environments, standard
-- streams (inherited, files, sockets, /dev/null, created pipes), results
-- of exits and signals, failures, cancellation, and what is left behind:
-- after every case no zombie child and no descriptor beyond the baseline.

local H = require "helpers"
local system = require "coutil.system"
local T = dofile("test/socket/common.lua")
local memory = T.memory

local mypid = system.procinfo("#")

-- Zombie children of this process, from /proc (no child of ours is ever
-- left <defunct>).
local function zombies ()
  local n = 0
  local p = io.popen("cat /proc/[0-9]*/stat 2>/dev/null")
  for line in p:lines() do
    local state, ppid = line:match("%) (%a) (%d+)")
    if state == "Z" and tonumber(ppid) == mypid then n = n + 1 end
  end
  p:close()
  return n
end

local fds = H.fds

-- The baseline is taken after a first child with a pipe: libuv makes its
-- per-loop signal pipe (for SIGCHLD) and the spare descriptor it keeps
-- for streams (to handle EMFILE on accept) then, once.
local baseline
if T.subprocesses then
  T.run(function ()
    local cmd = {execfile = "true", stdout = "r"}
    assert(system.execute(cmd))
    cmd.stdout:close()
  end)
  baseline = fds()
end

-- Every case: the loop drained, then no zombie and the same descriptors.
local function case (name, f)
  T.childcase(name, function ()
    f()
    H.drain()
    collectgarbage()
    H.drain()
    assert(zombies() == 0, "a zombie child is left")
    local now = fds()
    assert(now == baseline, ("descriptors: %s, were %s"):format(now, baseline))
  end)
end

local function run (f) return T.run(f, 30) end

-- Reads everything from stream socket 's' until the end of file.
local function readall (s)
  local buf = memory.create(65536)
  local parts = {}
  while true do
    local n, err = s:read(buf)
    if not n then
      assert(err == "end of file", err)
      break
    end
    parts[#parts + 1] = memory.tostring(buf, 1, n)
  end
  return table.concat(parts)
end

local sh = "/bin/sh"

-- --- results -----------------------------------------------------------

case("execute: exit statuses", function ()
  run(function ()
    for _, code in ipairs{0, 1, 7, 127, 255} do
      H.same({"exit", code}, system.execute(sh, "-c", "exit " .. code))
      H.same({"exit", code},
             system.execute{execfile = sh, arguments = {"-c", "exit " .. code}})
    end
  end)
end)

case("execute: children killed by signals", function ()
  run(function ()
    H.same({"terminate", 15}, system.execute(sh, "-c", "kill -TERM $$"))
    H.same({"TERMINATE", 9}, system.execute(sh, "-c", "kill -KILL $$"))
    H.same({"userdef1", 10}, system.execute(sh, "-c", "kill -USR1 $$"))
    -- a signal the manual names nothing for
    local name, num = system.execute(sh, "-c", "kill -RTMIN $$")
    assert(name == "signal" and math.type(num) == "integer" and num > 31)
  end)
end)

case("execute: the pid is set before the coroutine waits", function ()
  run(function ()
    local cmd = {execfile = "sleep", arguments = {"10"}}
    local res = T.spawn(system.execute, cmd)
    assert(math.type(cmd.pid) == "integer" and cmd.pid > 0)
    assert(system.emitsig(cmd.pid, "terminate"))
    H.same({"terminate", 15}, T.join(res))
  end)
end)

-- --- arguments ---------------------------------------------------------

case("execute: arguments, argv[0] and the search path", function ()
  run(function ()
    -- "$0" is argv[0]: the executable as given; the rest are arguments
    local cmd = {execfile = sh, stdout = "r",
                 arguments = {"-c", 'printf "%s|" "$0" "$@"', "a b", "", "c"}}
    local res = T.spawn(system.execute, cmd)
    assert(readall(cmd.stdout) == "a b||c|")
    H.same({"exit", 0}, T.join(res))
    cmd.stdout:close()
    -- no arguments: the program gets only argv[0]
    cmd = {execfile = "/usr/bin/printf", stdout = "r", arguments = {"%s"}}
    res = T.spawn(system.execute, cmd)
    assert(readall(cmd.stdout) == "")
    H.same({"exit", 0}, T.join(res))
    cmd.stdout:close()
    -- a name without a slash is searched in PATH; "\0" ends an argument
    cmd = {execfile = "printf", stdout = "r", arguments = {"x\0y"}}
    res = T.spawn(system.execute, cmd)
    assert(readall(cmd.stdout) == "x")
    H.same({"exit", 0}, T.join(res))
    cmd.stdout:close()
    -- numbers in the call form are strings, as Lua converts them
    H.same({"exit", 3}, system.execute(sh, "-c", "exit $0", 3))
  end)
end)

case("execute: argument errors", function ()
  H.raises("unable to yield", system.execute, sh)
  H.raises("unable to yield", system.execute)
  run(function ()
    H.badarg(1, "string expected, got no value", system.execute)
    H.badarg(1, "string expected, got function", system.execute, print)
    H.badarg(2, "string expected, got table", system.execute, sh, {})
    H.badarg(1, "bad field 'execfile' (string expected)", system.execute, {})
    H.badarg(1, "bad field 'arguments' (table expected)", system.execute,
             {execfile = sh, arguments = "x"})
    H.badarg(1, "string expected at index 2, got number", system.execute,
             {execfile = sh, arguments = {"-c", 1}})
    H.badarg(1, "bad field 'runpath' (string expected)", system.execute,
             {execfile = sh, runpath = 1})
    H.badarg(1, "bad field 'stdout' (unknown mode char (got 'x'))",
             system.execute, {execfile = sh, stdout = "rx"})
    H.badarg(1, "bad field 'stdin' (empty mode)", system.execute,
             {execfile = sh, stdin = ""})
    H.badarg(1, "bad field 'stderr' (file, stream socket, false or mode",
             system.execute, {execfile = sh, stderr = true})
    local passive = assert(system.socket("passive", "ipv4"))
    H.badarg(1, "bad field 'stdin' (file, stream socket", system.execute,
             {execfile = sh, stdin = passive})
    passive:close()
    local closed = assert(system.socket("stream", "ipv4"))
    closed:close()
    H.badarg(1, "bad field 'stdout' (closed object)", system.execute,
             {execfile = sh, stdout = closed})
    local f = io.tmpfile()
    f:close()
    H.badarg(1, "bad field 'stderr' (closed file)", system.execute,
             {execfile = sh, stderr = f})
    -- nothing was made: no pipe is stored on a failed call
    local cmd = {execfile = sh, stdin = "w", stdout = "q"}
    assert(not pcall(system.execute, cmd))
    assert(cmd.stdin == "w" and cmd.pid == nil)
  end)
end)

-- --- failures ----------------------------------------------------------

case("execute: failures leave nothing behind", function ()
  run(function ()
    H.same({false, "no such file or directory", 2},
           system.execute("/nonexistent/program"))
    H.same({false, "no such file or directory", 2},
           system.execute("no-such-program-in-path"))
    H.same({false, "permission denied", 13}, system.execute("/etc/passwd"))
    H.same({false, "no such file or directory", 2},
           system.execute{execfile = sh, runpath = "/nonexistent/dir"})
    -- pipes made for a call that fails are closed, and not stored
    local cmd = {execfile = "/nonexistent/program", stdin = "w",
                 stdout = "r", stderr = "rs"}
    H.same({false, "no such file or directory", 2}, system.execute(cmd))
    assert(cmd.stdin == "w" and cmd.stdout == "r" and cmd.stderr == "rs")
    assert(cmd.pid == nil)
  end)
end)

-- --- run path and environment -------------------------------------------

case("execute: run path", function ()
  run(function ()
    local cmd = {execfile = sh, arguments = {"-c", "pwd"}, runpath = "/tmp",
                 stdout = "r"}
    local res = T.spawn(system.execute, cmd)
    assert(readall(cmd.stdout) == "/tmp\n")
    H.same({"exit", 0}, T.join(res))
    cmd.stdout:close()
  end)
end)

-- Runs /usr/bin/env with 'environment'; returns its output, sorted.
local function envof (environment)
  local cmd = {execfile = "/usr/bin/env", environment = environment,
               stdout = "r"}
  local res = T.spawn(system.execute, cmd)
  local out = readall(cmd.stdout)
  H.same({"exit", 0}, T.join(res))
  cmd.stdout:close()
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  table.sort(lines)
  return table.concat(lines, ";")
end

case("execute: environments", function ()
  run(function ()
    -- inherited
    assert(system.setenv("COUTIL_TEST_VAR", "inherited value"))
    assert(envof(nil):find("COUTIL_TEST_VAR=inherited value", 1, true))
    assert(system.setenv("COUTIL_TEST_VAR", nil))
    -- a table: only those variables
    assert(envof{A = "1", B = "x=y"} == "A=1;B=x=y")
    -- a packed environment, used twice
    local packed = system.packenv{ONLY = "this"}
    assert(envof(packed) == "ONLY=this")
    assert(envof(packed) == "ONLY=this")
    -- empty: nothing
    assert(envof{} == "")
  end)
end)

-- --- standard streams --------------------------------------------------

case("execute: standard streams on Lua files", function ()
  run(function ()
    local input = io.tmpfile()
    input:write("file input")
    input:seek("set", 0)
    local output, errors = io.tmpfile(), io.tmpfile()
    output:write("first|")  -- buffered: flushed before the child writes
    H.same({"exit", 0}, system.execute{execfile = sh,
      arguments = {"-c", "cat; echo to-stderr >&2"},
      stdin = input, stdout = output, stderr = errors})
    output:seek("set", 0)
    errors:seek("set", 0)
    assert(output:read("a") == "first|file input")
    assert(errors:read("a") == "to-stderr\n")
    input:close()
    output:close()
    errors:close()
  end)
end)

case("execute: standard streams on /dev/null", function ()
  run(function ()
    H.same({"exit", 0}, system.execute{execfile = sh,
      arguments = {"-c", "test -z \"$(cat)\" && echo lost && echo lost >&2"},
      stdin = false, stdout = false, stderr = false})
  end)
end)

case("execute: created pipes, both ways", function ()
  run(function ()
    local cmd = {execfile = sh, arguments = {"-c", "tr a-z A-Z; echo e >&2"},
                 stdin = "w", stdout = "r", stderr = "r"}
    local res = T.spawn(system.execute, cmd)
    assert(tostring(cmd.stdin):match("^stream socket"))
    assert(cmd.stdin:getdomain() == "local")
    assert(cmd.stdin:write("hello pipes"))
    assert(cmd.stdin:shutdown())
    assert(readall(cmd.stdout) == "HELLO PIPES")
    -- (under the sanitizer preload, tr may abort on a leak report first)
    local errout = readall(cmd.stderr)
    assert(errout:sub(-2) == "e\n", errout)
    H.same({"exit", 0}, T.join(res))
    cmd.stdin:close()
    cmd.stdout:close()
    cmd.stderr:close()
  end)
end)

case("execute: 16 MiB through a pipe", function ()
  run(function ()
    local size = 16 * 1024 * 1024
    local cmd = {execfile = "head", arguments = {"-c", tostring(size),
                 "/dev/zero"}, stdout = "r"}
    local res = T.spawn(system.execute, cmd)
    local buf = memory.create(1 << 20)
    local total, zeros = 0, true
    while true do
      local n = cmd.stdout:read(buf)
      if not n then break end
      total = total + n
      if zeros and memory.tostring(buf, 1, n):find("[^\0]") then zeros = false end
    end
    assert(total == size and zeros)
    H.same({"exit", 0}, T.join(res))
    cmd.stdout:close()
  end)
end)

case("execute: a child that reads all of a pipe we write", function ()
  run(function ()
    local cmd = {execfile = "wc", arguments = {"-c"}, stdin = "w",
                 stdout = "r"}
    local res = T.spawn(system.execute, cmd)
    local chunk = string.rep("z", 65536)
    for _ = 1, 64 do assert(cmd.stdin:write(chunk)) end
    assert(cmd.stdin:shutdown())
    assert(readall(cmd.stdout):match("%d+") == tostring(64 * 65536))
    H.same({"exit", 0}, T.join(res))
    cmd.stdin:close()
    cmd.stdout:close()
  end)
end)

case("execute: a child that closes its output early", function ()
  run(function ()
    local cmd = {execfile = sh, arguments = {"-c", "exec >&-; sleep 0.2"},
                 stdout = "r"}
    local res = T.spawn(system.execute, cmd)
    assert(readall(cmd.stdout) == "")  -- the end comes before the exit
    assert(res.values == nil)
    H.same({"exit", 0}, T.join(res))
    cmd.stdout:close()
  end)
end)

case("execute: writing to a dead child's pipe", function ()
  run(function ()
    local cmd = {execfile = sh, arguments = {"-c", "exit 0"}, stdin = "w"}
    H.same({"exit", 0}, system.execute(cmd))
    -- nobody reads any more: a failure, never SIGPIPE
    local ok, err, code
    for _ = 1, 10 do
      ok, err, code = cmd.stdin:write(string.rep("x", 65536))
      if not ok then break end
    end
    H.same({false, "broken pipe", 32}, ok, err, code)
    cmd.stdin:close()
  end)
end)

case("execute: standard streams on sockets", function ()
  run(function ()
    local passive = assert(system.socket("passive", "ipv4"))
    assert(passive:bind(system.address("ipv4", "127.0.0.1", 0)))
    assert(passive:listen(1))
    local addr = passive:getaddress()
    local client = assert(system.socket("stream", "ipv4"))
    local conn = T.spawn(function () return passive:accept() end)
    assert(client:connect(addr))
    local server = assert(T.join(conn))
    local res = T.spawn(system.execute, {execfile = sh,
      arguments = {"-c", "read line; echo \"got $line\"; echo err >&2"},
      stdin = client, stdout = client, stderr = client})
    assert(server:write("over tcp\n"))
    local buf = memory.create(64)
    local got = ""
    while not got:find("err\n", 1, true) do
      local n = assert(server:read(buf))
      got = got .. memory.tostring(buf, 1, n)
    end
    assert(got == "got over tcp\nerr\n", got)
    H.same({"exit", 0}, T.join(res))
    server:close()
    client:close()
    passive:close()
  end)
end)

case("execute: a share pipe passes sockets along with bytes", function ()
  run(function ()
    -- a plain program reads the bytes; the descriptor that came with them
    -- is closed by its kernel when it ends
    local cmd = {execfile = "cat", stdin = "s", stdout = "r"}
    local res = T.spawn(system.execute, cmd)
    assert(cmd.stdin:getdomain() == "share")
    local passed = assert(system.socket("stream", "ipv4"))
    assert(passed:bind(system.address("ipv4", "127.0.0.1", 0)))  -- a fd
    assert(cmd.stdin:write("take it!", 1, -1, passed))
    assert(cmd.stdin:write(" and this"))
    assert(cmd.stdin:shutdown())
    assert(readall(cmd.stdout) == "take it! and this")
    H.same({"exit", 0}, T.join(res))
    passed:close()
    cmd.stdin:close()
    cmd.stdout:close()
  end)
end)

-- --- cancellation ------------------------------------------------------

case("execute: an early resume leaves the child to be reaped", function ()
  run(function ()
    local cmd = {execfile = "sleep", arguments = {"0.2"}}
    local res, co = T.spawn(system.execute, cmd)
    assert(coroutine.resume(co, "early", 1))
    H.same({"early", 1}, table.unpack(res.values, 1, res.values.n))
    -- the child still runs; the case ends with the loop drained and no
    -- zombie left
  end)
end)

case("execute: coroutine.close of a waiting coroutine", function ()
  run(function ()
    local cmd = {execfile = "sleep", arguments = {"0.2"}}
    local _, co = T.spawn(system.execute, cmd)
    assert(coroutine.close(co))
    -- a second execute in another coroutine works as usual
    H.same({"exit", 0}, system.execute("true"))
  end)
end)

case("execute: GC of a coroutine that awaits execute", function ()
  run(function ()
    local pid
    do
      local cmd = {execfile = "sleep", arguments = {"0.1"}}
      coroutine.wrap(system.execute)(cmd)
      pid = cmd.pid
    end
    collectgarbage()
    collectgarbage()
    assert(math.type(pid) == "integer")
    system.suspend(0.3)  -- the child ends meanwhile and is reaped
  end)
end)

case("execute: many children at once", function ()
  run(function ()
    local results = {}
    for i = 1, 20 do
      results[i] = T.spawn(system.execute, sh, "-c", "exit " .. i)
    end
    for i = 1, 20 do H.same({"exit", i}, T.join(results[i])) end
  end)
end)

H.done()
