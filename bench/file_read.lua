-- bench/file_read.lua: reading a 256 MiB file that is in the page cache,
-- 64 KiB per call at the file's current offset, n = 4096 calls (the whole
-- file) per run; each run opens the file, reads and closes it. The file
-- (/tmp/coutil-bench-read.dat) is made at load time when it is missing or
-- of another size, and read through once at every load to have it in the
-- page cache: neither is timed.
--
-- Floor: plain Lua io.read, f:read(65536) in a loop (a new string each
-- call). The others: coutil awaiting each read in a coroutine (the read is
-- done by libuv's thread pool), coutil in blocking mode ("~": the read(2)
-- is done by the calling thread), luv with a callback and without, and
-- bench/floor_file.c: C on libuv (uv_fs_read whose callback issues the
-- next) and plain read(2), the kernel's cost.
--
-- Clock: CPU time (the harness's default, os.clock), that is clock(3), the
-- CPU time of the whole process: the thread pool's threads, which do the
-- reads of the async contenders, count as much as the main thread. What
-- CPU time leaves out is the time both threads sit idle while one wakes
-- the other, every call of an async contender; FILEBENCH_CLOCK=wall in the
-- environment times the runs by the wall clock instead, to see that too.

local loadfloor = dofile("bench/threads/floor.lua")
local floor = loadfloor("file")  -- built before anything is timed

local PATH = "/tmp/coutil-bench-read.dat"
local CHUNK = 64 * 1024
local CALLS = 4096
local SIZE = CHUNK * CALLS  -- 256 MiB

local function filesize (path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  f:close()
  return size
end

if filesize(PATH) ~= SIZE then
  local tmp = PATH .. ".new"
  local f = assert(io.open(tmp, "wb"))
  local chunk = string.rep("coutil..", CHUNK // 8)
  for _ = 1, CALLS do assert(f:write(chunk)) end
  assert(f:close())
  assert(os.rename(tmp, PATH))
end
assert(floor.readplain(PATH, CALLS, CHUNK) == CALLS, "cannot read " .. PATH)

-- Every contender does n calls from the start of the file (n <= 4096)
-- and returns how many got a whole chunk.

local function ioread (n)
  local f = assert(io.open(PATH, "rb"))
  local done = 0
  for _ = 1, n do
    local s = f:read(CHUNK)
    if not s or #s ~= CHUNK then break end
    done = done + 1
  end
  f:close()
  return done
end

local function coutil (n)
  local system = require "coutil.system"
  local memory = require "memory"
  local done = 0
  coroutine.wrap(function ()
    local f = assert(system.openfile(PATH, "r"))
    local buf = memory.create(CHUNK)
    for _ = 1, n do
      if f:read(buf) ~= CHUNK then break end
      done = done + 1
    end
    f:close()
  end)()
  system.run()
  return done
end

local function coutilblocking (n)
  local system = require "coutil.system"
  local memory = require "memory"
  local f = assert(system.openfile(PATH, "~r"))
  local buf = memory.create(CHUNK)
  local done = 0
  for _ = 1, n do
    if f:read(buf, nil, nil, nil, "~") ~= CHUNK then break end
    done = done + 1
  end
  f:close("~")
  return done
end

local function luvasync (n)
  local uv = require "luv"
  local done = 0
  uv.fs_open(PATH, "r", 420, function (err, fd)
    assert(fd, err)
    local function onread (rerr, data)
      assert(data, rerr)
      if #data == CHUNK then done = done + 1 end
      if #data == CHUNK and done < n then
        uv.fs_read(fd, CHUNK, -1, onread)
      else
        uv.fs_close(fd, function () end)
      end
    end
    if n > 0 then uv.fs_read(fd, CHUNK, -1, onread)
    else uv.fs_close(fd, function () end) end
  end)
  uv.run()
  return done
end

local function luvsync (n)
  local uv = require "luv"
  local fd = assert(uv.fs_open(PATH, "r", 420))
  local done = 0
  for _ = 1, n do
    local data = assert(uv.fs_read(fd, CHUNK, -1))
    if #data ~= CHUNK then break end
    done = done + 1
  end
  uv.fs_close(fd)
  return done
end

return {
  title = "reading a 256 MiB file in the page cache, 64 KiB per call",
  unit = "call",
  n = CALLS,
  clock = os.getenv("FILEBENCH_CLOCK") == "wall" and "wall" or nil,
  reps = 11,  -- runs of 20-60 ms; the pool's hand-offs vary much
  contenders = {
    {name = "io.read", floor = true, run = ioread},
    {name = "coutil", needs = {"coutil.system", "memory"}, run = coutil},
    {name = "coutil ~", needs = {"coutil.system", "memory"},
     run = coutilblocking},
    {name = "luv async", needs = {"luv"}, run = luvasync},
    {name = "luv sync", needs = {"luv"}, run = luvsync},
    {name = "C libuv async",
     run = function (n) return floor.read(PATH, n, CHUNK) end},
    {name = "C read",
     run = function (n) return floor.readplain(PATH, n, CHUNK) end},
  },
  targets = {
    {slower = "coutil", than = "io.read", atmost = 1.5},
    {slower = "coutil ~", than = "io.read", atmost = 1.1},
    {faster = "coutil", than = "luv async", atleast = 3},
    {faster = "coutil", than = "C libuv async", atleast = 3},
  },
  -- n and 2n both within the file
  callgrind = {n = 512, contenders = {"io.read", "coutil", "coutil ~",
    "luv async", "luv sync", "C libuv async", "C read"}},
}
