-- bench/file_write.lua: writing 64 MiB to a file, 64 KiB per call at the
-- file's current offset, n = 1024 calls per run. Each run creates (or
-- truncates) /tmp/coutil-bench-write.<pid>.dat, writes, closes it and
-- removes it; the removal is timed too, for every contender alike (it
-- frees the 64 MiB of page cache the run dirtied, as a truncation at the
-- start of the next run would).
--
-- Floor: plain Lua io.write, f:write(s) with a 64 KiB string, f:close()
-- flushing what stdio still holds. The others write the same string:
-- coutil awaiting each write in a coroutine (file opened "wnt": write,
-- create, truncate), coutil in blocking mode ("~"), luv with a callback
-- and without, and bench/floor_file.c: C on libuv (uv_fs_write whose
-- callback issues the next) and plain write(2). No targets: measured only.
--
-- Clock: CPU time (the harness's default, os.clock), that is clock(3), the
-- CPU time of the whole process, so the thread pool's threads, which do
-- the writes of the async contenders, count as much as the main thread.
-- Writeback to the disk is not in it: 64 MiB of dirty pages stay far
-- below the kernel's writeback thresholds on this machine (24 GiB), and
-- the file is removed before they would be written; what is timed is
-- copying into the page cache. FILEBENCH_CLOCK=wall in the environment
-- times the runs by the wall clock instead, which also shows the idle
-- time of the hand-offs between the main thread and the pool's.

local loadfloor = dofile("bench/threads/floor.lua")
local floor = loadfloor("file")  -- built before anything is timed

-- one file per process: two runs of the harness at once do not share it
local PATH do
  local stat = assert(io.open("/proc/self/stat"))
  PATH = string.format("/tmp/coutil-bench-write.%s.dat",
                       stat:read("l"):match("^%d+"))
  stat:close()
end
local CHUNK = 64 * 1024
local CALLS = 1024  -- 64 MiB
local DATA = string.rep("coutil..", CHUNK // 8)

local function iowrite (n)
  local f = assert(io.open(PATH, "wb"))
  local done = 0
  for _ = 1, n do
    if not f:write(DATA) then break end
    done = done + 1
  end
  assert(f:close())
  return done
end

local function coutil (n)
  local system = require "coutil.system"
  local done = 0
  coroutine.wrap(function ()
    local f = assert(system.openfile(PATH, "wnt", "rwR4"))
    for _ = 1, n do
      if f:write(DATA) ~= CHUNK then break end
      done = done + 1
    end
    f:close()
  end)()
  system.run()
  return done
end

local function coutilblocking (n)
  local system = require "coutil.system"
  local f = assert(system.openfile(PATH, "~wnt", "rwR4"))
  local done = 0
  for _ = 1, n do
    if f:write(DATA, nil, nil, nil, "~") ~= CHUNK then break end
    done = done + 1
  end
  f:close("~")
  return done
end

local function luvasync (n)
  local uv = require "luv"
  local done = 0
  uv.fs_open(PATH, "w", 420, function (err, fd)  -- O_WRONLY|O_CREAT|O_TRUNC
    assert(fd, err)
    local function onwrite (werr, wrote)
      assert(wrote, werr)
      if wrote == CHUNK then done = done + 1 end
      if wrote == CHUNK and done < n then
        uv.fs_write(fd, DATA, -1, onwrite)
      else
        uv.fs_close(fd, function () end)
      end
    end
    if n > 0 then uv.fs_write(fd, DATA, -1, onwrite)
    else uv.fs_close(fd, function () end) end
  end)
  uv.run()
  return done
end

local function luvsync (n)
  local uv = require "luv"
  local fd = assert(uv.fs_open(PATH, "w", 420))
  local done = 0
  for _ = 1, n do
    if assert(uv.fs_write(fd, DATA, -1)) ~= CHUNK then break end
    done = done + 1
  end
  uv.fs_close(fd)
  return done
end

-- run(n): one of the above, then the file removed
local function contender (name, needs, work, isfloor)
  return {name = name, needs = needs, floor = isfloor, run = function (n)
    local done = work(n)
    assert(os.remove(PATH))
    return done
  end}
end

local COUTIL = {"coutil.system"}
local LUV = {"luv"}

return {
  title = "writing 64 MiB to a file, 64 KiB per call",
  unit = "call",
  n = CALLS,
  clock = os.getenv("FILEBENCH_CLOCK") == "wall" and "wall" or nil,
  reps = 11,  -- runs of 20-60 ms; the pool's hand-offs vary much
  contenders = {
    contender("io.write", nil, iowrite, true),
    contender("coutil", COUTIL, coutil),
    contender("coutil ~", COUTIL, coutilblocking),
    contender("luv async", LUV, luvasync),
    contender("luv sync", LUV, luvsync),
    contender("C libuv async", nil,
      function (n) return floor.write(PATH, n, CHUNK) end),
    contender("C write", nil,
      function (n) return floor.writeplain(PATH, n, CHUNK) end),
  },
  callgrind = {n = 256, contenders = {"io.write", "coutil", "coutil ~",
    "luv async", "luv sync", "C libuv async", "C write"}},
}
