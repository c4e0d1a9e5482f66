-- test/run.lua: runs every test file in its own process with a timeout.
--   lua5.4 test/run.lua <libdir> [test/file.lua ...]
-- COUTIL_JOBS=n runs n files at a time.
-- Each file prints "N passed, N failed, N skipped" last; a file that
-- crashes, times out or prints no such line counts as one failure. Every
-- SKIP line a file prints is shown, and skips are counted apart, never as
-- passes. The closing line sums them all, and the exit code is non-zero
-- on any failure.
-- COUTIL_SANITIZER=asan|tsan preloads the sanitizer runtime, as the stock
-- lua5.4 is not instrumented. COUTIL_LUA names another interpreter for
-- the test files (test/torture.sh uses its own checked build).
-- COUTIL_GC=calls|generational|incremental runs every file (and every
-- Lua child it starts) under a collector mode of test/gcstress.lua.

local libdir = assert(arg[1], "usage: run.lua <libdir> [files]")
local files = {}
for i = 2, #arg do files[#files + 1] = arg[i] end
-- COUTIL_SKIP="test/a.lua test/b.lua" leaves those out of the default list.
local skip = os.getenv("COUTIL_SKIP") or ""
if #files == 0 then
  -- the regression cases too, each in its own file (test/regress/)
  local p = assert(io.popen("ls test/*.lua test/regress/*.lua 2>/dev/null"))
  for name in p:lines() do
    -- allocfail.lua and faults.lua drive hosts and shims of their own:
    -- make check-allocfail and check-faults run them
    if not name:match("/helpers%.lua$") and not name:match("/run%.lua$")
       and not name:match("/allocfail%.lua$")
       and not name:match("/faults%.lua$")
       and not name:match("/gcstress%.lua$") then
      -- regression scenarios of the allocation sweep are no test files
      local f = io.open(name)
      local first = f and f:read("l") or ""
      if f then f:close() end
      if not first:find("^%-%- allocfail scenario") and
         not (" " .. skip .. " "):find(" " .. name .. " ", 1, true) then
        files[#files + 1] = name
      end
    end
  end
  p:close()
end

local function runtime (lib)
  local p = io.popen("gcc -print-file-name=" .. lib)
  local path = p:read("l")
  p:close()
  return path
end

local env = {
  "LUA_CPATH='" .. libdir .. "/?.so'",
  "LUA_PATH='test/?.lua;;'",
}
local gcmode = os.getenv("COUTIL_GC")
if gcmode then
  local pwd = io.popen("pwd"):read("l")
  env[#env + 1] = "COUTIL_GC='" .. gcmode .. "'"
  env[#env + 1] = "LUA_INIT_5_4='@" .. pwd .. "/test/gcstress.lua'"
end
local sanitizer = os.getenv("COUTIL_SANITIZER")
if sanitizer == "asan" then
  env[#env + 1] = "LD_PRELOAD='" .. runtime("libasan.so") .. "'"
  env[#env + 1] = "ASAN_OPTIONS='detect_leaks=1:abort_on_error=1'"
  env[#env + 1] = "UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1'"
elseif sanitizer == "tsan" then
  env[#env + 1] = "LD_PRELOAD='" .. runtime("libtsan.so") .. "'"
  env[#env + 1] = "TSAN_OPTIONS='halt_on_error=1:second_deadlock_stack=1" ..
    ":suppressions=test/tsan.supp'"
end
-- ThreadSanitizer maps its shadow memory at fixed addresses; with address
-- randomisation a library sometimes lands there first and the run dies
-- with "ThreadSanitizer failed to allocate" (errno 12) before any test:
-- runs under it get a fixed address layout.
local prefix = ""
if sanitizer == "tsan" and os.execute("setarch $(uname -m) -R true") then
  prefix = "setarch $(uname -m) -R "
end
local timeout = tonumber(os.getenv("COUTIL_TEST_TIMEOUT")) or 300
local interpreter = os.getenv("COUTIL_LUA") or "lua5.4"

local function command (file)
  return string.format("%senv %s timeout -k 5 %d %s %s 2>&1",
    prefix, table.concat(env, " "), timeout, interpreter, file)
end

-- Runs one file: its output, whether it exited with 0, its exit code.
local function runone (file)
  local cmd = command(file)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  -- ThreadSanitizer may still fail to map its shadow memory (errno 12)
  -- before any test runs, when the machine is short of address space:
  -- that is no result of the file, which gets one more run
  if not ok and out:find("ThreadSanitizer failed to allocate", 1, true) then
    p = assert(io.popen(cmd))
    out = p:read("a")
    ok, _, code = p:close()
  end
  return out, ok, code
end

-- COUTIL_JOBS=n runs n files at a time (make check-valgrind, where each
-- file is one slow single-threaded valgrind), each into a file of its own;
-- the reports below still come in the files' order.
local jobs = math.tointeger(tonumber(os.getenv("COUTIL_JOBS"))) or 1
local results = {}
if jobs > 1 and #files > 1 then
  local dir = io.popen("mktemp -d"):read("l")
  local list = assert(io.open(dir .. "/list", "w"))
  for i, file in ipairs(files) do
    local script = assert(io.open(dir .. "/" .. i .. ".sh", "w"))
    script:write("start=$(date +%s)\n{ ", command(file), "; } >", dir, "/",
      i, ".out\necho $? $start $(date +%s) >", dir, "/", i, ".rc\n")
    script:close()
    list:write(dir, "/", i, ".sh\n")
  end
  list:close()
  os.execute(string.format("xargs -P %d -n 1 sh <%s/list", jobs, dir))
  for i in ipairs(files) do
    local f = io.open(dir .. "/" .. i .. ".out")
    local out = f and f:read("a") or ""
    if f then f:close() end
    f = io.open(dir .. "/" .. i .. ".rc")
    local rc, t0, t1 = (f and f:read("l") or "1 0 0"):match("(%d+) (%d+) (%d+)")
    if f then f:close() end
    results[i] = {out, tonumber(rc) == 0, tonumber(rc), tonumber(t1) - tonumber(t0)}
  end
  os.execute("rm -rf " .. dir)
end

local passed, failed, skipped = 0, 0, 0
for i, file in ipairs(files) do
  local out, ok, code, seconds
  if results[i] then
    out, ok, code, seconds = table.unpack(results[i])
  else
    local started = os.time()
    out, ok, code = runone(file)
    seconds = os.time() - started
  end
  local np, nf, ns = nil, nil, 0
  for a, b, rest in out:gmatch("(%d+) passed, (%d+) failed([^\n]*)") do
    np, nf = tonumber(a), tonumber(b)
    ns = tonumber(rest:match("^, (%d+) skipped")) or 0
  end
  local problem
  if np == nil then
    problem = "no summary line"
    np, nf = 0, 1
  elseif not ok and nf == 0 then
    problem = "exited with code " .. tostring(code)
    nf = 1
  elseif out:find("ERROR: %a+Sanitizer") or out:find("runtime error:") then
    problem = "sanitizer report"
    nf = nf + 1
  end
  passed, failed, skipped = passed + np, failed + nf, skipped + ns
  io.stdout:write(string.format(
    "%-28s %4d passed, %d failed, %d skipped (%ds)%s\n", file, np, nf, ns,
    seconds, problem and ("  " .. problem) or ""))
  if nf > 0 then io.stdout:write(out, "\n")
  else
    for line in out:gmatch("[^\n]+") do
      if line:find("^SKIP ") then io.stdout:write("  ", line, "\n") end
    end
  end
  io.stdout:flush()
end
io.stdout:write(string.format("%d passed, %d failed, %d skipped\n",
                              passed, failed, skipped))
os.exit(failed == 0 and 0 or 1)
