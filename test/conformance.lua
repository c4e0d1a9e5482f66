-- test/conformance.lua: test/conformance/run.sh, the wrapper CI runs the
-- original's suite through, against a stand-in runner that prints what
-- each case prepares: its closing line, and the one retry it allows
-- (thread.lua failing in "resume listed channels" and nothing else).

local H = require "helpers"

local dir = assert(H.sh("mktemp -d"))

-- The stand-in: its n-th call prints out.<n>, exits with rc.<n> and
-- records its arguments in args.<n>.
local stub = H.writefile(dir .. "/runner", [[
#!/bin/sh
d=$(dirname "$0")
n=$(( $(cat "$d/n" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$d/n"
echo "$*" >"$d/args.$n"
cat "$d/out.$n"
exit "$(cat "$d/rc.$n")"
]])
assert(os.execute("chmod +x " .. stub))

local RACE = "TIMEOUT thread.lua 300.1 [46 ok] time limit 300s reached in " ..
             "[channels] resume listed channels"

-- Prepares the stand-in's calls ({output, status}, ...), runs the wrapper
-- and returns its output lines, its exit status and the calls made.
local function wrapper (...)
  os.remove(dir .. "/n")
  for i, call in ipairs({...}) do
    H.writefile(dir .. "/out." .. i, call[1])
    H.writefile(dir .. "/rc." .. i, tostring(call[2]))
  end
  -- the shell and its tools without a sanitizer runtime the suite's
  -- interpreter may have preloaded (their leaks at exit would fail them)
  local p = assert(io.popen("env -u LD_PRELOAD CONFORMANCE_RUNNER=" ..
                            stub .. " sh test/conformance/run.sh 2>&1;" ..
                            " echo rc=$?"))
  local lines = {}
  for line in p:lines() do lines[#lines + 1] = line end
  p:close()
  local rc = tonumber(table.remove(lines):match("^rc=(%d+)$"))
  local f = io.open(dir .. "/n")
  local calls = f and tonumber(f:read("a")) or 0
  if f then f:close() end
  return lines, rc, calls
end

local function has (lines, text)
  for _, line in ipairs(lines) do
    if line:find(text, 1, true) then return true end
  end
  return false
end

local function closing (lines)
  local found = {}
  for _, line in ipairs(lines) do
    if line:match("^%d+ passed, %d+ failed") then found[#found + 1] = line end
  end
  return found
end

H.case("every file passes: the runner's lines and one closing line", function ()
  local lines, rc, calls = wrapper(
    {"PASS event.lua 0.1 [34 ok]\nPASS thread.lua 2.0 [52 ok]\n2 passed, 0 failed\n", 0})
  assert(rc == 0 and calls == 1)
  assert(has(lines, "PASS event.lua") and has(lines, "PASS thread.lua"))
  H.same({"2 passed, 0 failed"}, table.unpack(closing(lines)))
  assert(not has(lines, "RETRY"))
end)

H.case("the announce race of thread.lua: retried once, the retry counts", function ()
  local lines, rc, calls = wrapper(
    {"PASS event.lua 0.1 [34 ok]\n" .. RACE .. "\n1 passed, 1 failed\n", 1},
    {"PASS thread.lua 2.0 [52 ok]\n1 passed, 0 failed\n", 0})
  assert(rc == 0, rc)
  assert(calls == 2)
  assert(has(lines, "RETRY thread.lua"))
  assert(has(lines, RACE), "the first failure stays in the output")
  -- the sums of CI see one closing line, with the retry's result
  H.same({"2 passed, 0 failed"}, table.unpack(closing(lines)))
  local args = H.readfile(dir .. "/args.2")
  assert(args:match("thread\n$"), args)
  assert(args:find("-c", 1, true), args)
end)

H.case("the race twice in a row fails", function ()
  local lines, rc, calls = wrapper(
    {RACE .. "\n0 passed, 1 failed\n", 1},
    {RACE .. "\n0 passed, 1 failed\n", 1})
  assert(rc == 1 and calls == 2)
  H.same({"0 passed, 1 failed"}, table.unpack(closing(lines)))
end)

-- A first run with 'output' fails at once: no retry, its closing line.
local function noretry (output, closing_line)
  local lines, rc, calls = wrapper({output .. closing_line .. "\n", 1})
  assert(rc == 1 and calls == 1)
  assert(not has(lines, "RETRY"))
  H.same({closing_line}, table.unpack(closing(lines)))
end

H.case("another failure of thread.lua is not retried", function ()
  noretry("FAIL thread.lua 0.2 [40 ok] killed by SIGABRT in [channels] " ..
          "queueing on endpoints\n", "0 passed, 1 failed")
end)

H.case("the race beside another failing file is not retried", function ()
  noretry("FAIL info.lua 0.1 [0 ok] loading utils.lua: boom\n" .. RACE ..
          "\n", "0 passed, 2 failed")
end)

H.case("a refusal of the runner is its status, with no counts", function ()
  local lines, rc, calls = wrapper({"", 2})
  assert(rc == 2 and calls == 1)
  H.same({}, table.unpack(closing(lines)))
end)

H.case("a runner that prints no closing line fails", function ()
  local lines, rc = wrapper({"PASS event.lua 0.1 [34 ok]\n", 0})
  assert(rc == 1, rc)
  assert(has(lines, "no closing line"))
end)

os.execute("rm -rf " .. dir)
H.done()
