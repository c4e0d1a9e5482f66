-- examples/pipeline.lua: the shell pipeline `sort | uniq -c`, built by
-- hand: two child processes, this program feeding the first and reading
-- the last, and the result checked against the same counts made in Lua.
--
--   build/bin/coutil examples/pipeline.lua [lines [mode]]
--   build/bin/coutil examples/pipeline.lua 20000 copy
--   build/bin/coutil examples/pipeline.lua 20000 pass
--
-- Defaults: 20000 lines of input (words drawn from 200, some much more
-- often than others), mode "copy". In mode "copy" a coroutine of this
-- program copies what sort writes into uniq's input; in mode "pass" sort's
-- output pipe is given to uniq as its standard input, and the data flow
-- from one child to the other without passing through us. Prints the
-- first lines of the result and "result equals the Lua count: OK" (exit
-- status 1 if it does not).
--
-- What it shows: system.execute with a table: "w" and "r" in stdin and
-- stdout make pipes (stream sockets) that the call stores in the table
-- before it waits for the child, so the coroutine that started the child
-- waits for its exit while other coroutines write to and read from it.
-- Each child's exit status comes back through a promise (coutil.promise).

local system = require "coutil.system"
local promise = require "coutil.promise"
local memory = require "memory"

local nlines = math.tointeger(tonumber(arg[1])) or 20000
local mode = arg[2] or "copy"
assert(mode == "copy" or mode == "pass", "mode must be copy or pass")

-- The input: word k (1..200) is drawn with weight 1/k, by a small LCG so
-- every run feeds the same lines.
local words, input = {}, {}
do
  local weights, total = {}, 0
  for k = 1, 200 do
    words[k] = string.format("word%03d", (k * 37) % 200)
    total = total + 1 / k
    weights[k] = total
  end
  local x = 12345
  for i = 1, nlines do
    x = (x * 1103515245 + 12345) % 2147483648
    local r = x / 2147483648 * total
    local k = 1
    while weights[k] < r do k = k + 1 end
    input[i] = words[k]
  end
end
local inputtext = nlines > 0 and table.concat(input, "\n") .. "\n" or ""

-- The expected result: the counts of each distinct line, in byte order
-- (the children run with LC_ALL=C, so sort uses byte order too).
local expected = {}
do
  local counts = {}
  for _, w in ipairs(input) do counts[w] = (counts[w] or 0) + 1 end
  for w, n in pairs(counts) do expected[#expected + 1] = {w, n} end
  table.sort(expected, function (a, b) return a[1] < b[1] end)
end

local function spawn (f, ...)
  local co = coroutine.create(f)
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, err), 0) end
  return co
end

-- Starts the child of 'cmd' in a coroutine of its own; returns a promise
-- of its exit (the results of system.execute). When this returns, the
-- child runs and its pipes are in 'cmd'.
local function start (cmd)
  local exited, fulfill = promise.create()
  spawn(function () fulfill(system.execute(cmd)) end)
  assert(cmd.pid, "the child did not start")
  return exited
end

-- Copies everything from stream 'from' into stream 'to', then ends 'to'.
local function copy (from, to)
  local buf = memory.create(65536)
  local total = 0
  while true do
    local n, err = from:read(buf)
    if not n then assert(err == "end of file", err) break end
    assert(to:write(buf, 1, n))
    total = total + n
  end
  assert(to:shutdown())
  to:close()
  from:close()
  return total
end

local env = system.getenv()
env.LC_ALL = "C"

local sort = {execfile = "sort", stdin = "w", stdout = "r", environment = env}
local sortexit = start(sort)

local uniq = {execfile = "uniq", arguments = {"-c"}, stdout = "r",
              environment = env}
if mode == "pass" then
  uniq.stdin = sort.stdout  -- the child gets the pipe itself
else
  uniq.stdin = "w"
end
local uniqexit = start(uniq)

local copied
if mode == "pass" then
  sort.stdout:close()  -- uniq has its own copy: ours is not needed
else
  spawn(function () copied = copy(sort.stdout, uniq.stdin) end)
end

-- the feeder: all the input into sort, then the end of its input
spawn(function ()
  assert(sort.stdin:write(inputtext))
  assert(sort.stdin:shutdown())
  sort.stdin:close()
end)

-- the result: everything uniq writes
local parts, buf = {}, memory.create(65536)
while true do
  local n, err = uniq.stdout:read(buf)
  if not n then assert(err == "end of file", err) break end
  parts[#parts + 1] = buf:tostring(1, n)
end
uniq.stdout:close()
local output = table.concat(parts)

local how, status = sortexit()
assert(how == "exit" and status == 0, "sort failed: " .. tostring(how) .. " " .. tostring(status))
how, status = uniqexit()
assert(how == "exit" and status == 0, "uniq failed: " .. tostring(how) .. " " .. tostring(status))

-- uniq -c prints each count right-aligned, a space, then the line
local got = {}
for line in output:gmatch("[^\n]+") do
  local n, w = line:match("^%s*(%d+) (.*)$")
  got[#got + 1] = {w, tonumber(n)}
end

print(string.format("%d lines, %d distinct, mode %s%s", nlines, #expected,
  mode, copied and string.format(" (%d bytes copied from sort to uniq)",
  copied) or ""))
local top = {}
for i, e in ipairs(got) do top[i] = e end
table.sort(top, function (a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[1] < b[1]
end)
for i = 1, math.min(5, #top) do
  print(string.format("%7d %s", top[i][2], top[i][1]))
end
local same = #got == #expected
for i = 1, #expected do
  if not same then break end
  same = got[i][1] == expected[i][1] and got[i][2] == expected[i][2]
end
if not same then error("the result of sort | uniq -c differs from the Lua count", 0) end
print("result equals the Lua count: OK")
