-- test/file.lua: file objects (manual "File System": system.openfile and
-- the methods close, read, write, resize, flush, touch, own, grant, info;
-- system.maketemp with 'o'), the standard streams when they are files
-- (manual "Standard Streams") and file objects given to system.execute.
-- Every case that can runs in blocking mode ('~') and as an await, which
-- must give the same results. Failures are the triple of libuv's message
-- and errno. The open flags of each mode are read back from
-- /proc/self/fdinfo. After every case the process holds exactly the
-- descriptors it held before. Files live in a private directory removed
-- at the end.

local H = require "helpers"
local system = require "coutil.system"
local memory = H.cmodule("memory")

local function quote (s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The output of a shell command, run without the sanitizer preload (the
-- tools would report their own leaks); children that must run with it
-- set it again (H.childenv).
local function shell (cmd)
  local p = assert(io.popen("env -u LD_PRELOAD sh -c " .. quote(cmd)))
  local out = p:read("a")
  p:close()
  return (out:gsub("\n$", ""))
end

local DIR = shell("mktemp -d /tmp/coutil-file-XXXXXX")
assert(DIR:match("^/tmp/coutil%-file%-"), "mktemp -d failed")
local function P (name) return DIR .. "/" .. name end

local writefile = H.writefile

local readfile = H.readfile

local fds = H.fds

-- The descriptor numbers in H.fds() form, as a set.
local function fdset ()
  local set = {}
  for n in fds():gmatch("%d+") do set[tonumber(n)] = true end
  return set
end

-- Calls f(...) and returns its results and the one descriptor it left
-- open (nil when it left none; an error when it left several).
local function newfd (f, ...)
  local before = fdset()
  local r = H.pack(f(...))
  local found
  for n in pairs(fdset()) do
    if not before[n] then
      assert(found == nil, "more than one new descriptor")
      found = n
    end
  end
  r.fd = found
  return r
end

-- The flags of descriptor 'fd' as the kernel shows them (octal there).
local function fdflags (fd)
  local text = readfile("/proc/self/fdinfo/" .. fd)
  return tonumber(assert(text:match("flags:%s*(%d+)")), 8)
end

local O_ACCMODE, O_WRONLY, O_RDWR = 3, 1, 2
local O_APPEND, O_SYNC, O_CLOEXEC = 1024, 1052672, 524288  -- 02000, 04010000, 02000000
local FLAGMASK = O_ACCMODE | O_APPEND | O_SYNC | O_CLOEXEC

-- H.run, but an error inside the coroutine is raised with its traceback.
local function run (f, timeout, ...)
  local r = H.pack(H.run(function (...)
    return H.pack(xpcall(f, debug.traceback, ...))
  end, timeout or 20, ...))[1]
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

-- Runs f(mode) with '~' and then as an await under system.run; both must
-- return the same values.
local function both (f)
  local blocking = H.pack(f("~"))
  local awaited = H.pack(run(f, 20, ""))
  H.same(blocking, table.unpack(awaited, 1, awaited.n))
  return table.unpack(awaited, 1, awaited.n)
end

-- Calls fn and checks that it raises an argument error with exactly the
-- text 'bad argument #n to 'name' (phrase'.
local function argerr (n, name, phrase, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "no error raised (expected '" .. phrase .. "')")
  local want = "bad argument #" .. n .. " to '" .. name .. "' (" .. phrase
  if not tostring(err):find(want, 1, true) then
    error("error '" .. tostring(err) .. "' lacks '" .. want .. "'", 2)
  end
end

local function failure (msg, errno, ...)
  H.same({false, msg, errno}, ...)
end

local EPERM, ENOENT, EBADF, EACCES, EEXIST = 1, 2, 9, 13, 17
local ENOTDIR, EISDIR, EINVAL, ENOSPC, ENAMETOOLONG, ELOOP =
  20, 21, 22, 28, 36, 40

local UMASK = tonumber(shell("umask"), 8)
local function stat (fmt, path) return shell("stat -c " .. fmt .. " " .. quote(path)) end

-- The baseline is taken once libuv made its own descriptors: the loop's,
-- the spare one it keeps after the first stream socket, and the signal
-- pipe of its first child process.
run(function ()
  assert(system.fileinfo(DIR, "?"))
  local s = assert(system.socket("passive", "local"))
  assert(s:bind(P("warmup")))
  s:close()
  local cmd = {execfile = "/bin/true", stdout = "r"}
  assert(system.execute(cmd))
  cmd.stdout:close()
end)
H.drain()
os.remove(P("warmup"))
local baseline = fds()

-- COUTIL_CASE=text runs only the cases whose names contain it.
local only = os.getenv("COUTIL_CASE")

local function case (name, f)
  if only and not name:find(only, 1, true) then return end
  H.case(name, function ()
    local ok, err = xpcall(f, debug.traceback)
    H.drain()
    collectgarbage()
    collectgarbage()
    H.drain()
    -- judged once: the next case starts from what this one left
    local now, was = fds(), baseline
    baseline = now
    if not ok then error(err, 0) end
    assert(now == was, "descriptors: " .. now .. ", were " .. was)
  end)
end

writefile(P("data.txt"), "0123456789")

-- Waits (bounded) until t.done is set while the loop runs.
local function waitfor (t, what)
  for _ = 1, 2000 do
    if t.done then return end
    system.suspend(0.005)
  end
  error("timed out waiting for " .. what)
end

-- Starts f(...) in a coroutine now; returns a table that gets its results
-- in 'values' and 'done' once it ends.
local function spawn (f, ...)
  local t = {}
  local co = H.track(coroutine.create(function (...)
    t.values = H.pack(f(...))
    t.done = true
  end))
  local ok, err = coroutine.resume(co, ...)
  assert(ok, err)
  return t, co
end

-- --- openfile: arguments and modes ------------------------------------------

case("openfile: bad arguments name the argument", function ()
  argerr(1, "openfile", "string expected, got no value",
         function () return system.openfile() end)
  argerr(1, "openfile", "string expected, got table",
         function () return system.openfile({}, "~") end)
  argerr(2, "openfile", "string expected, got table",
         function () return system.openfile(P("data.txt"), {}) end)
  argerr(2, "openfile", "unknown mode char (got 'c')",
         function () return system.openfile(P("data.txt"), "~c") end)
  argerr(2, "openfile", "'~' must be in the begin of 'mode'",
         function () return system.openfile(P("data.txt"), "r~") end)
  argerr(3, "openfile", "unknown perm char (got 'q')",
         function () return system.openfile(P("new"), "~N", "rwq") end)
  argerr(3, "openfile", "unknown perm char (got 'q')",
         function () return system.openfile(P("new"), "~n", "q") end)
  argerr(3, "openfile", "number expected, got boolean",
         function () return system.openfile(P("new"), "~N", true) end)
  argerr(3, "openfile", "number has no integer representation",
         function () return system.openfile(P("new"), "~n", 1.5) end)
  -- every byte that is not a mode char, in blocking mode and as an await
  local valid = "~anNrftwx"
  for _, prefix in ipairs{"~", ""} do
    run(function ()
      for b = 1, 255 do
        local c = string.char(b)
        if not valid:find(c, 1, true) then
          local ok, err = pcall(system.openfile, P("new"), prefix .. "r" .. c)
          assert(not ok and err:find("unknown mode char", 1, true), err)
          if c:match("%w") then
            assert(err:find("(got '" .. c .. "')", 1, true), err)
          end
        end
      end
    end)
  end
  -- nothing was created by any of those
  assert(io.open(P("new")) == nil)
end)

case("openfile: 'perm' is ignored without 'n' or 'N'", function ()
  both(function (mode)
    for _, perm in ipairs{"zzz", 1.5, "rwq", 511} do
      local f = assert(system.openfile(P("data.txt"), mode .. "rw", perm))
      assert(f:close(mode) == true)
    end
    return stat("%a", P("data.txt"))
  end)
end)

case("openfile: a file object", function ()
  both(function (mode)
    local r = newfd(system.openfile, P("data.txt"), mode)
    local f = H.track(r[1])
    assert(type(f) == "userdata" and r.n == 1)
    assert(tostring(f):sub(1, 6) == "file (", tostring(f))
    assert(r.fd, "no descriptor")
    for _, name in ipairs{"close", "read", "write", "resize", "flush", "touch",
                          "own", "grant", "info"} do
      assert(type(f[name]) == "function", name)
    end
    assert(f:close(mode) == true)
    assert(not fdset()[r.fd], "close left the descriptor open")
    assert(tostring(f):sub(1, 6) == "file (", tostring(f))
    return true
  end)
end)

-- Each mode, the flags the kernel has for its descriptor, and whether
-- reads and writes work. 'n' and 'N' open a missing file, the others the
-- existing one.
local MODES = {
  {"",    0},
  {"r",   0},
  {"x",   O_CLOEXEC},
  {"w",   O_WRONLY},
  {"rw",  O_RDWR},
  {"wr",  O_RDWR},
  {"a",   O_WRONLY | O_APPEND},
  {"ra",  O_RDWR | O_APPEND},
  {"t",   O_WRONLY},
  {"rt",  O_RDWR},
  {"f",   O_WRONLY | O_SYNC},
  {"rf",  O_RDWR | O_SYNC},
  {"rwx", O_RDWR | O_CLOEXEC},
  {"awftx", O_WRONLY | O_APPEND | O_SYNC | O_CLOEXEC},
  {"n",   0, create = true},
  {"N",   0, create = true},
  {"wN",  O_WRONLY, create = true},
  {"rwnx", O_RDWR | O_CLOEXEC, create = true},
}

case("openfile: each mode gives its open flags", function ()
  both(function (mode)
    for _, m in ipairs(MODES) do
      local path = P("modes.txt")
      os.remove(path)
      if not m.create then writefile(path, "abc") end
      local r = newfd(system.openfile, path, mode .. m[1])
      local f = assert(r[1], r[2])
      local flags = fdflags(r.fd) & FLAGMASK
      assert(flags == m[2], ("mode '%s': flags %o, expected %o"):format(
                            m[1], flags, m[2]))
      assert(f:close(mode) == true)
    end
    os.remove(P("modes.txt"))
    return true
  end)
end)

case("openfile: reading and writing as each mode allows", function ()
  local buf = memory.create(8)
  both(function (mode)
    for _, m in ipairs(MODES) do
      local path = P("rw.txt")
      os.remove(path)
      if not m.create then writefile(path, "abc") end
      local f = assert(system.openfile(path, mode .. m[1]))
      local access = m[2] & O_ACCMODE
      local n, msg, code = f:read(buf, nil, nil, 0, mode)
      if access == O_WRONLY then
        failure("bad file descriptor", EBADF, n, msg, code)
      else
        -- 't' and new files are empty
        local want = (m.create or m[1]:find("t")) and 0 or 3
        assert(n == want, m[1] .. ": read " .. tostring(n) .. " " .. tostring(msg))
      end
      n, msg, code = f:write("XY", nil, nil, nil, mode)
      if access == 0 then
        failure("bad file descriptor", EBADF, n, msg, code)
      else
        assert(n == 2, m[1] .. ": write " .. tostring(msg))
      end
      assert(f:close(mode) == true)
      local text = readfile(path)
      local want
      if access == 0 then want = m.create and "" or "abc"
      elseif m.create or m[1]:find("t") then want = "XY"
      elseif m[1]:find("a") then want = "abcXY"
      else want = "XYc" end
      assert(text == want, m[1] .. ": file has '" .. text .. "'")
    end
    os.remove(P("rw.txt"))
    return true
  end)
end)

case("openfile: 'n' creates, 'N' must create, with 'perm'", function ()
  both(function (mode)
    local path = P("created.txt")
    os.remove(path)
    -- default permissions: 0666 less the umask
    local f = assert(system.openfile(path, mode .. "n"))
    assert(f:close(mode) == true)
    assert(tonumber(stat("%a", path), 8) == 438 & ~UMASK)
    assert(readfile(path) == "")
    -- 'n' opens what exists: contents and permissions are kept
    writefile(path, "kept")
    f = assert(system.openfile(path, mode .. "rn", "r"))
    assert(f:close(mode) == true)
    assert(readfile(path) == "kept")
    assert(tonumber(stat("%a", path), 8) == 438 & ~UMASK)
    failure("file already exists", EEXIST, system.openfile(path, mode .. "N"))
    failure("file already exists", EEXIST, system.openfile(path, mode .. "rwN", 384))
    assert(readfile(path) == "kept")
    os.remove(path)
    -- 'N' creates, with permission strings and numbers
    for _, t in ipairs{{"rwR", 416}, {384, 384}, {"rwxRWX421", 511},
                       {"r", 256}, {"", 0}} do
      f = assert(system.openfile(path, mode .. "wN", t[1]))
      -- the permissions apply to later opens only: this one can write
      assert(f:write("new", nil, nil, nil, mode) == 3)
      assert(f:close(mode) == true)
      assert(tonumber(stat("%a", path), 8) == t[2] & ~UMASK, tostring(t[1]))
      assert(readfile(path) == "new")
      os.remove(path)
    end
    -- 'N' does not follow a symbolic link, even a dangling one
    assert(system.linkfile("nowhere", P("dangling"), "~s"))
    failure("file already exists", EEXIST, system.openfile(P("dangling"), mode .. "wN"))
    assert(io.open(P("nowhere")) == nil)
    os.remove(P("dangling"))
    return true
  end)
end)

case("openfile: 't' truncates, 'a' appends", function ()
  both(function (mode)
    local path = P("ta.txt")
    writefile(path, "old contents")
    local f = assert(system.openfile(path, mode .. "t"))
    assert(readfile(path) == "")
    assert(f:close(mode) == true)
    writefile(path, "old")
    f = assert(system.openfile(path, mode .. "a"))
    assert(f:write("-one", nil, nil, nil, mode) == 4)
    assert(f:write("-two", nil, nil, nil, mode) == 4)
    assert(f:close(mode) == true)
    assert(readfile(path) == "old-one-two")
    -- 'ra': reads from the start, writes at the end
    f = assert(system.openfile(path, mode .. "ra"))
    local buf = memory.create(3)
    assert(f:read(buf, nil, nil, nil, mode) == 3)
    assert(memory.tostring(buf) == "old")
    assert(f:write("!", nil, nil, nil, mode) == 1)
    assert(f:close(mode) == true)
    assert(readfile(path) == "old-one-two!")
    os.remove(path)
    return true
  end)
end)

case("openfile: 'f' writes go to the device", function ()
  both(function (mode)
    local path = P("sync.txt")
    os.remove(path)
    local r = newfd(system.openfile, path, mode .. "fN")
    local f = assert(r[1])
    assert(fdflags(r.fd) & O_SYNC == O_SYNC)
    assert(f:write("synced", nil, nil, nil, mode) == 6)
    assert(readfile(path) == "synced")
    assert(f:close(mode) == true)
    os.remove(path)
    return true
  end)
end)

-- --- openfile: failures -----------------------------------------------------

case("openfile: failures", function ()
  local loop1, loop2 = P("loop1"), P("loop2")
  assert(system.linkfile(loop2, loop1, "~s"))
  assert(system.linkfile(loop1, loop2, "~s"))
  both(function (mode)
    failure("no such file or directory", ENOENT, system.openfile(P("none"), mode))
    failure("no such file or directory", ENOENT, system.openfile(P("none"), mode .. "rw"))
    failure("no such file or directory", ENOENT,
            system.openfile(P("nodir/new"), mode .. "wn"))
    failure("not a directory", ENOTDIR, system.openfile(P("data.txt/x"), mode))
    failure("not a directory", ENOTDIR, system.openfile(P("data.txt/x"), mode .. "wN"))
    failure("illegal operation on a directory", EISDIR, system.openfile(DIR, mode .. "w"))
    failure("illegal operation on a directory", EISDIR, system.openfile(DIR, mode .. "rw"))
    failure("name too long", ENAMETOOLONG, system.openfile(P(("n"):rep(300)), mode))
    failure("name too long", ENAMETOOLONG, system.openfile(P(("n"):rep(300)), mode .. "N"))
    failure("too many symbolic links encountered", ELOOP, system.openfile(loop1, mode))
    failure("too many symbolic links encountered", ELOOP, system.openfile(loop1, mode .. "wn"))
    failure("file already exists", EEXIST, system.openfile(P("data.txt"), mode .. "N"))
    -- a directory opens for reading; reading it fails
    local d = assert(system.openfile(DIR, mode))
    failure("illegal operation on a directory", EISDIR,
            d:read(memory.create(4), nil, nil, nil, mode))
    assert(d:close(mode) == true)
    return true
  end)
  assert(io.open(P("none")) == nil)
  os.remove(loop1)
  os.remove(loop2)
end)

-- Runs Lua 'code' in a child lua5.4 as user nobody; it prints lines that
-- are returned as one string. nil and the reason when that cannot be done.
local function nobodyskip ()
  if shell("id -u") ~= "0" then return "needs root to run a child as nobody" end
  if shell("command -v runuser") == "" then return "no runuser command" end
  if shell("id -u nobody 2>/dev/null") == "" then return "no user nobody" end
end

local function asnobody (code)
  local interp = os.getenv("COUTIL_LUA") or "lua5.4"
  return shell("timeout 60 runuser -u nobody -- " .. H.childenv() .. " " .. interp ..
               " -e " .. quote(code) .. " 2>&1")
end

do
  local code = ([[
    local system = require "coutil.system"
    local D = %q
    local function show (a, b, c)
      if type(a) == "userdata" then a = "file" end
      io.write(tostring(a), ",", tostring(b), ",", tostring(c), ";")
    end
    local function run (mode)
      show(system.openfile(D .. "/data.txt", mode))
      show(system.openfile(D .. "/data.txt", mode .. "w"))
      show(system.openfile(D .. "/new.txt", mode .. "wN"))
      local f = assert(system.openfile("/dev/null", mode .. "rw"))
      show(f:own(0, 0, mode))
      show(f:grant(511, mode))
      show(f:close(mode))
      io.write("|")
    end
    run("~")
    coroutine.wrap(run)("")
    system.run()
  ]]):format(DIR)
  local why = nobodyskip()
  if why then
    H.skip("openfile: EACCES as another user", why)
  else
    case("openfile: EACCES as another user", function ()
      local out = asnobody(code)
      local denied = "false,permission denied," .. EACCES .. ";"
      local notpermitted = "false,operation not permitted," .. EPERM .. ";"
      local once = denied .. denied .. denied .. notpermitted .. notpermitted ..
                   "true,nil,nil;|"
      assert(out == once .. once, out)
      assert(io.open(P("new.txt")) == nil)
    end)
  end
end

-- --- close, to-be-closed, garbage -------------------------------------------

-- Each method called through a field (so that errors name it), with
-- arguments that would otherwise be right.
local function methods (f, mode)
  local buf = memory.create(4)
  return {
    close = function () return f.close(f, mode) end,
    read = function () return f.read(f, buf, nil, nil, nil, mode) end,
    write = function () return f.write(f, "x", nil, nil, nil, mode) end,
    resize = function () return f.resize(f, 0, mode) end,
    flush = function () return f.flush(f, mode) end,
    touch = function () return f.touch(f, mode) end,
    own = function () return f.own(f, -1, -1, mode) end,
    grant = function () return f.grant(f, 420, mode) end,
    info = function () return f.info(f, mode .. "B") end,
  }
end

case("close: then every method raises 'closed object'", function ()
  both(function (mode)
    local f = assert(system.openfile(P("data.txt"), mode .. "rw"))
    H.same({true}, f:close(mode))
    for name, call in pairs(methods(f, mode)) do
      argerr(1, name, "closed object", call)
    end
    -- as a method call too
    local ok, err = pcall(function () return f:close(mode) end)
    assert(not ok and err:find("closed object", 1, true), err)
    ok, err = pcall(f.read, f, memory.create(2), nil, nil, nil, mode)
    assert(not ok and err:find("closed object", 1, true), err)
    return readfile(P("data.txt"))
  end)
end)

case("close: unknown mode chars", function ()
  local f = assert(system.openfile(P("data.txt"), "~"))
  argerr(2, "close", "unknown mode char (got 'x')", function () return f.close(f, "x") end)
  argerr(2, "close", "unknown mode char (got 'd')", function () return f.close(f, "~d") end)
  argerr(2, "close", "'~' must be in the begin of 'mode'", function () return f.close(f, "~~") end)
  assert(f:info("~B") == 10)  -- still open
  assert(f:close("~") == true)
end)

case("to-be-closed variables and garbage collection close files", function ()
  both(function (mode)
    local kept
    do
      local f <close> = assert(system.openfile(P("data.txt"), mode))
      kept = f
      assert(f:info(mode .. "B") == 10)
    end
    argerr(1, "info", "closed object", function () return kept.info(kept, "~B") end)
    kept = nil
    assert(fds() == baseline, "<close> left " .. fds())
    -- an unreferenced open file is closed by the collector
    local r = newfd(system.openfile, P("data.txt"), mode .. "r")
    H.track(r[1])
    assert(r.fd)
    r = nil
    collectgarbage()
    collectgarbage()
    if mode == "" then system.suspend(0.01)  -- lets a deferred close run
    else H.drain() end
    return fds() == baseline
  end)
  -- a to-be-closed variable closes it on errors too
  local kept
  local ok = pcall(function ()
    local f <close> = assert(system.openfile(P("data.txt"), "~"))
    kept = f
    error("oops")
  end)
  assert(not ok)
  argerr(1, "read", "closed object",
         function () return kept.read(kept, memory.create(1), nil, nil, nil, "~") end)
end)

-- --- read -------------------------------------------------------------------

case("read: the file position, offsets and the end of file", function ()
  local buf = memory.create(4)
  both(function (mode)
    local f = assert(system.openfile(P("data.txt"), mode))
    local got = {}
    local function take (n) got[#got + 1] = memory.tostring(buf, 1, n) end
    assert(f:read(buf, nil, nil, nil, mode) == 4); take(4)             -- 0123
    -- with an offset: there, and the position stays
    assert(f:read(buf, nil, nil, 8, mode) == 2); take(2)               -- 89
    assert(f:read(buf, nil, nil, 0, mode) == 4); take(4)               -- 0123
    assert(f:read(buf, nil, nil, nil, mode) == 4); take(4)             -- 4567
    assert(f:read(buf, nil, nil, nil, mode) == 2); take(2)             -- 89
    assert(f:read(buf, nil, nil, nil, mode) == 0)                      -- end
    assert(f:read(buf, nil, nil, nil, mode) == 0)
    assert(f:read(buf, nil, nil, 10, mode) == 0)
    assert(f:read(buf, nil, nil, 1000, mode) == 0)
    assert(f:read(buf, nil, nil, 3, mode) == 4); take(4)               -- 3456
    assert(f:read(buf, nil, nil, nil, mode) == 0)   -- position unchanged: end
    assert(f:close(mode) == true)
    return table.concat(got, ",")
  end)
end)

case("read: into i..j ranges of a buffer, the rest unchanged", function ()
  local buf = memory.create(12)
  H.same({"10:0123456789__|" ..
          "10:__0123456789|" ..
          "4:__0123______|" ..
          "1:____0_______|" ..
          "4:________0123|" ..
          "3:_______012__|" ..
          "10:0123456789__|" ..
          "2:__________01|" ..
          "2:01__________"},
         both(function (mode)
           local f = assert(system.openfile(P("data.txt"), mode))
           local results = {}
           -- nothing given is the whole buffer; negative counts from the
           -- end; a j past the end or an i before the start are clipped
           for _, r in ipairs{{}, {3}, {3, 6}, {5, 5}, {-4}, {-5, -3}, {1, 100},
                              {11, 12}, {-100, 2}} do
             memory.fill(buf, "_")
             local n = f:read(buf, r[1], r[2], 0, mode)
             results[#results + 1] = n .. ":" .. memory.tostring(buf)
           end
           assert(f:close(mode) == true)
           return table.concat(results, "|")
         end))
end)

case("read: a file opened to write only, bad arguments", function ()
  local f = assert(system.openfile(P("data.txt"), "~w"))
  local g = assert(system.openfile(P("data.txt"), "~"))
  local buf = memory.create(4)
  memory.fill(buf, "=")
  both(function (mode)
    failure("bad file descriptor", EBADF, f:read(buf, nil, nil, nil, mode))
    failure("bad file descriptor", EBADF, f:read(buf, 1, 2, 0, mode))
    return memory.tostring(buf)
  end)
  assert(memory.tostring(buf) == "====")
  argerr(2, "read", "memory expected, got string",
         function () return g.read(g, "string", nil, nil, nil, "~") end)
  argerr(2, "read", "memory expected, got no value", function () return g.read(g) end)
  argerr(3, "read", "number expected, got string",
         function () return g.read(g, buf, "x", nil, nil, "~") end)
  argerr(3, "read", "number has no integer representation",
         function () return g.read(g, buf, 1.5, nil, nil, "~") end)
  argerr(4, "read", "number expected, got table",
         function () return g.read(g, buf, 1, {}, nil, "~") end)
  argerr(5, "read", "number expected, got string",
         function () return g.read(g, buf, 1, 2, "x", "~") end)
  argerr(6, "read", "unknown mode char (got 'x')",
         function () return g.read(g, buf, nil, nil, nil, "x") end)
  argerr(6, "read", "unknown mode char (got 'd')",
         function () return g.read(g, buf, nil, nil, nil, "~d") end)
  argerr(1, "read", "", function () return g.read(buf, buf) end)
  H.raises("unable to yield", g.read, g, buf)
  assert(memory.tostring(buf) == "====")
  assert(f:close("~") and g:close("~"))
end)

-- --- write ------------------------------------------------------------------

case("write: strings and memories, i..j, offsets", function ()
  both(function (mode)
    local path = P("write.txt")
    os.remove(path)
    local f = assert(system.openfile(path, mode .. "rwN"))
    assert(f:write("Hello", nil, nil, nil, mode) == 5)
    assert(f:write("[, World!]", 2, -2, nil, mode) == 8)       -- ", World!"
    assert(readfile(path) == "Hello, World!")
    -- at an offset: the position stays at 13
    assert(f:write("J", nil, nil, 0, mode) == 1)
    assert(f:write("abcdef", 4, 4, 12, mode) == 1)             -- "d" at 12
    assert(readfile(path) == "Jello, Worldd")
    assert(f:write(memory.create("<memory>"), 2, 7, nil, mode) == 6)
    assert(readfile(path) == "Jello, Worldd" .. "memory")
    assert(f:write(memory.create("xyz"), -1, nil, nil, mode) == 1)
    -- past the end of the file: the gap reads as zeros
    assert(f:write("end", nil, nil, 24, mode) == 3)
    assert(readfile(path) == "Jello, Worlddmemoryz\0\0\0\0end")
    assert(f:write("", nil, nil, nil, mode) == 0)
    assert(f:write("abc", 3, 2, nil, mode) == 0)
    assert(f:write("abc", 1, 100, nil, mode) == 3)   -- after 'z', at 20
    assert(readfile(path) == "Jello, Worlddmemoryzabc\0end")
    -- reads see the writes; the position after the last write is 23
    local buf = memory.create(10)
    assert(f:read(buf, nil, nil, nil, mode) == 4)
    assert(memory.tostring(buf, 1, 4) == "\0end")
    assert(f:close(mode) == true)
    return readfile(path)
  end)
  os.remove(P("write.txt"))
end)

case("write: bytes i..j of another file", function ()
  writefile(P("source.txt"), "abcdefghijklmnopqrstuvwxyz")
  both(function (mode)
    local path = P("copy.txt")
    os.remove(path)
    local src = assert(system.openfile(P("source.txt"), mode))
    local dst = assert(system.openfile(path, mode .. "rwN"))
    local buf = memory.create(3)
    assert(src:read(buf, nil, nil, nil, mode) == 3)         -- src at 3
    assert(dst:write(src, 1, 5, nil, mode) == 5)             -- abcde
    assert(dst:write(src, 24, 26, nil, mode) == 3)           -- xyz
    assert(dst:write(src, 10, 10, 0, mode) == 1)             -- j; offset ignored
    assert(readfile(path) == "abcdexyzj")
    assert(dst:write(src, 20, 100, nil, mode) == 7)          -- up to the end
    assert(readfile(path) == "abcdexyzjtuvwxyz")
    -- the source's position did not move
    assert(src:read(buf, nil, nil, nil, mode) == 3)
    assert(memory.tostring(buf) == "def")
    -- i and j are mandatory
    argerr(3, "write", "number expected, got nil",
           function () return dst.write(dst, src, nil, nil, nil, mode) end)
    argerr(4, "write", "number expected, got nil",
           function () return dst.write(dst, src, 1, nil, nil, mode) end)
    argerr(3, "write", "number expected, got no value",
           function () return dst.write(dst, src) end)
    H.raises("bad argument #3 to 'write'", function () return dst.write(dst, src, 0, 2, nil, mode) end)
    H.raises("bad argument #3 to 'write'", function () return dst.write(dst, src, -3, 2, nil, mode) end)
    H.raises("bad argument #4 to 'write'", function () return dst.write(dst, src, 1, -1, nil, mode) end)
    -- a source that cannot be read
    local wo = assert(system.openfile(P("source.txt"), mode .. "w"))
    local r = H.pack(dst:write(wo, 1, 3, nil, mode))
    assert(r[1] == false and type(r[2]) == "string" and math.type(r[3]) == "integer"
           and r[3] > 0, tostring(r[2]))
    assert(wo:close(mode) and src:close(mode) and dst:close(mode))
    -- a closed source
    argerr(2, "write", "closed object",
           function () return dst.write(assert(system.openfile(path, "~")), src, 1, 2, nil, "~") end)
    return readfile(path)
  end)
  os.remove(P("copy.txt"))
end)

case("write: failures", function ()
  both(function (mode)
    local ro = assert(system.openfile(P("data.txt"), mode .. "r"))
    failure("bad file descriptor", EBADF, ro:write("x", nil, nil, nil, mode))
    failure("bad file descriptor", EBADF, ro:write("x", nil, nil, 3, mode))
    failure("bad file descriptor", EBADF, ro:write(memory.create(2), nil, nil, nil, mode))
    assert(ro:close(mode) == true)
    local full = assert(system.openfile("/dev/full", mode .. "w"))
    failure("no space left on device", ENOSPC, full:write("data", nil, nil, nil, mode))
    assert(full:close(mode) == true)
    return readfile(P("data.txt"))
  end)
  local f = assert(system.openfile(P("data.txt"), "~w"))
  argerr(2, "write", "", function () return f.write(f, nil, nil, nil, nil, "~") end)
  argerr(2, "write", "", function () return f.write(f, {}, nil, nil, nil, "~") end)
  argerr(3, "write", "number expected, got string",
         function () return f.write(f, "x", "y", nil, nil, "~") end)
  argerr(5, "write", "number expected, got string",
         function () return f.write(f, "x", 1, 1, "z", "~") end)
  argerr(6, "write", "unknown mode char (got 'x')",
         function () return f.write(f, "x", nil, nil, nil, "x") end)
  H.raises("unable to yield", f.write, f, "x")
  assert(f:close("~"))
  assert(readfile(P("data.txt")) == "0123456789")
end)

case("offsets past 4 GiB in a sparse file", function ()
  local far = 5 << 30
  both(function (mode)
    local path = P("sparse.bin")
    os.remove(path)
    local f = assert(system.openfile(path, mode .. "rwN"))
    assert(f:write("tail", nil, nil, far, mode) == 4)
    assert(f:info(mode .. "B") == far + 4)
    assert(f:info(mode .. "b") * 512 < 2^20, "the file is not sparse")
    local buf = memory.create(6)
    memory.fill(buf, "_")
    assert(f:read(buf, nil, nil, far - 1, mode) == 5)
    assert(memory.tostring(buf) == "\0tail_")
    assert(f:read(buf, 1, 4, 1 << 32, mode) == 4)      -- in the hole
    assert(memory.tostring(buf, 1, 4) == "\0\0\0\0")
    -- the position is still at the start
    assert(f:write("head", nil, nil, nil, mode) == 4)
    assert(f:read(buf, 1, 4, 0, mode) == 4 and memory.tostring(buf, 1, 4) == "head")
    assert(f:resize(far + 4, mode) == true)
    assert(f:resize(far + 8, mode) == true)
    assert(f:info(mode .. "B") == far + 8)
    assert(f:read(buf, nil, nil, far + 2, mode) == 6)
    assert(memory.tostring(buf) == "il\0\0\0\0")
    local src = assert(system.openfile(path, mode))
    local tiny = assert(system.openfile(P("tiny.bin"), mode .. "wtn"))
    -- bytes of the source past 4 GiB
    assert(tiny:write(src, far + 1, far + 4, nil, mode) == 4)
    assert(readfile(P("tiny.bin")) == "tail")
    assert(src:close(mode) and tiny:close(mode))
    assert(f:close(mode) == true)
    assert(stat("%s", path) == tostring(far + 8))
    os.remove(path)
    os.remove(P("tiny.bin"))
    return true
  end)
end)

case("write and read a MiB at once", function ()
  local data = {}
  for i = 1, 1 << 14 do data[i] = ("%063d\n"):format(i) end
  data = table.concat(data)
  assert(#data == 1 << 20)
  both(function (mode)
    local path = P("big.bin")
    os.remove(path)
    local f = assert(system.openfile(path, mode .. "rwN"))
    assert(f:write(data, nil, nil, nil, mode) == #data)
    assert(f:write(memory.create(data), 1, -1, #data, mode) == #data)
    local buf = memory.create(2 * #data + 10)
    assert(f:read(buf, nil, nil, 0, mode) == 2 * #data)
    assert(memory.tostring(buf, 1, 2 * #data) == data .. data)
    assert(f:info(mode .. "B") == 2 * #data)
    assert(f:close(mode) == true)
    os.remove(path)
    return true
  end)
end)

case("many awaits on one file at once", function ()
  local path = P("many.txt")
  local lines = {}
  for i = 1, 32 do lines[i] = ("%07d\n"):format(i) end
  writefile(path, table.concat(lines))
  run(function ()
    local f = assert(system.openfile(path, "rw"))
    local jobs = {}
    for i = 1, 32 do
      jobs[i] = spawn(function ()
        local buf = memory.create(8)
        local n = f:read(buf, nil, nil, (i - 1) * 8)
        local w = f:write(("%07d\n"):format(i * 2), nil, nil, (i - 1) * 8 + 256)
        return n, memory.tostring(buf), w
      end)
    end
    for i = 1, 32 do
      waitfor(jobs[i], "job " .. i)
      H.same({8, lines[i], 8}, table.unpack(jobs[i].values, 1, jobs[i].values.n))
    end
    assert(f:info("B") == 512)
    assert(f:close() == true)
  end, 30)
  local text = readfile(path)
  for i = 1, 32 do
    assert(text:sub(256 + (i - 1) * 8 + 1, 256 + i * 8) == ("%07d\n"):format(i * 2))
  end
  os.remove(path)
end)

case("blocking mode does not yield, even in a coroutine", function ()
  local path = P("noyield.txt")
  local co = coroutine.create(function ()
    local f = assert(system.openfile(path, "~rwN"))
    local buf = memory.create(4)
    assert(f:write("data", nil, nil, nil, "~") == 4)
    assert(f:read(buf, nil, nil, 0, "~") == 4)
    assert(f:resize(2, "~") and f:flush("~") and f:flush("~d"))
    assert(f:touch("~b", 1) and f:own(-1, -1, "~") and f:grant(384, "~"))
    assert(f:info("~B") == 2)
    assert(f:close("~") == true)
    local g = assert(system.maketemp(P("noyield_"), "~o"))
    assert(g:close("~"))
    return "done"
  end)
  H.same({true, "done"}, coroutine.resume(co))
  assert(coroutine.status(co) == "dead")
  assert(readfile(path) == "da")
  shell("rm -f " .. DIR .. "/noyield*")
end)

-- --- resize, flush, touch, own, grant ---------------------------------------

case("resize: shorter, longer, and files it cannot resize", function ()
  both(function (mode)
    local path = P("resize.txt")
    writefile(path, "0123456789")
    local f = assert(system.openfile(path, mode .. "rw"))
    assert(f:resize(4, mode) == true)
    assert(readfile(path) == "0123")
    assert(f:resize(7, mode) == true)
    assert(readfile(path) == "0123\0\0\0")
    assert(f:resize(0, mode) == true)
    assert(readfile(path) == "")
    assert(f:close(mode) == true)
    local ro = assert(system.openfile(path, mode))
    failure("invalid argument", EINVAL, ro:resize(3, mode))
    assert(ro:close(mode) == true)
    return readfile(path)
  end)
  local f = assert(system.openfile(P("data.txt"), "~"))
  argerr(2, "resize", "number expected, got no value", function () return f.resize(f) end)
  argerr(2, "resize", "number expected, got string", function () return f.resize(f, "x", "~") end)
  argerr(2, "resize", "number has no integer representation",
         function () return f.resize(f, 1.5, "~") end)
  argerr(3, "resize", "unknown mode char (got 'd')", function () return f.resize(f, 1, "d") end)
  H.raises("unable to yield", f.resize, f, 10)
  assert(f:close("~"))
  os.remove(P("resize.txt"))
end)

case("flush: data and metadata, 'd' data only", function ()
  both(function (mode)
    local path = P("flush.txt")
    os.remove(path)
    local f = assert(system.openfile(path, mode .. "wN"))
    for _, m in ipairs{"", "d"} do
      assert(f:write("<" .. m .. ">", nil, nil, nil, mode) == #m + 2)
      H.same({true}, f:flush(mode .. m))
    end
    assert(f:close(mode) == true)
    local ro = assert(system.openfile(path, mode))
    H.same({true}, ro:flush(mode))
    assert(ro:close(mode) == true)
    return readfile(path)
  end)
  local f = assert(system.openfile(P("data.txt"), "~"))
  argerr(2, "flush", "unknown mode char (got 'x')", function () return f.flush(f, "~x") end)
  argerr(2, "flush", "unknown mode char (got 'a')", function () return f.flush(f, "a") end)
  H.raises("unable to yield", f.flush, f)
  H.raises("unable to yield", f.flush, f, "d")
  assert(f:close("~"))
  os.remove(P("flush.txt"))
end)

case("touch: access and modification times", function ()
  local path = P("touch.txt")
  writefile(path, "t")
  local function times () return stat("%.9X:%.9Y", path) end
  both(function (mode)
    local f = assert(system.openfile(path, mode))   -- read-only will do
    assert(f:touch(mode .. "am", 1000.25, 2000.5) == true)
    assert(times() == "1000.250000000:2000.500000000")
    H.same({1000.25, 2000.5}, f:info(mode .. "am"))
    assert(f:touch(mode .. "ma", 10, 20) == true)
    assert(times() == "20.000000000:10.000000000")
    assert(f:touch(mode .. "b", 3000) == true)
    assert(times() == "3000.000000000:3000.000000000")
    -- a time not given is now
    local before = os.time()
    assert(f:touch(mode .. "a", 5) == true)
    local a, m = f:info(mode .. "am")
    assert(a == 5 and m >= before - 1 and m <= before + 5, m)
    assert(f:touch(mode .. "m", 6) == true)
    a, m = f:info(mode .. "am")
    assert(a >= before - 1 and m == 6, a)
    assert(f:touch(mode) == true)
    a, m = f:info(mode .. "am")
    assert(a >= before - 1 and m >= before - 1)
    assert(f:touch(mode .. "b", 7) == true)
    H.same({7, 7}, system.fileinfo(path, "~am"))
    assert(f:close(mode) == true)
    return times()
  end)
  local f = assert(system.openfile(path, "~"))
  argerr(2, "touch", "unknown mode char (got 'l')", function () return f.touch(f, "~l", 1) end)
  argerr(2, "touch", "unknown mode char (got 'x')", function () return f.touch(f, "x") end)
  argerr(3, "touch", "number expected, got string", function () return f.touch(f, "~a", "x") end)
  H.raises("unable to yield", f.touch, f)
  H.raises("unable to yield", f.touch, f, "b", 1)
  assert(f:close("~"))
  assert(times() == "7.000000000:7.000000000")
  os.remove(path)
end)

case("own: user and group ids, -1 unchanged", function ()
  local path = P("own.txt")
  writefile(path, "o")
  local uid, gid = system.fileinfo(path, "~ug")
  local root = shell("id -u") == "0"
  both(function (mode)
    local f = assert(system.openfile(path, mode))
    assert(f:own(uid, gid, mode) == true)
    assert(f:own(-1, -1, mode) == true)
    if root then
      assert(f:own(65534, -1, mode) == true)
      assert(stat("%u:%g", path) == "65534:" .. gid)
      assert(f:own(-1, 65534, mode) == true)
      assert(stat("%u:%g", path) == "65534:65534")
      H.same({65534, 65534}, f:info(mode .. "ug"))
      assert(f:own(uid, gid, mode) == true)
    else
      failure("operation not permitted", EPERM, f:own(0, 0, mode))
    end
    assert(f:close(mode) == true)
    return stat("%u:%g", path)
  end)
  local f = assert(system.openfile(path, "~"))
  argerr(2, "own", "number expected, got no value", function () return f.own(f) end)
  argerr(3, "own", "number expected, got no value", function () return f.own(f, 0) end)
  argerr(3, "own", "number expected, got string", function () return f.own(f, 0, "x", "~") end)
  argerr(4, "own", "unknown mode char (got 'l')", function () return f.own(f, -1, -1, "~l") end)
  H.raises("unable to yield", f.own, f, -1, -1)
  assert(f:close("~"))
  os.remove(path)
end)

case("grant: permission strings and numbers", function ()
  local path = P("grant.txt")
  writefile(path, "g")
  both(function (mode)
    local f = assert(system.openfile(path, mode))
    assert(f:grant("rwxRX41", mode) == true)
    assert(stat("%a", path) == "755")
    assert(f:grant("UGSr", mode) == true)
    assert(stat("%a", path) == "7400")
    H.same({true, true, true, true, false, false}, f:info(mode .. "UGSrwx"))
    assert(f:grant("", mode) == true)
    assert(stat("%a", path) == "0")
    assert(f:grant(420, mode) == true)
    assert(stat("%a", path) == "644")
    assert(f:close(mode) == true)
    return stat("%a", path)
  end)
  local f = assert(system.openfile(path, "~"))
  argerr(2, "grant", "number expected, got no value", function () return f.grant(f) end)
  argerr(2, "grant", "unknown perm char (got 'q')", function () return f.grant(f, "rwq", "~") end)
  argerr(2, "grant", "number has no integer representation",
         function () return f.grant(f, 1.5, "~") end)
  argerr(3, "grant", "unknown mode char (got 'x')", function () return f.grant(f, 420, "x") end)
  H.raises("unable to yield", f.grant, f, 420)
  assert(f:close("~"))
  assert(stat("%a", path) == "644")
  os.remove(path)
end)

-- --- info -------------------------------------------------------------------

local INFOCHARS = "?M_ug#Dd*Bbivasmc" .. "UGSrwxRWX421"

case("info: every char, the values fileinfo gives for the path", function ()
  local path = P("info.txt")
  writefile(path, "info data")
  assert(system.touchfile(path, "~am", 1234.5, 5678.25))
  assert(system.grantfile(path, "rwR4", "~"))
  local expected = H.pack(system.fileinfo(path, "~" .. INFOCHARS))
  assert(expected.n == #INFOCHARS)
  local got = H.pack(both(function (mode)
    local f = assert(system.openfile(path, mode))
    local r = H.pack(f:info(mode .. INFOCHARS))
    assert(f:close(mode) == true)
    return table.unpack(r, 1, r.n)
  end))
  for i = 1, #INFOCHARS do
    local c = INFOCHARS:sub(i, i)
    assert(got[i] == expected[i], ("'%s': %s, fileinfo gives %s"):format(
           c, tostring(got[i]), tostring(expected[i])))
    assert(math.type(got[i]) == math.type(expected[i]) and
           type(got[i]) == type(expected[i]), c)
  end
  H.same({"file", 9, 1234.5, 5678.25, true, true, false, true, false, true},
         run(function ()
           local f <close> = assert(system.openfile(path))
           return f:info("?BamrwxRW4")
         end))
  -- each char alone and repeated
  local f = assert(system.openfile(path, "~"))
  for i = 1, #INFOCHARS do
    local c = INFOCHARS:sub(i, i)
    H.same({expected[i], expected[i], expected[i]}, f:info("~" .. c .. c .. c))
  end
  H.same({}, f:info("~"))
  -- the values are of the open file: its links drop to 0 once removed
  os.remove(path)
  H.same({0, 9, "file"}, f:info("~*B?"))
  assert(f:close("~"))
end)

case("info: chars only paths have, and other bad modes", function ()
  local f = assert(system.openfile(P("data.txt"), "~"))
  for c in ("lp=@NIAFfTtoz!%0"):gmatch(".") do
    argerr(2, "info", "unknown mode char (got '" .. c .. "')",
           function () return f.info(f, "~" .. c) end)
    argerr(2, "info", "unknown mode char (got '" .. c .. "')",
           function () return f.info(f, "?B" .. c) end)
  end
  argerr(2, "info", "'~' must be in the begin of 'mode'", function () return f.info(f, "B~") end)
  H.raises("unable to yield", f.info, f, "B")
  -- a directory and a character device
  run(function ()
    local d = assert(system.openfile(DIR))
    H.same({"directory"}, d:info("?"))
    assert(d:close())
    local n = assert(system.openfile("/dev/null", "w"))
    H.same({"character", system.fileinfo("/dev/null", "~d")}, n:info("?d"))
    assert(n:close())
  end)
  assert(f:close("~"))
end)

-- --- await functions: outside coroutines, early resume, cancellation ---------

case("every call raises 'unable to yield' outside coroutines", function ()
  H.raises("unable to yield", system.openfile, P("data.txt"))
  H.raises("unable to yield", system.openfile, P("ny.txt"), "wN")
  H.raises("unable to yield", system.maketemp, P("ny_"), "o")
  H.raises("unable to yield", system.maketemp, P("ny_"), "fo")
  assert(io.open(P("ny.txt")) == nil)
  assert(shell("ls " .. DIR .. " | grep -c '^ny_' || true") == "0")
  local f = assert(system.openfile(P("data.txt"), "~rw"))
  for name, call in pairs(methods(f, "")) do
    H.raises("unable to yield", call)
    -- the file is still open and unchanged
    assert(f:info("~B") == 10, name)
  end
  assert(readfile(P("data.txt")) == "0123456789")
  assert(f:close("~") == true)
end)

case("each await returns the values of an early coroutine.resume", function ()
  local path = P("early.txt")
  writefile(path, "early data")
  local f = assert(system.openfile(path, "~rw"))
  local buf = memory.create(4)
  local calls = {
    function () return system.openfile(path, "r") end,
    function () return system.openfile(P("early_new.txt"), "wN") end,
    function () return system.maketemp(P("early_"), "o") end,
    function () return system.maketemp(P("early_"), "fo") end,
    function () return f:read(buf) end,
    function () return f:read(buf, 1, 2, 3) end,
    function () return f:write("E", nil, nil, 0) end,
    function () return f:write(buf) end,
    function () return f:resize(10) end,
    function () return f:flush() end,
    function () return f:flush("d") end,
    function () return f:touch("b", 77) end,
    function () return f:own(-1, -1) end,
    function () return f:grant(420) end,
    function () return f:info("?B") end,
  }
  for i, call in ipairs(calls) do
    local t, co = spawn(function ()
      H.same({"early", i}, call())
      -- the next await of the coroutine waits for the one it left
      return f:info("B")
    end)
    assert(coroutine.status(co) == "suspended", "call " .. i .. " did not wait")
    local ok, err = coroutine.resume(co, "early", i)
    assert(ok, err)
    H.drain()
    assert(t.done, "call " .. i .. " still waits")
    H.same({10}, table.unpack(t.values, 1, t.values.n))
  end
  -- the file still works
  assert(f:info("~B") == 10)
  assert(f:close("~") == true)
  f = nil
  collectgarbage()
  H.drain()
  -- what was left behind ran to its end: opened files are closed
  shell("rm -f " .. DIR .. "/early*")
end)

case("an early resumed close still closes the descriptor", function ()
  for i = 1, 10 do
    local r = newfd(system.openfile, P("data.txt"), "~")
    local f = r[1]
    local t, co = spawn(function () return f:close() end)
    assert(coroutine.status(co) == "suspended", "close did not wait")
    assert(coroutine.resume(co, "early", i))
    H.same({"early", i}, table.unpack(t.values, 1, t.values.n))
    argerr(1, "info", "closed object", function () return f.info(f, "~B") end)
    H.drain()
    assert(not fdset()[r.fd], "try " .. i .. ": descriptor " .. r.fd .. " still open")
  end
end)

case("coroutine.close of a waiting coroutine leaves nothing behind", function ()
  local path = P("cancel.txt")
  writefile(path, "cancel")
  local f = assert(system.openfile(path, "~rw"))
  local src = assert(system.openfile(path, "~"))
  local buf = memory.create(8)
  local calls = {
    function () return system.openfile(path) end,
    function () return system.openfile(P("cancel_new.txt"), "rwN") end,
    function () return system.maketemp(P("cancel_"), "o") end,
    function () return system.maketemp(P("cancel_"), "of") end,
    function () return f:read(buf) end,
    function () return f:write(buf, 1, 2) end,
    function () return f:write(src, 1, 3) end,
    function () return f:resize(6) end,
    function () return f:flush() end,
    function () return f:touch() end,
    function () return f:info("B") end,
  }
  for i, call in ipairs(calls) do
    local _, co = spawn(call)
    assert(coroutine.status(co) == "suspended", "call " .. i .. " did not wait")
    assert(coroutine.close(co))
    collectgarbage()
    H.drain()
  end
  assert(f:close("~") == true and src:close("~") == true)
  collectgarbage()
  H.drain()
  shell("rm -f " .. DIR .. "/cancel*")
end)

-- A FIFO whose reads wait until this process writes to it: its reads stay
-- pending as long as a case needs.
local FIFO = P("fifo")
shell("mkfifo " .. FIFO)

case("close while another coroutine's read is pending", function ()
  local fd
  run(function ()
    local r = newfd(system.openfile, FIFO, "rw")   -- 'rw': no wait for a writer
    local f = assert(r[1])
    fd = r.fd
    local writer = assert(io.open(FIFO, "w"))
    local buf = memory.create(16)
    local reader = spawn(function () return f:read(buf) end)
    local closer = spawn(function () return f:close() end)
    system.suspend(0.05)
    assert(not reader.done, "the read did not wait")
    -- new calls fail at once
    argerr(1, "read", "closed object", function () return f.read(f, buf, nil, nil, nil, "~") end)
    argerr(1, "info", "closed object", function () return f.info(f, "~B") end)
    argerr(1, "close", "closed object", function () return f.close(f, "~") end)
    -- the descriptor stays while the read needs it
    assert(fdset()[fd], "the descriptor was closed under a pending read")
    writer:write("released")
    writer:flush()
    waitfor(reader, "the read")
    waitfor(closer, "the close")
    H.same({8}, table.unpack(reader.values, 1, reader.values.n))
    assert(memory.tostring(buf, 1, 8) == "released")
    H.same({true}, table.unpack(closer.values, 1, closer.values.n))
    writer:close()
  end, 30)
  H.drain()
  assert(not fdset()[fd], "the descriptor was not closed")
end)

case("other calls on a file while a read on it is pending", function ()
  run(function ()
    local f = assert(system.openfile(FIFO, "~rw"))
    local buf = memory.create(8)
    local reader = spawn(function () return f:read(buf) end)
    system.suspend(0.02)
    assert(not reader.done, "the read did not wait")
    -- the same file, in blocking mode and as awaits of other coroutines
    H.same({"pipe"}, f:info("~?"))
    H.same({"pipe"}, f:info("?"))
    local writer = spawn(function () return f:write("through") end)
    waitfor(writer, "the write")
    H.same({7}, table.unpack(writer.values, 1, writer.values.n))
    waitfor(reader, "the read")
    H.same({7}, table.unpack(reader.values, 1, reader.values.n))
    assert(memory.tostring(buf, 1, 7) == "through")
    assert(f:close() == true)
  end, 30)
end)

case("garbage collection of a file with a pending read", function ()
  run(function ()
    local writer
    local t, co = spawn(function ()
      local f = H.track(assert(system.openfile(FIFO, "~rw")))
      writer = assert(io.open(FIFO, "w"))
      local buf = H.track(memory.create(64))
      local r = H.pack(f:read(buf))
      -- resumed early: the file and buffer are dropped here
      return table.unpack(r, 1, r.n)
    end)
    assert(not t.done)
    assert(coroutine.resume(co, "early"))
    assert(t.done)
    H.same({"early"}, table.unpack(t.values, 1, t.values.n))
    co = nil
    -- the read is still pending in the thread pool: the file object and
    -- buffer are garbage now, but must not go while it uses them
    for _ = 1, 3 do collectgarbage() end
    system.suspend(0.02)
    for _ = 1, 3 do collectgarbage() end
    writer:write(("x"):rep(64))
    writer:flush()
    writer:close()
    system.suspend(0.05)
    for _ = 1, 3 do collectgarbage() end
  end, 30)
  H.drain()
  collectgarbage()
  H.drain()
end)

case("garbage collection with pending operations on a regular file", function ()
  run(function ()
    -- start operations, resume early, drop everything, collect
    for i = 1, 20 do
      local co = coroutine.create(function ()
        local f = assert(system.openfile(P("data.txt"), "~rw"))
        local buf = memory.create(1024)
        if i % 2 == 0 then f:read(buf) else f:write(buf, 1, 10, 100) end
      end)
      assert(coroutine.resume(co))
      assert(coroutine.status(co) == "suspended", "no wait")
      assert(coroutine.resume(co, "early"))
      assert(coroutine.status(co) == "dead")
      co = nil
      collectgarbage()
    end
  end)
  collectgarbage()
  H.drain()
  collectgarbage()
  H.drain()
  -- the writes landed at offset 100: truncate back
  local f = assert(system.openfile(P("data.txt"), "~w"))
  assert(f:resize(10, "~"))
  assert(f:close("~"))
  assert(readfile(P("data.txt")) == "0123456789")
end)

-- --- maketemp 'o' -----------------------------------------------------------

case("maketemp 'o': an open file, and 'fo'/'of' in mode order", function ()
  both(function (mode)
    local prefix = P("tmp_")
    local r = newfd(system.maketemp, prefix, mode .. "o")
    local f = H.track(r[1])
    assert(r.n == 1 and tostring(f):sub(1, 6) == "file (", tostring(f))
    -- close-on-exec, readable and writable
    assert(fdflags(r.fd) & FLAGMASK == O_RDWR | O_CLOEXEC,
           ("flags %o"):format(fdflags(r.fd)))
    assert(f:write("temporary", nil, nil, nil, mode) == 9)
    local buf = memory.create(9)
    assert(f:read(buf, nil, nil, 0, mode) == 9 and memory.tostring(buf) == "temporary")
    assert(f:info(mode .. "?M") == "file")
    assert(select(2, f:info(mode .. "?M")) & 511 == 384)   -- 0600
    assert(f:close(mode) == true)
    -- with the path, in the order of the mode's chars
    local path, g = system.maketemp(prefix, mode .. "fo")
    assert(type(path) == "string" and path:match("/tmp_......$"), tostring(path))
    assert(tostring(g):sub(1, 6) == "file (")
    assert(g:write("fo", nil, nil, nil, mode) == 2)
    assert(g:close(mode) == true)
    assert(readfile(path) == "fo")
    local h, path2 = system.maketemp(prefix, mode .. "of")
    assert(tostring(h):sub(1, 6) == "file (" and type(path2) == "string")
    assert(path2 ~= path)
    assert(h:write("of", nil, nil, nil, mode) == 2)
    assert(h:close(mode) == true)
    assert(readfile(path2) == "of")
    -- failures
    failure("no such file or directory", ENOENT, system.maketemp(P("missing/tmp_"), mode .. "o"))
    failure("not a directory", ENOTDIR, system.maketemp(P("data.txt/tmp_"), mode .. "fo"))
    shell("rm -f " .. DIR .. "/tmp_*")
    return true
  end)
end)

-- --- descriptors inherited by children --------------------------------------

-- The descriptors (0 to 255) a child /bin/sh holds, as a string of their
-- numbers. It opens none while it looks: each number found is appended to
-- a file by a redirection of that printf only.
local function childfds ()
  local path = P("childfds.txt")
  os.remove(path)
  local script = 'n=0; while [ $n -lt 256 ]; do ' ..
                 '[ -e /proc/$$/fd/$n ] && printf "%s " $n >>' .. quote(path) ..
                 '; n=$((n+1)); done; exit 0'
  H.same({"exit", 0}, system.execute("/bin/sh", "-c", script))
  local text = readfile(path)
  os.remove(path)
  return text
end

case("files opened without 'x' are inherited, with 'x' not", function ()
  writefile(P("inherit.txt"), "i")
  run(function ()
    local before = childfds()
    local inherited, private = {}, {}
    local files = {}
    for _, m in ipairs{"", "x", "r", "rx", "w", "wx", "rwn", "rwnx", "~", "~x",
                       "~rw", "~rwx", "~a", "~ax"} do
      local r = newfd(system.openfile, P("inherit.txt"), m)
      assert(r[1], r[2])
      files[#files + 1] = r[1]
      if m:find("x") then private[r.fd] = m else inherited[r.fd] = m end
    end
    local r = newfd(system.maketemp, P("inh_"), "o")
    files[#files + 1] = r[1]
    private[r.fd] = "maketemp"
    local r2 = newfd(system.maketemp, P("inh_"), "~o")
    files[#files + 1] = r2[1]
    private[r2.fd] = "~maketemp"
    local after = childfds()
    local set = {}
    for n in after:gmatch("%d+") do set[tonumber(n)] = true end
    for n in before:gmatch("%d+") do
      assert(set[tonumber(n)], "the child lost descriptor " .. n)
      set[tonumber(n)] = nil
    end
    for fd, m in pairs(inherited) do
      assert(set[fd], "mode '" .. m .. "': descriptor " .. fd .. " not inherited")
      set[fd] = nil
    end
    for fd, m in pairs(private) do
      assert(not set[fd], "mode '" .. m .. "': descriptor " .. fd .. " inherited")
    end
    assert(next(set) == nil, "the child has other descriptors: " .. after)
    for _, f in ipairs(files) do assert(f:close()) end
    -- once closed, none reaches a child
    assert(childfds() == before)
  end, 30)
  shell("rm -f " .. P("inherit.txt") .. " " .. DIR .. "/inh_* " .. P("childfds.txt"))
end)

-- --- system.execute with file objects ---------------------------------------

-- Children whose output is checked run without the sanitizer preload
-- (its reports would mix with their output).
local CLEANENV = {PATH = os.getenv("PATH")}

case("execute: file objects as the standard streams", function ()
  writefile(P("in.txt"), "some input\n")
  run(function ()
    local inp = assert(system.openfile(P("in.txt"), "x"))  -- 'x' too: dup2 clears it
    local out = assert(system.openfile(P("out.txt"), "wtn"))
    local err = assert(system.openfile(P("err.txt"), "wtnx"))
    H.same({"exit", 3}, system.execute{
      execfile = "/bin/sh",
      arguments = {"-c", "tr a-z A-Z; echo on stderr >&2; exit 3"},
      stdin = inp, stdout = out, stderr = err,
      environment = CLEANENV,
    })
    assert(readfile(P("out.txt")) == "SOME INPUT\n")
    assert(readfile(P("err.txt")) == "on stderr\n")
    -- the objects are still open; the child moved their shared positions
    assert(out:write("more\n") == 5)
    assert(readfile(P("out.txt")) == "SOME INPUT\nmore\n")
    local buf = memory.create(4)
    assert(inp:read(buf) == 0)
    -- the same file for stdout and stderr
    H.same({"exit", 0}, system.execute{
      execfile = "/bin/sh", arguments = {"-c", "echo one; echo two >&2"},
      stdout = err, stderr = err, environment = CLEANENV,
    })
    assert(readfile(P("err.txt")) == "on stderr\none\ntwo\n")
    assert(inp:close() and out:close() and err:close())
    -- a closed file object is refused
    local ok, res = pcall(system.execute, {execfile = "/bin/true", stdout = out})
    assert(not ok or res == false, "a closed file object was used")
  end, 30)
  shell("rm -f " .. P("in.txt") .. " " .. P("out.txt") .. " " .. P("err.txt"))
end)

-- --- standard streams that are files ----------------------------------------

-- Runs Lua 'code' (the body of a function) in a child lua5.4 whose
-- standard streams the shell redirections 'redirs' set; the child reports
-- through report(...) into a file of DIR. Returns the reported lines.
local function child (code, redirs)
  local script, reportpath = P("child.lua"), P("report.txt")
  os.remove(reportpath)
  writefile(script, ([[
    local system = require "coutil.system"
    local memory do  -- the C module, not test/memory.lua
      local path = package.path
      package.path = ""
      memory = require "memory"
      package.path = path
    end
    local out = assert(io.open(%q, "w"))
    local function report (...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      out:write(table.concat(t, " "), "\n")
      out:flush()
    end
    local function fds ()
      local list = {}
      for n = 0, 63 do
        local f = io.open("/proc/self/fd/" .. n)
        if f then f:close(); list[#list + 1] = n end
      end
      return table.concat(list, " ")
    end
    local function main ()
  ]]):format(reportpath) .. code .. [[
    end
    local co = coroutine.create(function ()
      local ok, err = xpcall(main, debug.traceback)
      if not ok then report("ERROR", err) end
    end)
    coroutine.resume(co)
    local deadline = system.nanosecs() + 20e9
    while coroutine.status(co) ~= "dead" and system.nanosecs() < deadline do
      system.run("step")
    end
    if coroutine.status(co) ~= "dead" then report("TIMEOUT") end
    out:close()
  ]])
  local ok = os.execute(("%s timeout 30 %s %s %s"):format(H.childenv(),
    os.getenv("COUTIL_LUA") or "lua5.4", script, redirs))
  local text = readfile(reportpath)
  os.remove(script)
  os.remove(reportpath)
  assert(ok, "the child failed:\n" .. text)
  assert(not text:find("ERROR", 1, true) and not text:find("TIMEOUT", 1, true), text)
  return text
end

local function expect (text, lines)
  for _, want in ipairs(lines) do
    assert(text:find(want .. "\n", 1, true), "missing '" .. want .. "' in:\n" .. text)
  end
end

case("stdio: regular files are file objects", function ()
  writefile(P("stdin.txt"), "input from a file\n")
  local text = child([[
    local i, o, e = system.stdin, system.stdout, system.stderr
    report("kinds", tostring(i):sub(1, 6), tostring(o):sub(1, 6), tostring(e):sub(1, 6))
    report("cached", system.stdin == i, system.stdout == o)
    local buf = memory.create(64)
    local n = i:read(buf)
    report("read", n, memory.tostring(buf, 1, n))
    report("eof", i:read(buf))
    n = i:read(buf, 1, 5, 6, "~")
    report("offset", n, memory.tostring(buf, 1, n))
    report("info", i:info("?B"))
    report("write", o:write("to stdout\n"))
    report("write", o:write(memory.create("<blocking>\n"), 2, -1, nil, "~"))
    report("write", e:write("to stderr\n"))
    local before = fds()
    report("close", i:close(), o:close(), e:close())
    report("closed", (select(2, pcall(i.read, i, buf)):match("closed object")))
    local after = fds()
    -- each was a duplicate: three descriptors fewer, 0 to 2 still open
    local gone = {}
    local set = {}
    for d in after:gmatch("%d+") do set[d] = true end
    for d in before:gmatch("%d+") do if not set[d] then gone[#gone + 1] = d end end
    report("gone", #gone, set["0"], set["1"], set["2"])
    io.write("io after close\n")
    io.stdout:flush()
    io.stderr:write("io stderr after close\n")
  ]], "<" .. P("stdin.txt") .. " >" .. P("stdout.txt") .. " 2>" .. P("stderr.txt"))
  expect(text, {"kinds file ( file ( file (", "cached true true",
                "read 18 input from a file\n", "eof 0", "offset 5 from ",
                "info file 18", "write 10", "write 10", "write 10",
                "close true true true", "closed closed object",
                "gone 3 true true true"})
  assert(readfile(P("stdout.txt")) == "to stdout\nblocking>\nio after close\n",
         readfile(P("stdout.txt")))
  assert(readfile(P("stderr.txt")) == "to stderr\nio stderr after close\n")
  shell("rm -f " .. DIR .. "/std*.txt")
end)

case("stdio: /dev/null is a file object", function ()
  local text = child([[
    local i, o = system.stdin, system.stdout
    report("kinds", tostring(i):sub(1, 6), tostring(o):sub(1, 6))
    local buf = memory.create(8)
    report("read", i:read(buf), i:read(buf, nil, nil, nil, "~"))
    report("write", o:write("gone"), o:write("gone", nil, nil, nil, "~"))
    report("info", i:info("?"), o:info("~?"))
    report("close", i:close(), o:close("~"))
  ]], "</dev/null >/dev/null")
  expect(text, {"kinds file ( file (", "read 0 0", "write 4 4",
                "info character character", "close true true"})
end)

case("stdio: a file opened for appending as stdout", function ()
  writefile(P("append.txt"), "first\n")
  local text = child([[
    report("write", system.stdout:write("second\n"))
    report("flush", system.stdout:flush())
  ]], ">>" .. P("append.txt") .. " </dev/null")
  expect(text, {"write 7", "flush true"})
  assert(readfile(P("append.txt")) == "first\nsecond\n")
  os.remove(P("append.txt"))
end)

os.remove(FIFO)
shell("rm -rf " .. quote(DIR))
assert(shell("ls -d " .. quote(DIR) .. " 2>/dev/null") == "")
H.done()
