-- test/examples.lua: runs every program of examples/ with small inputs,
-- through the coutil command (lua5.4 bin/coutil, or $COUTIL_LUA, with the
-- module paths of the suite; every run under `timeout 60`), and checks
-- what they print, what they serve, and the files they make. Only
-- 127.0.0.1 and ports the system picks (servers bind port 0 and print
-- it); files go to temporary directories, removed after each case.
--
-- The test itself drives the children with coutil: system.execute with
-- pipes, sockets for the chat clients and a raw HTTP request, curl for
-- the HTTP server (run without the sanitizer preload, which is meant for
-- the Lua interpreter only).

local H = require "helpers"
local system = require "coutil.system"
local promise = require "coutil.promise"
local T = dofile("test/socket/common.lua")
local memory = T.memory

local LUA = os.getenv("COUTIL_LUA") or "lua5.4"
local asan = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) ~= nil

local function case (name, f)
  T.childcase(name, function () T.run(f, 120) end)
end

local function spawn (f, ...)
  local co = coroutine.create(f)
  assert(coroutine.resume(co, ...))
  return co
end

-- Reads stream 's' until its end; returns the text.
local function readall (s)
  local buf, parts = memory.create(65536), {}
  while true do
    local n = s:read(buf)
    if not n then break end
    parts[#parts + 1] = buf:tostring(1, n)
  end
  return table.concat(parts)
end

-- A child process with its standard output and error read by us.
local Proc = {}
Proc.__index = Proc

-- Starts 'execfile' with 'args' (a table); 'env' (optional) is its whole
-- environment.
local function startprog (execfile, args, env)
  local p = setmetatable({pending = "", err = "", buf = memory.create(4096),
    cmd = {execfile = execfile, arguments = args, stdin = false,
           stdout = "r", stderr = "r", environment = env}}, Proc)
  local exited, fulfill = promise.create()
  p.exited = exited
  spawn(function () fulfill(system.execute(p.cmd)) end)
  assert(p.cmd.pid, "the child did not start")
  spawn(function ()
    p.err = readall(p.cmd.stderr)
    p.cmd.stderr:close()
  end)
  return p
end

-- The environment of the examples: ours (module paths, the sanitizer)
-- without the suite's LUA_PATH, whose test/ would make `require "memory"`
-- load test/memory.lua.
local exampleenv = system.getenv()
exampleenv.LUA_PATH = nil

-- The environment for other programs (curl, script): ours without the
-- sanitizer's preload, which is meant for the Lua interpreter only.
local curlenv = system.getenv()
curlenv.LUA_PATH, curlenv.LD_PRELOAD = nil, nil

-- Under the sanitizers the interpreter is run with their runtime
-- preloaded; the examples' own children (sort, uniq, wc) must not get it
-- (LeakSanitizer aborts sort at its exit), so the interpreter drops the
-- variable from its environment before the example starts.
local DROP = "require('coutil.system').setenv('LD_PRELOAD', nil)"

-- Runs an example: examples/<name>.lua with the arguments.
local function example (name, ...)
  return startprog("timeout", {"60", LUA, "-e", DROP, "bin/coutil",
    "examples/" .. name .. ".lua", ...}, exampleenv)
end

-- The next line of its output (nil at the end).
function Proc:line ()
  while true do
    local nl = self.pending:find("\n", 1, true)
    if nl then
      local line = self.pending:sub(1, nl - 1)
      self.pending = self.pending:sub(nl + 1)
      return line
    end
    local n = self.cmd.stdout:read(self.buf)
    if not n then return nil end
    self.pending = self.pending .. self.buf:tostring(1, n)
  end
end

-- The port of a server's first line ("listening on ...:PORT...").
function Proc:port ()
  local line = self:line()
  local port = line and tonumber(line:match("127%.0%.0%.1:(%d+)"))
  assert(port, "no port in: " .. tostring(line) .. "\n" .. self.err)
  return port
end

-- Waits for the end: the rest of the output, the stderr text; raises
-- unless the child exited with 'status' (default 0).
function Proc:finish (status)
  local out = self.pending .. readall(self.cmd.stdout)
  self.cmd.stdout:close()
  local how, code = self.exited()
  local want = status or 0
  if how ~= "exit" or code ~= want then
    error(string.format("%s %s ended with %s %s (expected exit %d)\n" ..
      "stdout:\n%s\nstderr:\n%s", self.cmd.execfile,
      table.concat(self.cmd.arguments, " "), tostring(how), tostring(code),
      want, out, self.err), 2)
  end
  return out, self.err
end

local function has (text, phrase)
  if not text:find(phrase, 1, true) then
    error(string.format("%q not in:\n%s", phrase, text), 2)
  end
end

local readfile = H.readfile

local writefile = H.writefile

local function tempdir ()
  return assert(system.maketemp(system.procinfo("T") .. "/coutil-examples-"))
end

local function removetree (path)
  os.execute("rm -rf '" .. path .. "'")
end

local function randombytes (n)
  local m = memory.create(n)
  assert(system.random(m))
  return m:tostring()
end

-- --- echo_server + load_client ------------------------------------------

case("echo_server and load_client: 120 connections, every byte checked", function ()
  local server = example("echo_server", "127.0.0.1", "0", "120")
  local port = server:port()
  local client = example("load_client", "127.0.0.1", tostring(port), "120",
    "20000", "3000")
  local out = client:finish()
  has(out, "connections 120 (120 ok, 0 failed), bytes 2400000 sent, " ..
    "2400000 received")
  has(out, "all 2400000 bytes checked: OK")
  local sout = server:finish()
  has(sout, "served 120 clients, echoed 2400000 bytes")
end)

-- A server that changes one byte of what it echoes: the client must see
-- it, and fail.
case("load_client: a wrong byte is reported", function ()
  local srv = assert(system.socket("passive", "ipv4"))
  assert(srv:bind(T.addr(0)))
  assert(srv:listen(16))
  local port = srv:getaddress().port
  local done = 0
  spawn(function ()
    for k = 1, 3 do
      local conn = assert(srv:accept())
      spawn(function ()
        local buf, total = memory.create(65536), 0
        while true do
          local n = conn:read(buf)
          if not n then break end
          if k == 2 and total < 100 and total + n >= 100 then
            local i = 100 - total
            buf:set(i, (buf:get(i) + 1) % 256)  -- byte 100 of connection 2
          end
          total = total + n
          if not conn:write(buf, 1, n) then break end
        end
        conn:close()
        done = done + 1
      end)
    end
    srv:close()
  end)
  local client = example("load_client", "127.0.0.1", tostring(port), "3",
    "5000")
  local out, err = client:finish(1)
  has(out, "connections 3 (2 ok, 1 failed)")
  has(err, "byte 100 is")
  has(err, "1 connections failed")
  while done < 3 do system.suspend(0.01) end
end)

-- --- chat_server ----------------------------------------------------------

-- A chat client: a socket and its line buffer.
local function chatclient (port)
  local c = {sock = assert(system.socket("stream", "ipv4")), pending = "",
             buf = memory.create(1024)}
  assert(c.sock:connect(T.addr(port)))
  function c.line ()
    while true do
      local nl = c.pending:find("\n", 1, true)
      if nl then
        local line = c.pending:sub(1, nl - 1)
        c.pending = c.pending:sub(nl + 1)
        return line
      end
      local n, err = c.sock:read(c.buf)
      if not n then return nil, err end
      c.pending = c.pending .. c.buf:tostring(1, n)
    end
  end
  function c.send (s) assert(c.sock:write(s)) end
  return c
end

case("chat_server: three clients, lines broadcast to the others", function ()
  local server = example("chat_server", "127.0.0.1", "0", "3")
  local port = server:port()
  local a = chatclient(port)
  H.same({"welcome user1"}, a.line())
  local b = chatclient(port)
  H.same({"welcome user2"}, b.line())
  H.same({"* user2 joined"}, a.line())
  local c = chatclient(port)
  H.same({"welcome user3"}, c.line())
  H.same({"* user3 joined"}, a.line())
  H.same({"* user3 joined"}, b.line())
  -- a line in two pieces, then two lines in one piece (one with \r\n)
  a.send("hel")
  system.suspend(0.05)
  a.send("lo\r\nsecond line\nthird")
  system.suspend(0.05)
  a.send(" line\n")
  for _, cl in ipairs{b, c} do
    H.same({"user1: hello"}, cl.line())
    H.same({"user1: second line"}, cl.line())
    H.same({"user1: third line"}, cl.line())
  end
  b.send("hi from b\n")
  H.same({"user2: hi from b"}, a.line())
  H.same({"user2: hi from b"}, c.line())
  -- nothing of its own comes back to a sender: the next line a gets is
  -- c's rename
  c.send("/nick carol\n")
  H.same({"you are carol"}, c.line())
  H.same({"* user3 is now carol"}, a.line())
  H.same({"* user3 is now carol"}, b.line())
  c.send("/quit\n")
  H.same({"bye"}, c.line())
  H.same({nil, "end of file"}, c.line())
  H.same({"* carol left"}, a.line())
  H.same({"* carol left"}, b.line())
  b.sock:close()
  H.same({"* user2 left"}, a.line())
  a.sock:shutdown()
  H.same({nil, "end of file"}, a.line())
  a.sock:close()
  c.sock:close()
  local out = server:finish()
  has(out, "chat over: 3 clients joined, 4 lines relayed")
end)

-- --- parallel_job -----------------------------------------------------------

case("parallel_job: the pool's count equals the serial one", function ()
  local out = example("parallel_job", "200000", "2", "8"):finish()
  has(out, "primes up to 200000: 17984")
  has(out, "parallel: ")
  has(out, "(2 threads, 8 pieces)")
  has(out, "speedup:")
  has(out, "results equal: OK")
end)

-- --- pipeline -----------------------------------------------------------------

case("pipeline: sort | uniq -c equals the Lua count, copying or passing", function ()
  for _, mode in ipairs{"copy", "pass"} do
    local out = example("pipeline", "5000", mode):finish()
    has(out, "5000 lines, 200 distinct, mode " .. mode)
    has(out, "result equals the Lua count: OK")
    -- the most frequent word is word 1 (weight 1/1): "word037"
    local first = out:match("\n%s*(%d+) (word%d+)\n")
    assert(first, out)
  end
  has(example("pipeline", "0"):finish(), "result equals the Lua count: OK")
end)

-- --- copy_progress --------------------------------------------------------------

case("copy_progress: a 5 MiB file copied exactly, progress lines", function ()
  local dir = tempdir()
  local src, dst = dir .. "/source.bin", dir .. "/copy.bin"
  local data = randombytes(5 * 1048576)
  writefile(src, data)
  local out = example("copy_progress", src, dst, "100000"):finish()
  has(out, "copied   0% (0 of 5242880 bytes)")
  has(out, "copied  50%")
  has(out, "copied 100% (5242880 of 5242880 bytes)")
  has(out, "copied 5242880 bytes in")
  has(out, "sizes match: OK")
  assert(not out:find("\r", 1, true), "a bar on a pipe")
  assert(readfile(dst) == data, "the copy differs from the source")
  -- on a terminal (script(1) makes one): a bar redrawn with \r
  local preload = os.getenv("LD_PRELOAD")
  local term = startprog("script", {"-qec", string.format(
    "%s timeout 60 %s -e \"%s\" bin/coutil examples/copy_progress.lua " ..
    "'%s' '%s' 1048576", preload and "env LD_PRELOAD='" .. preload .. "'" or "",
    LUA, DROP, src, dst .. "2"), "/dev/null"}, curlenv)
  out = term:finish()
  has(out, "\r[")
  has(out, "] 100%")
  has(out, "sizes match: OK")
  assert(readfile(dst .. "2") == data, "the copy differs from the source")
  -- no source: a sample file is made, copied, and both are removed
  out = example("copy_progress"):finish()
  has(out, "copied 8388608 bytes")
  local made = out:match("to (%S+)%.copy\n")
  assert(made and not io.open(made) and not io.open(made .. ".copy"), out)
  removetree(dir)
end)

-- --- http_server ------------------------------------------------------------------

local function curl (...)
  return startprog("curl", {"-s", "--max-time", "30", ...}, curlenv):finish()
end

case("http_server: GET, HEAD, 404, keep-alive, .. refused, 400", function ()
  local dir = tempdir()
  local root = dir .. "/www"
  assert(system.makedir(root, "rwx"))
  assert(system.makedir(root .. "/sub", "rwx"))
  local text = "hello, coutil\n"
  local blob = randombytes(300000)
  writefile(root .. "/a.txt", text)
  writefile(root .. "/sub/blob.bin", blob)
  writefile(root .. "/index.html", "<p>index</p>\n")
  writefile(dir .. "/secret.txt", "secret\n")

  local server = example("http_server", root, "127.0.0.1", "0", "10", "",
    "0.5")
  local url = "http://127.0.0.1:" .. server:port()

  -- 1: GET, the body and its type
  local out = curl("-w", "\n%{http_code} %{content_type}", url .. "/a.txt")
  H.same({text .. "\n200 text/plain; charset=utf-8"}, out)
  -- 2: HEAD: the headers only
  out = curl("-I", url .. "/a.txt")
  has(out, "HTTP/1.1 200 OK\r\n")
  has(out, "Content-Length: " .. #text .. "\r\n")
  has(out, "Content-Type: text/plain; charset=utf-8\r\n")
  assert(not out:find(text, 1, true), "HEAD sent a body")
  -- 3: a missing file
  out = curl("-o", "/dev/null", "-w", "%{http_code}", url .. "/nothing.txt")
  H.same({"404"}, out)
  -- 4: two URLs on one connection (the second one connects 0 times)
  out = curl("-o", dir .. "/1", "-o", dir .. "/2", "-w",
    "%{http_code} %{num_connects}\n", url .. "/sub/blob.bin", url .. "/")
  H.same({"200 1\n200 0\n"}, out)
  assert(readfile(dir .. "/1") == blob, "the binary file came back wrong")
  H.same({"<p>index</p>\n"}, readfile(dir .. "/2"))
  -- 5, 6: ".." refused, as it is and percent-encoded
  for _, path in ipairs{"/../secret.txt", "/sub/%2e%2e/%2E%2E/secret.txt"} do
    out = curl("--path-as-is", "-w", "\n%{http_code}", url .. path)
    assert(not out:find("secret", 1, true), out)
    has(out, "\n403")
  end
  -- 7: HTTP/1.0 with keep-alive, asked for
  out = curl("--http1.0", "-H", "Connection: keep-alive", "-o", "/dev/null",
    "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
    url .. "/a.txt", url .. "/a.txt")
  H.same({"200 1\n200 0\n"}, out)
  -- 8: HTTP/1.1 without Host
  out = curl("-H", "Host:", "-o", "/dev/null", "-w", "%{http_code}",
    url .. "/a.txt")
  H.same({"400"}, out)
  -- 9: not HTTP at all, through a socket of ours
  local s = assert(system.socket("stream", "ipv4"))
  assert(s:connect(T.addr(tonumber(url:match("(%d+)$")))))
  assert(s:write("garbage\r\n\r\n"))
  out = readall(s)
  s:close()
  has(out, "HTTP/1.1 400 Bad Request\r\n")
  has(out, "Connection: close\r\n")
  -- 10: a request in the absolute form, then silence: the idle limit
  -- (0.5 s here) closes the connection
  s = assert(system.socket("stream", "ipv4"))
  assert(s:connect(T.addr(tonumber(url:match("(%d+)$")))))
  assert(s:write("GET " .. url .. "/a.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
  local t0 = system.nanosecs()
  out = readall(s)
  local waited = (system.nanosecs() - t0) / 1e9
  s:close()
  has(out, "HTTP/1.1 200 OK\r\n")
  has(out, "Connection: keep-alive\r\n")
  assert(out:sub(-#text) == text, out)
  assert(waited >= 0.45 and waited < 10, "idle for " .. waited .. " s")

  local log = server:finish()
  has(log, "#1 GET /a.txt 200 14\n")
  has(log, "#2 HEAD /a.txt 200 0\n")
  has(log, "#3 GET /nothing.txt 404")
  has(log, "#4 GET /sub/blob.bin 200 300000\n#4 GET / 200 13\n")
  has(log, "#5 GET /../secret.txt 403")
  has(log, "#7 GET /a.txt 200 14\n#7 GET /a.txt 200 14\n")
  has(log, "#8 GET /a.txt 400")
  has(log, "#9 - - 400")
  has(log, "#10 GET " .. url .. "/a.txt 200 14\n")
  has(log, "served 10 connections, 12 requests")
  removetree(dir)
end)

-- --- demo ---------------------------------------------------------------------------

case("demo: the timeline runs to its end", function ()
  local out = example("demo"):finish()
  has(out, "metronome beat 6")
  assert(out:find("worker    no more jobs, %d+ done"), out)
  has(out, "listener  the music stopped")
  has(out, "main      nothing left to wait for")
end)

-- --- the tour -----------------------------------------------------------------------

case("tour: every part runs and passes", function ()
  local out = example("tour", asan and "0.05" or "0.2"):finish()
  for _, part in ipairs{"echo", "threads", "child", "file", "timers"} do
    assert(out:find("\n  " .. part .. " [^\n]*  OK\n"), part .. ":\n" .. out)
  end
  has(out, "connections echoed every byte")
  has(out, "primes both ways")
  has(out, "All parts passed.")
end)

H.done()
