-- test/launcher.lua: the coutil command (bin/coutil, built as
-- <build>/bin/coutil): lua5.4's options and 'arg', chunks in a coroutine
-- under system.run, the loop running on after them, errors, warnings,
-- exit statuses, standard input as the program, and the interactive
-- prompt through a pipe and through a real terminal (script(1)).
-- Every child runs under timeout(1).

local H = require "helpers"
local T = dofile("test/socket/common.lua")

-- the command of the build under test: LUA_CPATH is <build>/lib/?.so
local build = (os.getenv("LUA_CPATH") or ""):match("^(.-)/lib/%?%.so$")
local COMMAND = (build or "build") .. "/bin/coutil"
if COMMAND:sub(1, 1) ~= "/" then  -- some cases run in other folders
  COMMAND = assert(H.sh("pwd")) .. "/" .. COMMAND
end
-- bin/coutil starts with '#!/usr/bin/env lua5.4'; another interpreter
-- the suite runs under (COUTIL_LUA) runs it explicitly
local INVOKE = os.getenv("COUTIL_LUA") and
               (os.getenv("COUTIL_LUA") .. " " .. COMMAND) or COMMAND

local function case (name, f) T.childcase(name, f) end

local readfile = H.readfile

local writefile = H.writefile

local temps = {}
local function tempfile (text)
  local path = writefile(os.tmpname(), text or "")
  temps[#temps + 1] = path
  return path
end

local function nosanitizer (text)
  assert(not text:find("Sanitizer", 1, true), text)
  assert(not text:find("runtime error:", 1, true), text)
end

-- Runs the command with arguments 'args' (shell words), within 20 s,
-- through the shell format 'fmt' (%s: the command, with the children's
-- environment and then 'env'); the output of the shell command 'input'
-- feeds its standard input. Returns stdout, stderr and the exit status.
local function run (args, input, fmt, env)
  local errpath = os.tmpname()
  local call = string.format("%s %s timeout -k 2 20 %s %s", H.childenv(),
                             env or "", INVOKE, args or "")
  local cmd = string.format(fmt or "%s", call)
  -- (the command may exit before it reads all: no EPIPE noise)
  if input then cmd = "(" .. input .. ") 2>/dev/null | (" .. cmd .. ")" end
  local p = assert(io.popen("(" .. cmd .. ") 2>" .. errpath))
  local out = p:read("a")
  local _, _, status = p:close()
  local err = readfile(errpath)
  os.remove(errpath)
  assert(status ~= 124 and status ~= 137,
         "timed out: " .. cmd .. "\n" .. out .. err)
  nosanitizer(out .. err)
  return out, err, status
end

-- A shell word for 's'.
local function q (s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- --- chunks, the loop, exit statuses ----------------------------------

case("coutil: -e runs in a coroutine under the loop", function ()
  local out, err, status = run(
    "-e " .. q[[
      local system = require "coutil.system"
      print("yieldable", coroutine.isyieldable())
      print("suspend", system.suspend(0.05), system.isrunning())
      print("timeout", require("coutil.timeout").call(0.05,
                                                     system.suspend, 5))
    ]])
  H.same({0}, status)
  assert(err == "", err)
  assert(out == "yieldable\ttrue\nsuspend\ttrue\ttrue\n" ..
                "timeout\tfalse\ttimeout\t110\n", out)
end)

case("coutil: -e chunks and the script run in order", function ()
  local script = tempfile([[
    local system = require "coutil.system"
    system.suspend(0.01)
    print("script", x, ...)
  ]])
  local out, err, status = run(
    "-e 'x = 1' -e 'print(\"e\", x)' -ex=x+1 " .. script .. " a b")
  H.same({0}, status)
  assert(out == "e\t1\nscript\t2\ta\tb\n", out .. err)
end)

case("coutil: the loop runs on until nothing is left", function ()
  local script = tempfile([[
    local system = require "coutil.system"
    coroutine.wrap(function ()
      system.suspend(0.2)
      print("late")
      coroutine.wrap(function ()
        system.suspend(0.1)
        print("later")
      end)()
    end)()
    -- a server, served after the chunk ends
    local srv = assert(system.socket("passive", "ipv4"))
    assert(srv:bind(system.address("ipv4", "127.0.0.1", 0)))
    assert(srv:listen(1))
    local port = srv:getaddress().port
    coroutine.wrap(function ()
      local conn = assert(srv:accept())
      conn:close()
      srv:close()
      print("served")
    end)()
    coroutine.wrap(function ()
      system.suspend(0.05)
      local cli = assert(system.socket("stream", "ipv4"))
      assert(cli:connect(system.address("ipv4", "127.0.0.1", port)))
      cli:close()
    end)()
    print("top")
  ]])
  local out, err, status = run(script)
  H.same({0}, status)
  assert(out == "top\nserved\nlate\nlater\n", out .. err)
  assert(err == "", err)
end)

case("coutil: os.exit", function ()
  local _, _, status = run("-e 'os.exit(3)'")
  H.same({3}, status)
  _, _, status = run("-e " .. q[[
    local system = require "coutil.system"
    coroutine.wrap(function () system.suspend(0.05) os.exit(4, true) end)()
  ]])
  H.same({4}, status)
  _, _, status = run("-e " .. q[[
    require("coutil.system").suspend(0.01)
    os.exit(false)
  ]])
  H.same({1}, status)
end)

-- --- errors -------------------------------------------------------------

case("coutil: an error in a chunk", function ()
  local out, err, status = run("-e 'error(\"boom\")' -e 'print(\"not run\")'")
  H.same({1}, status)
  assert(out == "", out)
  assert(err:find("^coutil: %(command line%):1: boom\nstack traceback:\n"),
         err)
  assert(err:find("in main chunk", 1, true), err)
  -- the traceback shows the script's frames, not the launcher's
  local script = tempfile("local function f () error('deep') end\n" ..
                          "require('coutil.system').suspend(0.01)\nf()\n")
  out, err, status = run(script)
  H.same({1}, status)
  assert(err:find("^coutil: [^\n]*:1: deep\nstack traceback:\n"), err)
  assert(err:find("in local 'f'", 1, true) or
         err:find("in function 'f'", 1, true), err)
  assert(not err:find("xpcall", 1, true), err)
  -- non-string error values
  out, err, status = run("-e 'error({})'")
  H.same({1}, status)
  assert(err:find("coutil: (error object is a table value)", 1, true), err)
  out, err, status = run("-e " .. q[[
    error(setmetatable({}, {__tostring = function () return "custom" end}))
  ]])
  H.same({1}, status)
  assert(err:find("coutil: custom", 1, true), err)
end)

case("coutil: an error after an await ends the program at once", function ()
  local t0 = os.time()
  local out, err, status = run("-e " .. q[[
    local system = require "coutil.system"
    coroutine.wrap(function () system.suspend(10) print("never") end)()
    system.suspend(0.05)
    error("late boom")
  ]])
  H.same({1}, status)
  assert(os.time() - t0 < 8, "waited for the other coroutine")
  assert(not out:find("never", 1, true), out)
  assert(err:find("coutil: (command line):4: late boom", 1, true), err)
end)

case("coutil: syntax errors and missing scripts", function ()
  local script = tempfile("x = = 1\n")
  local out, err, status = run(script .. " a")
  H.same({1}, status)
  assert(err:find("coutil: " .. script .. ":1:", 1, true), err)
  assert(out == "", out)
  out, err, status = run("-e 'x = = 1'")
  H.same({1}, status)
  assert(err:find("coutil: (command line):1:", 1, true), err)
  out, err, status = run("/nonexistent/coutil/script.lua")
  H.same({1}, status)
  assert(err:find("coutil: cannot open /nonexistent/coutil/script.lua",
                  1, true), err)
  -- a library that is not there
  out, err, status = run("-l no.such.module -e 'print(1)'")
  H.same({1}, status)
  assert(err:find("coutil: ", 1, true) and
         err:find("no.such.module", 1, true), err)
  assert(out == "", out)
end)

case("coutil: errors in other coroutines are warnings", function ()
  local code = q[[
    local system = require "coutil.system"
    coroutine.wrap(function ()
      system.suspend(0.05)
      error("bad thing")
    end)()
    coroutine.wrap(function ()
      system.suspend(0.1)
      print("goes on")
    end)()
  ]]
  for _, flags in ipairs{"", "-W"} do
    local out, err, status = run(flags .. " -e " .. code)
    H.same({0}, status)
    assert(out == "goes on\n", out)
    local at = err:find("Lua warning: coutil: unhandled error in " ..
                        "coroutine: (command line):4: bad thing", 1, true)
    assert(at, err)
    assert(err:find("stack traceback:", at, true), err)
  end
  local out, err, status = run("-W- -e " .. code)
  H.same({0}, status)
  assert(out == "goes on\n", out)
  assert(err == "", err)
  -- warn itself follows -W-
  out, err = run("-W- -e 'warn(\"hidden\")'")
  assert(err == "", err)
  out, err = run("-e 'warn(\"shown\")'")
  assert(err:find("Lua warning: shown", 1, true), err)
end)

case("coutil: pool tasks have warnings on", function ()
  local code = q[[
    local system = require "coutil.system"
    local threads = require "coutil.threads"
    print("env", system.getenv("COUTIL_WARNINGS") or "unset")
    local pool = threads.create(1)
    assert(pool:dostring("local x = nil; x()", "=task"))
    for _ = 1, 200 do
      if pool:count("n") == 0 then break end
      system.suspend(0.01)
    end
    pool:close()
  ]]
  local out, err, status = run("-e " .. code)
  H.same({0}, status)
  assert(out == "env\ton\n", out)
  assert(err:find("Lua warning: [coutil] threads: ", 1, true), err)
  assert(err:find("attempt to call a nil value", 1, true), err)
  out, err, status = run("-W- -e " .. code)
  H.same({0}, status)
  assert(out == "env\tunset\n", out)
  assert(not err:find("threads:", 1, true), err)
end)

case("coutil: unknown options and missing arguments", function ()
  for _, args in ipairs{"-x", "--x", "-ix", "-W+", "-e", "-l", "-e -i",
                        "-x script.lua"} do
    local out, err, status = run(args, "echo 'print(\"ran\")'")
    H.same({1}, status)
    assert(out == "", args .. ": " .. out)
    assert(err:find("^coutil: ") and
           err:find("\nusage: [^\n]*coutil %[options%] %[script %[args%]%]"),
           args .. ": " .. err)
    for _, opt in ipairs{"-e stat", "-i", "-l mod", "-l g=mod", "-v",
                         "-W ", "-W-", "--", "- "} do
      assert(err:find("\n  " .. opt, 1, true), args .. ": " .. err)
    end
  end
  local _, err = run("-e")
  assert(err:find("'-e' needs argument", 1, true), err)
  _, err = run("-x")
  assert(err:find("unrecognized option '-x'", 1, true), err)
end)

case("coutil: -v", function ()
  local out, err, status = run("-v", "echo 'print(\"ran\")'")
  H.same({0}, status)
  assert(out:find("^coutil [^\n]*Lua 5%.4[^\n]*\n$"), out .. err)
  out = run("-v -e 'print(\"e\")'")
  assert(out:find("^coutil [^\n]*\ne\n$"), out)
end)

case("coutil: -l mod and -l g=mod", function ()
  local out, err, status = run(
    "-l s=coutil.system -l coutil.event -l string -e " .. q[[
      print(type(s.suspend), type(_G["coutil.event"].await),
            string == require "string")
      print(s.suspend(0.01))
    ]])
  H.same({0}, status)
  assert(out == "function\tfunction\ttrue\ntrue\n", out .. err)
end)

-- --- arg, compared with what lua5.4 gives --------------------------------

local ARGPROBE = [[
  local t = {}
  for i = -9, 9 do
    if arg[i] ~= nil then t[#t + 1] = i .. "=" .. arg[i] end
  end
  local v = table.pack(...)
  for i = 1, v.n do v[i] = tostring(v[i]) end
  print("ARG " .. table.concat(t, " ") .. " | " .. table.concat(v, " "))
]]

-- The ARG lines of a run, with the program's own name as PROG.
local function arglines (text, progname)
  local lines = {}
  for line in text:gmatch("[^\n]+") do
    if line:find("ARG ", 1, true) then
      local i = line:find("ARG ", 1, true)
      line = line:sub(i)
      local s, e = line:find(progname, 1, true)
      while s do
        line = line:sub(1, s - 1) .. "PROG" .. line:sub(e + 1)
        s, e = line:find(progname, 1, true)
      end
      lines[#lines + 1] = line
    end
  end
  return table.concat(lines, "\n")
end

case("coutil: arg is what lua5.4 gives", function ()
  local script = tempfile(ARGPROBE)
  local probe = q(ARGPROBE)
  local input = "cat " .. script
  for _, args in ipairs{
    script,
    script .. " a b c",
    script .. " -e x -W",
    "-e x=1 " .. script .. " a",
    "-ex=1 -W " .. script,
    "-W -- " .. script .. " -x --",
    "-l string " .. script .. " q",
    "-",
    "- a b",
    "-e x=1 - a",
    "-e " .. probe,
    "-e " .. probe .. " -e x=1",
    "-W -e " .. probe,
    "-i " .. script .. " q",
  } do
    -- the prompt after -i gets no lines
    local feed = args:find("^%-i ") and "true" or input
    local got, err = run(args, feed)
    local lp = assert(io.popen("(" .. feed .. ") 2>/dev/null | lua5.4 " ..
                               args .. " 2>&1"))
    local want = lp:read("a")
    lp:close()
    want = arglines(want, "lua5.4")
    got = arglines(got, COMMAND)
    assert(want ~= "", args)
    assert(got == want, "for '" .. args .. "':\ncoutil: " .. got ..
                        "\nlua5.4: " .. want .. "\n" .. err)
  end
  -- after --, '-' is a script file named '-' (lua.c's handle_script)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  writefile(dir .. "/-", ARGPROBE)
  local want = H.sh("echo 'print(\"ARG stdin\")' | (cd " .. dir ..
                    " && lua5.4 -- - a 2>&1)")
  local got, err = run("-- - a", "echo 'print(\"ARG stdin\")'",
                       "cd " .. dir .. " && %s")
  os.remove(dir .. "/-")
  os.remove(dir)
  want = arglines(want, "lua5.4")
  got = arglines(got, COMMAND)
  assert(want:find("0=- 1=a | a", 1, true), want)
  assert(got == want, "coutil: " .. got .. "\nlua5.4: " .. want .. err)
  -- -W- (coutil only) is an option like -W
  local got = arglines(run("-W- " .. script .. " z"), COMMAND)
  assert(got == "ARG -2=PROG -1=-W- 0=" .. script .. " 1=z | z", got)
end)

-- --- standard input -------------------------------------------------------

case("coutil: standard input as the program", function ()
  local prog = "echo 'local s = require \"coutil.system\"; " ..
               "print(\"stdin\", s.suspend(0.01), ...)'"
  local out, err, status = run("", prog)
  H.same({0}, status)
  assert(out == "stdin\ttrue\n", out .. err)
  out, err, status = run("- a b", prog)
  H.same({0}, status)
  assert(out == "stdin\ttrue\ta\tb\n", out .. err)
  out, err, status = run("--", prog)
  assert(out == "stdin\ttrue\n", out .. err)
  -- a regular file too
  local file = tempfile("print('from a file')")
  out, err, status = run("<" .. file)
  H.same({0}, status)
  assert(out == "from a file\n", out .. err)
  -- an error there is a chunk's error
  out, err, status = run("", "echo 'error(\"stdin boom\")'")
  H.same({1}, status)
  assert(err:find("coutil: stdin:1: stdin boom", 1, true), err)
  -- -e and -v take its place; -l does not (as in lua5.4)
  out = run("-e 'print(\"e\")'", prog)
  assert(out == "e\n", out)
end)

case("coutil: -l still runs standard input, as lua5.4 does", function ()
  local prog = "echo 'print(\"stdin ran\", type(string))'"
  local out, err, status = run("-l string", prog)
  H.same({0}, status)
  assert(out == "stdin ran\ttable\n", out .. err)
end)

-- --- the interactive prompt through a pipe --------------------------------

case("coutil: -i through a pipe", function ()
  local lines = "printf '%s\\n' " .. table.concat({
    q"x = 1 + 1",
    q"x",
    q"1, nil, 'three'",
    q"error('oops')",
    q"for i = 1, 2 do",
    q"print('i', i)",
    q"end",
    q"x = = 2",
    q"local system = require 'coutil.system'; return system.suspend(0.01)",
    q"print('last')",
  }, " ")
  local out, err, status = run("-i", lines)
  H.same({0}, status)
  -- -i implies -v, as in lua5.4: the banner comes first
  assert(out:find("^coutil [^\n]*Lua 5%.4[^\n]*\n" ..
                  "> > 2\n> 1\tnil\tthree\n> > >> >> i\t1\ni\t2\n> > " ..
                  "true\n> last\n> \n$"), out)
  assert(err:find("coutil: stdin:1: oops\nstack traceback:\n", 1, true), err)
  assert(err:find("coutil: stdin:1: ", 1, true), err)
  -- the session went on after the errors; the exit status is 0
end)

case("coutil: -i after a script, with its globals", function ()
  local script = tempfile("answer = 42\n")
  local out, err, status = run("-i " .. script, "echo answer")
  H.same({0}, status)
  assert(out:find("> 42\n", 1, true), out .. err)
end)

case("coutil: the prompt lets other coroutines run between lines",
function ()
  local input = "(printf '%s\\n' " .. q[[
    local s = require "coutil.system"; coroutine.wrap(function () s.suspend(0.2) print("late") end)()
  ]] .. "; sleep 1; echo 'print(\"second\")'; " ..
    "echo 'coroutine.wrap(function () require(\"coutil.system\")" ..
    ".suspend(10) print(\"never\") end)()')"
  local t0 = os.time()
  local out, err, status = run("-i", input)
  H.same({0}, status)
  local late = out:find("late", 1, true)
  local second = out:find("second", 1, true)
  assert(late and second and late < second, out .. err)
  -- end of input ends the session, whatever still waits
  assert(not out:find("never", 1, true), out)
  assert(os.time() - t0 < 8, "the session did not end with its input")
end)

case("coutil: a prompt that shadows memory.lua still works", function ()
  -- the prompt reads through the C module 'memory'; a memory.lua on
  -- package.path ('./?.lua' is there by default) must not replace it
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  writefile(dir .. "/memory.lua", "print('SHADOW') return {}\n")
  local out, err, status = run("-i", "echo 'print(1 + 1)'",
                               "cd " .. dir .. " && %s")
  os.remove(dir .. "/memory.lua")
  os.remove(dir)
  H.same({0}, status)
  assert(not out:find("SHADOW", 1, true), out .. err)
  assert(out:find("> 2\n", 1, true), out .. err)
end)

-- --- the interactive prompt on a terminal ---------------------------------

local function hasscript ()
  -- script(1) itself leaks under the sanitizer preload: run it without
  return os.execute(
    "env -u LD_PRELOAD script -qec true /dev/null >/dev/null 2>&1")
end

-- Runs the command on a pseudo-terminal, typed lines coming from the shell
-- command 'input'. Returns what the terminal showed (without \r).
local function onterminal (args, input)
  local errpath = os.tmpname()
  -- timeout(1) puts itself in a process group of its own unless told
  -- --foreground: when the shell that script(1) starts does not exec it,
  -- that group is in the background and reading the terminal stops it
  local inner = string.format("exec %s timeout --foreground -k 2 15 %s %s",
                              H.childenv(), INVOKE, args)
  local cmd = string.format(
    "(%s) 2>/dev/null | timeout -k 2 20 env -u LD_PRELOAD script -qec %s " ..
    "/dev/null 2>%s", input, q(inner), errpath)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, status = p:close()
  local err = readfile(errpath)
  os.remove(errpath)
  out = out:gsub("\r", "")
  assert(status ~= 124 and status ~= 137, "timed out:\n" .. out .. err)
  nosanitizer(out .. err)
  return out, status
end

if hasscript() then
  case("coutil: a terminal as standard input gives the prompt", function ()
    local input = "(printf '%s\\n' " .. q[[
      local s = require "coutil.system"; coroutine.wrap(function () s.suspend(0.2) print("late") end)()
    ]] .. " 'print(tostring(require(\"coutil.system\").stdin):match(\"^%a+\"))'" ..
    "; sleep 1; printf '%s\\n' '1 + 1' 'error(\"oops\")' 'for i = 1, 2 do' " ..
    "'print(\"i\", i)' 'end' 'print(\"after\")'; sleep 0.5)"
    for _, args in ipairs{"", "-i"} do
      local out, status = onterminal(args, input)
      H.same({0}, status)
      -- the banner, once, as lua5.4 prints its own (-i implies -v)
      local banner = "coutil [^\n]*Lua 5%.4[^\n]*\n"
      assert(out:find(banner), out)
      assert(not out:find(banner .. ".*" .. banner), out)
      local late = out:find("> late\n", 1, true)
      local two = out:find("\n2\n", 1, true)
      assert(out:find("terminal\n", 1, true), out)
      assert(late and two and late < two, out)
      assert(out:find("coutil: stdin:1: oops\nstack traceback:", 1, true),
             out)
      assert(out:find(">> >> i\t1\ni\t2\n", 1, true), out)
      assert(out:find("> after\n", 1, true), out)
    end
  end)
else
  H.skip("coutil: a terminal as standard input gives the prompt",
         "script(1) from util-linux is not installed")
end

for _, path in ipairs(temps) do os.remove(path) end
H.done()
