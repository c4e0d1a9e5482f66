-- test/filesys.lua: the path functions of the manual's "File System"
-- (linkfile, copyfile, movefile, removefile, maketemp, makedir, listdir,
-- touchfile, ownfile, grantfile, fileinfo, filebits). Every case runs in
-- blocking mode ('~') and as an await, which must give the same results;
-- values are checked against stat(1); failures are the triple of libuv's
-- message and errno; after every case the process holds the descriptors
-- it held before. Files live in a private directory removed at the end.

local H = require "helpers"
local system = require "coutil.system"

local function shell (cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return (out:gsub("\n$", ""))
end

local DIR = shell("mktemp -d /tmp/coutil-filesys-XXXXXX")
assert(DIR:match("^/tmp/coutil%-filesys%-"), "mktemp -d failed")
local function P (name) return DIR .. "/" .. name end

local function quote (s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local writefile = H.writefile

local readfile = H.readfile

local fds = H.fds

-- Runs f(mode) with '~' and then as an await under system.run; both must
-- return the same values (as compared by 'same', equality by default).
local function both (f, same)
  local blocking = H.pack(f("~"))
  local awaited = H.pack(H.run(f, 10, ""))
  if same then same(blocking, awaited)
  else H.same(blocking, table.unpack(awaited, 1, awaited.n)) end
  return table.unpack(awaited, 1, awaited.n)
end

-- The baseline is taken once libuv made its own descriptors: the loop's,
-- and the spare one it keeps after the first stream socket.
H.run(function () assert(system.fileinfo(DIR, "?")) end)
do
  local s = assert(system.socket("passive", "local"))
  assert(s:bind(P("warmup")))
  s:close()
  H.drain()
  os.remove(P("warmup"))
end
local baseline = fds()

local function case (name, f)
  H.case(name, function ()
    f()
    H.drain()
    collectgarbage()
    assert(fds() == baseline, "descriptors: " .. fds() .. ", were " .. baseline)
  end)
end

-- fileinfo raises its failures: the message, or nil when it succeeds.
local function infoerror (path, mode)
  local ok, err = pcall(system.fileinfo, path, mode)
  if not ok then return err end
end

local function failure (msg, errno, ...)
  H.same({false, msg, errno}, ...)
end

local ENOENT, EEXIST, ENOTDIR, EISDIR = 2, 17, 20, 21
local ENAMETOOLONG, ELOOP, EACCES, ENOTEMPTY = 36, 40, 13, 39

writefile(P("data.txt"), "some data\n")

-- --- modes and arguments ----------------------------------------------------

case("unknown mode chars are raised, each naming the argument", function ()
  local funcs = {
    {system.linkfile, 3, "~sdj", P("data.txt"), P("x")},
    {system.copyfile, 3, "~ncC", P("data.txt"), P("x")},
    {system.movefile, 3, "~", P("data.txt"), P("x")},
    {system.removefile, 2, "~d", P("x")},
    {system.maketemp, 2, "~fo", P("t_")},
    {system.makedir, 3, "~", P("x"), 448},
    {system.listdir, 2, "~", DIR},
    {system.touchfile, 2, "~lamb", P("x")},
    {system.ownfile, 4, "~l", P("x"), -1, -1},
    {system.grantfile, 3, "~", P("x"), 448},
  }
  for _, t in ipairs(funcs) do
    local f, arg, valid = t[1], t[2], t[3]
    for c in ("ozqZ!%0"):gmatch(".") do
      if not valid:find(c, 1, true) then
        local args = {table.unpack(t, 4)}
        args[arg] = c
        H.badarg(arg, "unknown mode char (got '" .. c .. "')", f,
                 table.unpack(args, 1, arg))
      end
    end
  end
  H.badarg(2, "unknown mode char (got 'o')", system.fileinfo, DIR, "o")
  H.badarg(2, "unknown mode char (got '\\0')", system.fileinfo, DIR, "?\0")
end)

case("'~' first in sequence modes, anywhere in flag modes", function ()
  H.badarg(2, "'~' must be in the begin of 'mode'", system.maketemp, P("t_"), "f~")
  H.badarg(2, "'~' must be in the begin of 'mode'", system.fileinfo, DIR, "?~")
  H.badarg(2, "'~' must be in the begin of 'mode'", system.touchfile, DIR, "a~")
  -- the original's suite: removefile(path, "d~") and linkfile(.., "s~")
  assert(system.makedir(P("flags"), 448, "~") == true)
  assert(system.removefile(P("flags"), "d~") == true)
  assert(system.linkfile("data.txt", P("flags"), "s~") == true)
  assert(system.removefile(P("flags"), "~") == true)
end)

case("'l' is a prefix of touchfile, ownfile and fileinfo modes", function ()
  H.badarg(2, "'l' must be in the begin of 'mode'", system.fileinfo, DIR, "?l")
  H.badarg(2, "'l' must be in the begin of 'mode'", system.fileinfo, DIR, "~?l")
  H.badarg(2, "'l' must be in the begin of 'mode'", system.touchfile, DIR, "al", 1)
  H.badarg(4, "'l' must be in the begin of 'mode'", system.ownfile, DIR, -1, -1, "~~l")
  assert(system.fileinfo(DIR, "~l?") == "directory")
end)

case("bad arguments are raised before anything starts", function ()
  H.badarg(1, "string expected, got no value", system.removefile)
  H.badarg(2, "string expected, got nil", system.linkfile, P("a"), nil)
  H.badarg(2, "string expected, got table", system.copyfile, P("a"), {})
  H.badarg(1, "string expected, got boolean", system.fileinfo, true, "?")
  H.badarg(2, "number expected, got no value", system.makedir, P("a"))
  H.badarg(2, "number expected, got no value", system.grantfile, P("a"))
  H.badarg(2, "number has no integer representation", system.grantfile, P("a"), 1.5)
  H.badarg(2, "number expected, got no value", system.ownfile, P("a"))
  H.badarg(3, "number expected, got nil", system.ownfile, P("a"), 0, nil, "~")
  H.badarg(3, "number expected, got string", system.touchfile, P("a"), "~a", "x")
  H.badarg(2, "unknown perm char (got 'q')", system.makedir, P("a"), "rwq", "~")
  H.badarg(2, "unknown perm char (got 'u')", system.grantfile, P("a"), "u", "~")
  H.badarg(1, "too long", system.maketemp, P(("X"):rep(250)), "~")
  H.badarg(1, "too long", system.maketemp, P(("X"):rep(250)))
  assert(infoerror(P("a"), "~?"):find("no such file", 1, true))  -- none made
end)

case("await functions raise 'unable to yield' outside coroutines", function ()
  H.raises("unable to yield", system.fileinfo, DIR, "?")
  H.raises("unable to yield", system.listdir, DIR)
  H.raises("unable to yield", system.makedir, P("ny"), 448)
  H.raises("unable to yield", system.touchfile, P("data.txt"), "a", 0)
  assert(infoerror(P("ny"), "~?"):find("no such file", 1, true))
end)

-- --- permissions ------------------------------------------------------------

case("filebits has the manual's fields with the system's values", function ()
  local b = system.filebits
  local expected = {
    type = 0xF000, socket = 0xC000, link = 0xA000, file = 0x8000,
    block = 0x6000, directory = 0x4000, character = 0x2000, pipe = 0x1000,
    setuid = 2048, setgid = 1024, sticky = 512,
    ruser = 256, wuser = 128, xuser = 64, rgroup = 32, wgroup = 16,
    xgroup = 8, rother = 4, wother = 2, xother = 1,
  }
  local n = 0
  for k, v in pairs(b) do
    assert(expected[k] == v, k)
    n = n + 1
  end
  assert(n == 20)
end)

case("grantfile: strings and numbers of permission bits", function ()
  local path = P("perm.txt")
  writefile(path, "")
  local function octal () return shell("stat -c %a " .. quote(path)) end
  both(function (mode)
    assert(system.grantfile(path, "rwxRX41", mode) == true)
    assert(octal() == "755")
    assert(system.grantfile(path, "UGSr", mode) == true)
    assert(octal() == "7400")
    assert(system.grantfile(path, "", mode) == true)
    assert(octal() == "0")
    assert(system.grantfile(path, 420, mode) == true)
    assert(octal() == "644")
    assert(system.fileinfo(path, mode .. "rwxRWX421UGS") == true)
    return system.fileinfo(path, mode .. "rwxRWX421UGS")
  end)
  H.same({true, true, false, true, false, false, true, false, false,
          false, false, false}, system.fileinfo(path, "~rwxRWX421UGS"))
  H.same({420}, system.fileinfo(path, "~M") & ~system.filebits.type)
  os.remove(path)
end)

-- --- makedir, removefile ----------------------------------------------------

case("makedir and removefile", function ()
  both(function (mode)
    local path = P("made")
    assert(system.makedir(path, "rwxRX", mode) == true)
    assert(shell("stat -c %F:%a " .. quote(path)) == "directory:750")
    failure("file already exists", EEXIST, system.makedir(path, 448, mode))
    failure("illegal operation on a directory", EISDIR,
            system.removefile(path, mode))
    assert(system.makedir(path .. "/sub", 448, mode) == true)
    failure("directory not empty", ENOTEMPTY, system.removefile(path, mode .. "d"))
    assert(system.removefile(path .. "/sub", mode .. "d") == true)
    assert(system.removefile(path, mode .. "d") == true)
    failure("no such file or directory", ENOENT, system.removefile(path, mode .. "d"))
    failure("no such file or directory", ENOENT, system.removefile(path, mode))
    failure("not a directory", ENOTDIR,
            system.removefile(P("data.txt"), mode .. "d"))
    failure("not a directory", ENOTDIR,
            system.makedir(P("data.txt/sub"), 448, mode))
    return shell("ls " .. quote(DIR))
  end)
end)

-- --- maketemp ---------------------------------------------------------------

case("maketemp: directories and files with the prefix", function ()
  both(function (mode)
    local dir = system.maketemp(P("tmp_"), mode)
    assert(dir:match("^" .. DIR:gsub("%p", "%%%0") .. "/tmp_......$"), dir)
    assert(shell("stat -c %F:%a " .. dir) == "directory:700")
    assert(system.removefile(dir, mode .. "d") == true)
    local file, again, none = system.maketemp(P("tmp_"), mode .. "ff")
    assert(rawequal(file, again) and none == nil)
    assert(file:match("/tmp_......$"))
    assert(shell("stat -c %F:%a:%s " .. file) == "regular empty file:600:0")
    assert(system.removefile(file, mode) == true)
    H.same({false, "no such file or directory", ENOENT},
           system.maketemp(P("missing/tmp_"), mode))
    H.same({false, "no such file or directory", ENOENT},
           system.maketemp(P("missing/tmp_"), mode .. "f"))
    return select("#", system.maketemp(P("tmp_"), mode .. "f")) -- left
  end)
  shell("rm -f " .. DIR .. "/tmp_*")
end)

-- --- linkfile, copyfile, movefile -------------------------------------------

case("linkfile: hard and symbolic links", function ()
  both(function (mode)
    local src, hard, sym = P("data.txt"), P("hard"), P("sym")
    assert(system.linkfile(src, hard, mode) == true)
    assert(shell("stat -c %h:%i " .. hard) == shell("stat -c %h:%i " .. src))
    assert(system.fileinfo(src, mode .. "*") == 2)
    assert(system.fileinfo(hard, mode .. "=") == nil)
    failure("file already exists", EEXIST, system.linkfile(src, hard, mode))
    failure("no such file or directory", ENOENT,
            system.linkfile(P("none"), P("none2"), mode))
    for _, s in ipairs{"s", "d", "j"} do  -- 'd' and 'j' imply 's'
      assert(system.linkfile("data.txt", sym, mode .. s) == true)
      assert(shell("readlink " .. sym) == "data.txt")
      H.same({"link", "file", "data.txt"}, system.fileinfo(sym, mode .. "l?"),
             system.fileinfo(sym, mode .. "?"), system.fileinfo(sym, mode .. "="))
      failure("file already exists", EEXIST, system.linkfile("x", sym, mode .. s))
      assert(system.removefile(sym, mode) == true)
    end
    -- a dangling symbolic link is made all the same
    assert(system.linkfile("none", sym, mode .. "s") == true)
    assert(infoerror(sym, mode .. "?"):find("no such file or directory", 1, true))
    assert(system.fileinfo(sym, mode .. "l?") == "link")
    assert(system.removefile(sym, mode) == true)
    assert(system.removefile(hard, mode) == true)
    return system.fileinfo(src, mode .. "*")
  end)
end)

case("copyfile: contents, 'n', 'c' and 'C'", function ()
  both(function (mode)
    local src, dst = P("data.txt"), P("copy.txt")
    assert(system.copyfile(src, dst, mode) == true)
    assert(readfile(dst) == "some data\n")
    writefile(dst, "other")
    failure("file already exists", EEXIST, system.copyfile(src, dst, mode .. "n"))
    assert(readfile(dst) == "other")
    assert(system.copyfile(src, dst, mode .. "c") == true)  -- falls back
    assert(readfile(dst) == "some data\n")
    local r = H.pack(system.copyfile(src, dst, mode .. "C"))
    -- a forced reflink works only where the file system has them; libuv
    -- removes the destination it could not fill
    if r[1] then assert(readfile(dst) == "some data\n")
    else
      assert(r[1] == false and type(r[2]) == "string" and
             math.type(r[3]) == "integer")
      assert(infoerror(dst, mode .. "?"))
      assert(system.copyfile(src, dst, mode) == true)
    end
    failure("no such file or directory", ENOENT,
            system.copyfile(P("none"), dst, mode))
    failure("illegal operation on a directory", EISDIR,
            system.copyfile(DIR, P("copy.dir"), mode))
    assert(system.removefile(dst, mode) == true)
    return readfile(src)
  end)
end)

case("movefile: files and directories", function ()
  both(function (mode)
    assert(system.movefile(P("data.txt"), P("moved.txt"), mode) == true)
    assert(readfile(P("moved.txt")) == "some data\n")
    assert(infoerror(P("data.txt"), mode .. "?"):find("no such file or directory", 1, true))
    assert(system.movefile(P("moved.txt"), P("data.txt"), mode) == true)
    assert(system.makedir(P("mdir"), 448, mode) == true)
    assert(system.movefile(P("mdir"), P("mdir2"), mode) == true)
    assert(system.fileinfo(P("mdir2"), mode .. "?") == "directory")
    failure("not a directory", ENOTDIR,
            system.movefile(P("mdir2"), P("data.txt"), mode))
    failure("no such file or directory", ENOENT,
            system.movefile(P("none"), P("x"), mode))
    assert(system.removefile(P("mdir2"), mode .. "d") == true)
    return readfile(P("data.txt"))
  end)
end)

-- --- listdir ----------------------------------------------------------------

case("listdir: names and types of files, links and directories", function ()
  local d = P("list")
  assert(system.makedir(d, 448, "~"))
  assert(system.makedir(d .. "/sub", 448, "~"))
  writefile(d .. "/file", "x")
  assert(system.linkfile("file", d .. "/link", "~s"))
  assert(system.linkfile(d .. "/file", d .. "/hard", "~"))
  shell("mkfifo " .. d .. "/fifo")
  local expected = {sub = "directory", file = "file", link = "link",
                    hard = "file", fifo = "pipe"}
  local function list (mode)
    local got, n = {}, 0
    for name, ftype in system.listdir(d, mode) do
      got[name] = ftype
      n = n + 1
      assert(n <= 5, "too many entries")
    end
    return got
  end
  local function same (a, b)
    for name, ftype in pairs(expected) do
      assert(a[1][name] == ftype and b[1][name] == ftype, name)
    end
    for name in pairs(a[1]) do assert(expected[name], name) end
    for name in pairs(b[1]) do assert(expected[name], name) end
  end
  both(list, same)
  assert(shell("ls " .. d .. " | wc -l") == "5")
  -- an empty directory lists nothing
  local n = 0
  for _ in system.listdir(d .. "/sub", "~") do n = n + 1 end
  assert(n == 0)
  shell("rm -r " .. d)
end)

case("listdir raises its failures", function ()
  both(function (mode)
    H.raises("not a directory", system.listdir, P("data.txt"), mode)
    H.raises("no such file or directory", system.listdir, P("none"), mode)
    return true
  end)
end)

-- --- touchfile, ownfile -----------------------------------------------------

case("touchfile: access and modification times", function ()
  local path, link = P("data.txt"), P("tlink")
  assert(system.linkfile("data.txt", link, "~s"))
  local function times (p, mode)
    return shell("stat -c %.9X:%.9Y " .. (mode == "l" and "" or "-L ") .. p)
  end
  both(function (mode)
    assert(system.touchfile(path, mode .. "am", 1000.25, 2000.5) == true)
    assert(times(path) == "1000.250000000:2000.500000000")
    H.same({1000.25, 2000.5}, system.fileinfo(path, mode .. "am"))
    assert(system.touchfile(path, mode .. "b", 3000) == true)
    assert(times(path) == "3000.000000000:3000.000000000")
    assert(system.touchfile(path, mode .. "ma", 10, 20) == true)
    assert(times(path) == "20.000000000:10.000000000")
    -- a time not given is now
    local before = os.time()
    assert(system.touchfile(path, mode .. "a", 5) == true)
    local a, m = system.fileinfo(path, mode .. "am")
    assert(a == 5 and m >= before - 1, m)
    assert(system.touchfile(path, mode .. "ab", 5) == true)  -- 'b': now
    a, m = system.fileinfo(path, mode .. "am")
    assert(a >= before - 1 and m >= before - 1, a)
    assert(system.touchfile(path, mode) == true)
    a, m = system.fileinfo(path, mode .. "am")
    assert(a >= before - 1 and m >= before - 1)
    -- 'l' changes the link, not its target
    assert(system.touchfile(path, mode .. "b", 7) == true)
    assert(system.touchfile(link, mode .. "lb", 9) == true)
    assert(times(link, "l") == "9.000000000:9.000000000")
    assert(times(path) == "7.000000000:7.000000000")
    H.same({9, 7}, system.fileinfo(link, mode .. "lm"), system.fileinfo(link, mode .. "m"))
    failure("no such file or directory", ENOENT,
            system.touchfile(P("none"), mode .. "b", 1))
    return times(path)
  end)
  assert(system.removefile(link, "~"))
end)

case("ownfile: user and group ids, -1 unchanged, 'l'", function ()
  local path, link = P("data.txt"), P("olink")
  assert(system.linkfile("data.txt", link, "~s"))
  local uid, gid = system.fileinfo(path, "~ug")
  assert(shell("stat -c %u:%g " .. path) == uid .. ":" .. gid)
  both(function (mode)
    local ok, msg = system.ownfile(path, uid, gid, mode)
    if not ok then
      assert(msg == "operation not permitted")
      return false
    end
    if shell("id -u") == "0" then
      assert(system.ownfile(path, 65534, -1, mode) == true)
      assert(shell("stat -c %u:%g " .. path) == "65534:" .. gid)
      assert(system.ownfile(path, -1, 65534, mode) == true)
      assert(shell("stat -c %u:%g " .. path) == "65534:65534")
      assert(system.ownfile(link, uid, gid, mode .. "l") == true)
      assert(shell("stat -c %u:%g " .. link) == uid .. ":" .. gid)
      assert(shell("stat -L -c %u:%g " .. link) == "65534:65534")
      assert(system.ownfile(path, uid, gid, mode) == true)
    end
    failure("no such file or directory", ENOENT,
            system.ownfile(P("none"), -1, -1, mode))
    return shell("stat -c %u:%g " .. path)
  end)
  assert(system.removefile(link, "~"))
end)

-- --- fileinfo ---------------------------------------------------------------

local STATMODE = "?M_ug#Dd*Bbivasmc"
local TIMES = {[14] = true, [15] = true, [16] = true, [17] = true}

local function near (a, b) return math.abs(a - b) <= 1e-6 end

case("fileinfo: every stat value, checked against stat(1)", function ()
  local path = P("data.txt")
  assert(system.touchfile(path, "~am", 1234.5, 5678.25))
  local s = {}
  for v in shell("stat -c '%f %u %g %i %d %t %T %h %s %b %o %.9X %.9Z %.9Y %.9W' "
                 .. path):gmatch("%S+") do s[#s + 1] = v end
  local rdev = tonumber(s[6], 16) << 8 | tonumber(s[7], 16)
  local values = {both(function (mode)
    return system.fileinfo(path, mode .. STATMODE)
  end)}
  local expected = {"file", tonumber(s[1], 16), 0, tonumber(s[2]),
    tonumber(s[3]), tonumber(s[4]), tonumber(s[5]), rdev, tonumber(s[8]),
    tonumber(s[9]), tonumber(s[10]), tonumber(s[11]), values[13],
    tonumber(s[12]), tonumber(s[13]), tonumber(s[14]), tonumber(s[15])}
  assert(#values == #STATMODE)
  -- without a birth time (stat says 0), libuv gives the status change time
  if expected[17] == 0 then expected[17] = expected[15] end
  for i = 1, #STATMODE do
    if TIMES[i] then assert(near(values[i], expected[i]), STATMODE:sub(i, i))
    else assert(values[i] == expected[i], STATMODE:sub(i, i)) end
    local kind = TIMES[i] and "float" or "integer"
    if i == 1 then kind = nil end
    assert(math.type(values[i]) == kind, STATMODE:sub(i, i))
  end
  H.same({1234.5, 5678.25}, system.fileinfo(path, "~am"))
end)

case("fileinfo: the path, the link and the file system", function ()
  local path, link = P("data.txt"), P("ilink")
  assert(system.linkfile("data.txt", link, "~s"))
  local f = {}
  for v in shell("stat -f -c '%t %s %b %c %a %f %d %T' " .. path):gmatch("%S+") do
    f[#f + 1] = v
  end
  local v = {both(function (mode)
    return system.fileinfo(link, mode .. "p=@NITt")
  end)}
  H.same({shell("realpath " .. path), "data.txt", f[8], tonumber(f[1], 16),
          tonumber(f[2]), tonumber(f[3]), tonumber(f[4])}, table.unpack(v))
  -- free counts move with the rest of the system: near stat -f's
  local A, F, free = system.fileinfo(path, "~AFf")
  assert(math.abs(A - tonumber(f[5])) <= tonumber(f[3]) // 100)
  assert(math.abs(F - tonumber(f[6])) <= tonumber(f[3]) // 100)
  assert(math.abs(free - tonumber(f[7])) <= tonumber(f[4]) // 100)
  assert(A <= F)
  -- 'l' applies to the stat values only
  H.same({"link", shell("realpath " .. path), "data.txt", 8},
         system.fileinfo(link, "~l?p=B"))
  assert(system.fileinfo(link, "~?") == "file")
  H.same({n = 1}, system.fileinfo(path, "~="))
  assert(system.removefile(link, "~"))
end)

case("fileinfo: repeated chars, no chars, every type", function ()
  local path = P("data.txt")
  H.same({"file", "file", "file"}, system.fileinfo(path, "~???"))
  H.same({10, 10}, system.fileinfo(path, "~BB"))
  H.same({}, system.fileinfo(path, "~"))
  H.same({}, H.run(system.fileinfo, 10, path))  -- no mode at all
  H.same({}, H.run(system.fileinfo, 10, path, nil))
  H.same({}, H.run(system.fileinfo, 10, path, ""))
  assert(infoerror(P("none"), "~"):find("no such file or directory", 1, true))
  shell("mkfifo " .. P("fifo"))
  local sock = assert(system.socket("passive", "local"))
  assert(sock:bind(P("sock")))
  local types = {}
  for _, p in ipairs{P("fifo"), DIR, "/dev/null", P("sock"), path} do
    types[#types + 1] = system.fileinfo(p, "~?")
    assert(shell("stat -c %F " .. p):find(types[#types] == "pipe" and "fifo"
      or types[#types] == "character" and "character special"
      or types[#types] == "file" and "regular" or types[#types], 1, true))
  end
  H.same({"pipe", "directory", "character", "socket", "file"},
         table.unpack(types))
  sock:close()
  os.remove(P("sock"))
  os.remove(P("fifo"))
end)

-- --- failures ---------------------------------------------------------------

case("failures: ENOTDIR, ENAMETOOLONG, ELOOP", function ()
  local loop1, loop2 = P("loop1"), P("loop2")
  assert(system.linkfile(loop2, loop1, "~s"))
  assert(system.linkfile(loop1, loop2, "~s"))
  local long = P(("n"):rep(300))
  both(function (mode)
    assert(infoerror(P("data.txt/x"), mode .. "?"):find("not a directory", 1, true))
    failure("not a directory", ENOTDIR, system.copyfile(P("data.txt"), P("data.txt/x"), mode))
    failure("name too long", ENAMETOOLONG, system.removefile(long, mode))
    failure("name too long", ENAMETOOLONG, system.makedir(long, 448, mode))
    assert(infoerror(long, mode .. "p"):find("name too long", 1, true))
    assert(infoerror(loop1, mode .. "?"):find("too many symbolic links encountered", 1, true))
    assert(infoerror(loop1, mode .. "p"):find("too many symbolic links encountered", 1, true))
    failure("too many symbolic links encountered", ELOOP,
            system.touchfile(loop1, mode))
    assert(system.fileinfo(loop1, mode .. "l?") == "link")
    return true
  end)
  H.raises("too many symbolic links encountered", system.listdir, loop1, "~")
  assert(system.removefile(loop1, "~") and system.removefile(loop2, "~"))
end)

case("failures: EACCES as another user", function ()
  if shell("id -u") ~= "0" then
    return H.skip("EACCES", "needs root to run a child as nobody")
  end
  if shell("command -v runuser") == "" then
    return H.skip("EACCES", "no runuser")
  end
  -- DIR is 0700 and root's: nobody cannot look inside
  local code = ([[
    local system = require "coutil.system"
    local D = %q
    local function show (a, b, c)
      io.write(tostring(a), ",", tostring(b), ",", tostring(c), ";")
    end
    show(pcall(system.fileinfo, D .. "/data.txt", "~?"))
    show(system.makedir(D .. "/x", 448, "~"))
    coroutine.wrap(function ()
      show(pcall(system.fileinfo, D .. "/data.txt", "?"))
      show(system.maketemp(D .. "/t_"))
      show(system.grantfile(D, 511))
      show(pcall(system.listdir, D))
    end)()
    system.run()
  ]]):format(DIR)
  local out = shell(H.childenv() .. " runuser -u nobody -- " ..
                    (os.getenv("COUTIL_LUA") or "lua5.4") .. " -e " ..
                    quote(code) .. " 2>&1")
  local denied = "false,permission denied," .. EACCES .. ";"
  local raised = "false,permission denied,nil;"  -- fileinfo raises
  assert(out == raised .. denied .. raised .. denied ..
         "false,operation not permitted,1;" ..
         "false,permission denied,nil;", out)
end)

-- --- early resume -----------------------------------------------------------

case("each await returns the values of an early coroutine.resume", function ()
  local path = P("data.txt")
  local calls = {
    function () return system.fileinfo(path, "?B") end,
    function () return system.fileinfo(path, "p=@") end,
    function () return system.listdir(DIR) end,
    function () return system.makedir(P("early"), 448) end,
    function () return system.maketemp(P("early_"), "f") end,
    function () return system.linkfile(path, P("elink")) end,
    function () return system.copyfile(path, P("ecopy")) end,
    function () return system.movefile(P("nothing"), P("x")) end,
    function () return system.removefile(P("nothing")) end,
    function () return system.touchfile(path, "b", 77) end,
    function () return system.ownfile(path, -1, -1) end,
    function () return system.grantfile(path, 420) end,
  }
  for i, f in ipairs(calls) do
    local co = H.spawn(function ()
      H.same({"early", i}, f())
      -- the next await of the coroutine waits for the one it left
      return system.fileinfo(path, "?")
    end)
    local ok, err = coroutine.resume(co, "early", i)
    assert(ok, err)
    H.drain()
    assert(coroutine.status(co) == "dead", "call " .. i .. " still waits")
  end
  -- what was left ran to its end
  shell("rm -rf " .. P("early") .. " " .. DIR .. "/early_* " .. P("elink") ..
        " " .. P("ecopy"))
  assert(system.fileinfo(path, "~B") == 10)
end)

case("a coroutine closed while it awaits leaves nothing behind", function ()
  local co = H.spawn(function () return system.fileinfo(P("data.txt"), "p?") end)
  assert(coroutine.close(co))
  local co2 = H.spawn(function () return system.listdir(DIR) end)
  assert(coroutine.close(co2))
end)

shell("rm -rf " .. quote(DIR))
assert(shell("ls -d " .. quote(DIR) .. " 2>/dev/null") == "")
H.done()
