-- test/stdio.lua: system.stdin, stdout, stderr (manual "Standard
-- Streams") in child processes whose standard streams are pipes, regular
-- files, /dev/null, and a real pseudo-terminal (under script(1)).

local H = require "helpers"
local system = require "coutil.system"
local T = dofile("test/socket/common.lua")

-- every case here starts a child process
local function case (name, f) T.childcase(name, f) end

-- Runs 'code' (a child Lua script) through the shell command 'fmt', where
-- %s is the interpreter call. Returns the combined output.
local function child (code, fmt)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write([[
    local system = require "coutil.system"
    local memory do  -- the C module, not test/memory.lua
      local path = package.path
      package.path = ""
      memory = require "memory"
      package.path = path
    end
    local function report (...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      io.stderr:write(table.concat(t, " "), "\n")
    end
    local function main ()
  ]], code, [[
    end
    local co = coroutine.create(main)
    local ok, err = coroutine.resume(co)
    if not ok then report("ERROR", err) end
    local deadline = system.nanosecs() + 10e9
    while coroutine.status(co) ~= "dead" and system.nanosecs() < deadline do
      system.run("step")
    end
    if coroutine.status(co) ~= "dead" then report("TIMEOUT") end
  ]])
  f:close()
  -- --foreground: a background process group could not read a terminal
  local cmd = string.format(fmt, string.format(
    "%s timeout --foreground 20 lua5.4 %s 2>&1", H.childenv(), path))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  os.remove(path)
  assert(not out:find("ERROR", 1, true), out)
  assert(not out:find("TIMEOUT", 1, true), out)
  return out
end

case("stdio: fields are cached, other names are absent", function ()
  local out = child([[
    report("same", system.stdin == system.stdin,
           system.stdout == system.stdout, system.stderr == system.stderr)
    report("other", system.stdnone, system[1])
  ]], "echo x | %s")
  assert(out:find("same true true true", 1, true), out)
  assert(out:find("other nil nil", 1, true), out)
end)

case("stdio: pipes are stream sockets", function ()
  local out = child([[
    local stdin, stdout = system.stdin, system.stdout
    report("kinds", tostring(stdin):match("^%a+ %a+"),
           tostring(stdout):match("^%a+ %a+"), stdin:getdomain())
    local buf = memory.create(64)
    local got = {}
    while true do
      local n, err = stdin:read(buf)
      if not n then report("end", err) break end
      got[#got + 1] = memory.tostring(buf, 1, n)
    end
    report("input", table.concat(got))
    report("write", stdout:write("to stdout\n"))
    report("write", stdout:write(memory.create("[memory]\n"), 2, 7))
    report("close", stdin:close())
    local ok, err = pcall(stdin.read, stdin, buf)
    report("closed", ok, err:match("closed object"))
  ]], "printf 'piped input' | %s")
  assert(out:find("kinds stream socket stream socket local", 1, true), out)
  assert(out:find("end end of file", 1, true), out)
  assert(out:find("input piped input", 1, true), out)
  assert(out:find("to stdout\n", 1, true), out)
  assert(out:find("memory", 1, true) and not out:find("[memory]", 1, true))
  assert(out:find("closed false closed object", 1, true), out)
end)

case("stdio: objects wrap a duplicate, never descriptors 0-2", function ()
  local out = child([[
    local function fds ()  -- without a child: it would hold descriptors
      local n = 0
      for i = 0, 255 do
        local f = io.open("/proc/self/fd/" .. i)
        if f then f:close() n = n + 1 end
      end
      return n
    end
    local stdin, stdout = system.stdin, system.stdout
    local open = fds()
    report("close", stdin:close(), stdout:close())
    -- their own two descriptors go; 0-2 stay (libuv never closes those)
    report("released", open - fds())
    -- the process's own streams are still there for plain io
    report("io.stdin", io.stdin:read("l"))
    report("io.stdout", io.stdout:write("still writable\n") == io.stdout)
    io.stdout:flush()
    -- a state coroutine that wraps stdin and ends leaves it open too
    local stateco = require "coutil.coroutine"
    local co = assert(stateco.load([=[
      local system = require "coutil.system"
      local s = system.stdin
      return s ~= nil, s:close()
    ]=]))
    report("state", system.resume(co))
    report("after", io.stdin:read("l"))
  ]], "printf 'line one\nline two\n' | %s")
  assert(out:find("close true true", 1, true), out)
  assert(out:find("released 2", 1, true), out)
  assert(out:find("io.stdin line one", 1, true), out)
  assert(out:find("still writable\n", 1, true), out)
  assert(out:find("io.stdout true", 1, true), out)
  assert(out:find("state true true true", 1, true), out)
  assert(out:find("after line two", 1, true), out)
end)

case("stdio: regular files and /dev/null give file objects", function ()
  local input = os.tmpname()
  local output = os.tmpname()
  local f = assert(io.open(input, "w"))
  f:write("from a file\n")
  f:close()
  local out = child([[
    local buf = memory.create(64)
    local n = system.stdin:read(buf)
    report("objects", tostring(system.stdin):match("^file %("),
           tostring(system.stdout):match("^file %("), type(system.stderr))
    report("read", n, buf:tostring(1, n))
    report("wrote", system.stdout:write("to a file\n"))
    report("closed", system.stdout:close())
    io.stdout:write("descriptor 1 still open\n")
  ]], "%s <" .. input .. " >" .. output)
  f = assert(io.open(output))
  local written = f:read("a")
  f:close()
  os.remove(input)
  os.remove(output)
  assert(out:find("objects file ( file ( userdata", 1, true), out)
  assert(out:find("read 12 from a file\n", 1, true), out)
  assert(out:find("wrote 10", 1, true), out)
  assert(out:find("closed true", 1, true), out)
  assert(written == "to a file\ndescriptor 1 still open\n", written)
  out = child([[
    local buf = memory.create(8)
    report("null", tostring(system.stdin):match("^file %("),
           system.stdin:read(buf))
  ]], "%s </dev/null")
  assert(out:find("null file ( 0", 1, true), out)
end)

local function hasscript ()
  -- script(1) itself leaks under the sanitizer preload: run it without
  local ok = os.execute(
    "env -u LD_PRELOAD script -qec true /dev/null >/dev/null 2>&1")
  return ok
end

if not T.subprocesses or hasscript() then
  case("stdio: a pseudo-terminal gives terminals", function ()
    local out = child([[
      local stdin, stdout = system.stdin, system.stdout
      report("kinds", tostring(stdin):match("^%a+"),
             tostring(stdout):match("^%a+"),
             tostring(system.stderr):match("^%a+"))
      assert(stdin.getdomain == nil and stdin.accept == nil)
      local w, h = stdout:winsize()
      report("winsize", math.type(w), math.type(h))
      report("write", stdout:write("tty output\n"))
      report("write", stdout:write(memory.create("abcdef"), 2, 3))
      local buf = memory.create(64)
      local n = assert(stdin:read(buf))  -- a line, in normal mode
      report("line", (memory.tostring(buf, 1, n):gsub("[\r\n]", "")))
      report("raw", stdin:setmode("raw"))
      report("binary", stdin:setmode("binary"))
      report("normal", stdin:setmode("normal"))
      local ok, err = pcall(stdin.setmode, stdin, "cooked")
      report("bad mode", err:match("invalid option 'cooked'"))
      ok, err = pcall(stdin.setmode, stdin)
      report("no mode", err:match("string expected, got no value"))
      ok, err = pcall(stdin.read, stdin, "x")
      report("bad buffer", err:match("memory expected, got string"))
      local r = table.pack(stdout:shutdown())
      report("shutdown", r[1] == true or (r[1] == false and r[3] > 0))
      -- raw mode is undone by close
      report("raw again", stdin:setmode("raw"))
      report("close", stdin:close(), pcall(stdin.close, stdin))
      ok, err = pcall(stdin.winsize, stdin)
      report("closed", err:match("closed object"))
      ok, err = pcall(stdin.read, stdin, buf)
      report("closed read", err:match("closed object"))
    ]], "printf 'typed line\\n' | " ..
        "env -u LD_PRELOAD script -qec \"%s\" /dev/null")
    for _, want in ipairs{"kinds terminal terminal terminal",
                          "winsize integer integer", "write true",
                          "tty output", "bc", "line typed line",
                          "raw true", "binary true", "normal true",
                          "bad mode invalid option 'cooked'",
                          "no mode string expected, got no value",
                          "bad buffer memory expected, got string",
                          "shutdown true", "raw again true",
                          "close true false", "closed closed object",
                          "closed read closed object"} do
      assert(out:find(want, 1, true), "missing '" .. want .. "' in:\n" .. out)
    end
  end)
else
  H.skip("stdio: a pseudo-terminal gives terminals",
         "script(1) from util-linux is not installed")
end

case("stdio: a TCP connection is a stream socket", function ()
  -- bash redirects the child's stdout to a TCP connection to this process
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write([[
    local system = require "coutil.system"
    coroutine.wrap(function ()
      local out = system.stdout
      out:write(tostring(out):match("^%a+ %a+") .. " " .. out:getdomain())
    end)()
    system.run()
  ]])
  f:close()
  local srv = H.track(assert(system.socket("passive", "ipv4")))
  assert(srv:bind(system.address("ipv4", "127.0.0.1", 0)))
  assert(srv:listen(1))
  local p = assert(io.popen(string.format(
    "%s bash -c 'timeout 20 lua5.4 %s >/dev/tcp/127.0.0.1/%d' 2>&1",
    H.childenv(), script, srv:getaddress().port)))
  local got
  T.run(function ()
    local conn = H.track(assert(srv:accept()))
    local buf = T.memory.create(64)
    local parts = {}
    while true do
      local n = conn:read(buf)
      if not n then break end
      parts[#parts + 1] = T.str(buf, 1, n)
    end
    got = table.concat(parts)
    conn:close()
  end, 30)
  srv:close()
  local out = p:read("a")
  p:close()
  os.remove(script)
  assert(got == "stream socket ipv4", tostring(got) .. "\n" .. out)
end)

case("stdio: await functions need a coroutine", function ()
  local out = child([[
    local err  -- string.gsub is a C boundary: no yield from there
    string.gsub("x", "x", function ()
      err = select(2, pcall(system.stdout.write, system.stdout, "x"))
    end)
    report("main", err)
  ]], "%s | cat")
  assert(out:find("unable to yield", 1, true), out)
end)

H.done()
