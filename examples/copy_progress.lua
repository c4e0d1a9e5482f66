-- examples/copy_progress.lua: copies a file through a memory buffer with
-- file objects, showing the progress.
--
--   build/bin/coutil examples/copy_progress.lua [source [destination [buffer [pause]]]]
--   build/bin/coutil examples/copy_progress.lua big.iso /tmp/big.iso
--   build/bin/coutil examples/copy_progress.lua            -- a made-up 8 MiB file
--   build/bin/coutil examples/copy_progress.lua "" "" 65536 0.02   -- slowly
--
-- Defaults: without a source (or with ""), an 8 MiB file of random bytes
-- is made in the temporary directory, copied, and both are removed at the
-- end; the destination defaults to the source's path plus ".copy"; the
-- buffer is 1 MiB; 'pause' (seconds to sleep after each chunk, default 0)
-- lets a fast copy be watched. On a terminal it draws a progress bar that
-- "\r" redraws in place; otherwise (a pipe, a file) it prints one line
-- every 10%. At the end it checks that the destination has the size of the
-- source (exit status 1 otherwise).
--
-- What it shows: system.openfile, file:read into a memory and file:write
-- from a part of it, file:info; system.stdout, which is a terminal object
-- (with winsize) on a terminal and a stream socket or a file object
-- otherwise; system.maketemp and system.random to make the sample file.

local system = require "coutil.system"
local memory = require "memory"

local source = arg[1] ~= "" and arg[1] or nil
local destination = arg[2] ~= "" and arg[2] or nil
local bufsize = math.tointeger(tonumber(arg[3])) or 1048576
local pause = tonumber(arg[4]) or 0

local stdout = system.stdout
local terminal = stdout ~= nil and tostring(stdout):match("^terminal") ~= nil

local function out (s)
  if stdout then assert(stdout:write(s))
  else io.stdout:write(s) io.stdout:flush() end
end

-- No source given: a sample file of random bytes.
local made
if not source then
  local tmpdir = system.procinfo("T")
  local file, path = system.maketemp(tmpdir .. "/copy_progress-", "of")
  local block = memory.create(1048576)
  for _ = 1, 8 do
    assert(system.random(block))
    assert(file:write(block))
  end
  assert(file:close())
  source, made = path, path
end
destination = destination or source .. ".copy"

local src = assert(system.openfile(source, "r"))
local size, perm = assert(src:info("BM"))
local dst = assert(system.openfile(destination, "wtn", perm & 511))
local buf = memory.create(bufsize)

-- The progress: a bar redrawn in place on a terminal, lines otherwise.
local start = system.nanosecs()
local lastline = -1
local function progress (done)
  local secs = (system.nanosecs() - start) / 1e9
  local rate = secs > 0 and done / secs / 1048576 or 0
  local fraction = size > 0 and done / size or 1
  if terminal then
    local width = stdout:winsize() or 80
    local text = string.format(" %3d%% %7.1f/%.1f MiB %7.1f MiB/s",
      fraction * 100 // 1, done / 1048576, size / 1048576, rate)
    local barlen = math.max(10, math.min(50, width - #text - 3))
    local full = math.floor(fraction * barlen)
    out("\r[" .. string.rep("=", full) ..
        (full < barlen and ">" or "") ..
        string.rep(" ", barlen - full - 1) .. "]" .. text)
  else
    local tenth = math.floor(fraction * 10)
    if tenth > lastline then
      lastline = tenth
      out(string.format("copied %3d%% (%d of %d bytes)\n", tenth * 10, done,
        size))
    end
  end
end

local done = 0
progress(0)
while true do
  local n = assert(src:read(buf))
  if n == 0 then break end  -- the end of the source
  local i = 1
  while i <= n do  -- a write may take fewer bytes than given
    local w = assert(dst:write(buf, i, n))
    i = i + w
  end
  done = done + n
  progress(done)
  if pause > 0 then system.suspend(pause) end
end
assert(src:close())
assert(dst:flush())
assert(dst:close())
local secs = (system.nanosecs() - start) / 1e9
if terminal then out("\n") end

local copied = assert(system.fileinfo(destination, "B"))
out(string.format("copied %d bytes in %.3f s (%.1f MiB/s) to %s\n", done,
  secs, done / math.max(secs, 1e-9) / 1048576, destination))
if made then
  assert(system.removefile(made))
  assert(system.removefile(destination))
end
if copied ~= size or done ~= size then
  error(string.format("size mismatch: source %d, copied %d, destination %d",
    size, done, copied), 0)
end
out("sizes match: OK\n")
