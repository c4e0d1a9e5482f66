-- test/manual.lua: checks docs/manual.md against the build.
--
-- 1. Every function of every module, and every method of the real
--    objects, has a heading in the manual: a line starting with '#' that
--    holds `name (` or `name` between backquotes, where name is
--    'system.openfile', 'file:read', 'address.port' and so on.
-- 2. Every ```lua block of the manual runs to its end in a child process
--    (exit status 0, no warning printed, within 20 seconds). The fence
--    line may carry tags after "lua":
--      coutil   the block is for the coutil command (build/bin/coutil);
--      luv, cqueues, copas   the block needs that module.
--    A block that requires a module that does not load here (coutil.timeout
--    while it is being written, copas when not installed) is skipped with
--    the reason, never counted as passed.

local H = require "helpers"

local MANUAL = "docs/manual.md"
local COMMAND = "build/bin/coutil"

local text
do
  local f = assert(io.open(MANUAL))
  text = f:read("a")
  f:close()
end

-- The heading lines of the manual.
local headings = {}
for line in text:gmatch("[^\n]+") do
  if line:find("^#+ ") then headings[#headings + 1] = line end
end

local function documented (name)
  local plain = "`" .. name
  for _, line in ipairs(headings) do
    local s, e = line:find(plain, 1, true)
    while s do
      local after = line:sub(e + 1, e + 2)
      if after == " (" or after:sub(1, 1) == "`" then return true end
      s, e = line:find(plain, e + 1, true)
    end
  end
  return false
end

local function checknames (what, prefix, sep, names)
  H.case(what .. ": every name has a heading", function ()
    local missing = {}
    for _, name in ipairs(names) do
      if not documented(prefix .. sep .. name) then
        missing[#missing + 1] = prefix .. sep .. name
      end
    end
    assert(#missing == 0, "no heading for: " .. table.concat(missing, ", "))
  end)
end

local function keys (t, filter)
  local list = {}
  for k, v in pairs(t) do
    if type(k) == "string" and (filter == nil or filter(k, v)) then
      list[#list + 1] = k
    end
  end
  table.sort(list)
  return list
end

-- methods of an object: the table __index of its metatable
local function methods (obj)
  local mt = getmetatable(obj)
  assert(type(mt) == "table", "no metatable")
  local index = rawget(mt, "__index")
  assert(type(index) == "table", "__index is no table")
  return keys(index)
end

---------------------------------------------------------------- modules

local system = require "coutil.system"
local memory = H.cmodule "memory"

local modules = {
  {"coutil.system", "system"}, {"coutil.event", "event"},
  {"coutil.queued", "queued"}, {"coutil.mutex", "mutex"},
  {"coutil.promise", "promise"}, {"coutil.spawn", "spawn"},
  {"coutil.channel", "channel"}, {"coutil.coroutine", "coroutine"},
  {"coutil.threads", "threads"}, {"coutil.timeout", "timeout"},
}
for _, m in ipairs(modules) do
  local name, prefix = m[1], m[2]
  local ok, mod = pcall(require, name)
  if ok then
    checknames(name, prefix, ".", keys(mod))
  elseif name == "coutil.timeout" then
    H.skip(name, "the module is not in this build (it is being written)")
  else
    H.case(name, function () error(mod) end)
  end
end
checknames("memory", "memory", ".", keys(memory))
checknames("system streams", "system", ".", {"stdin", "stdout", "stderr"})

---------------------------------------------------------------- objects

local objects = {}

local function object (what, prefix, make, sep)
  local ok, obj = pcall(make)
  if not ok or not obj then
    H.case(what, function () error("cannot make one: " .. tostring(obj)) end)
    return
  end
  objects[#objects + 1] = obj
  checknames(what .. " methods", prefix, sep or ":", methods(obj))
end

object("stream socket", "socket", function ()
  return assert(system.socket("stream", "ipv4"))
end)
object("datagram socket", "socket", function ()
  return assert(system.socket("datagram", "ipv4"))
end)
object("passive socket", "socket", function ()
  return assert(system.socket("passive", "ipv4"))
end)
object("local stream socket", "socket", function ()
  return assert(system.socket("stream", "local"))
end)
local tmp = os.tmpname()
object("file", "file", function ()
  return assert(system.openfile(tmp, "~w"))
end)
object("addresses", "addresses", function ()
  return assert(system.findaddr("127.0.0.1", 0, "~"))
end)
-- objects whose methods are the functions of their module (their __index
-- is the module): each method has the heading of its module function
object("channel", "channel", function ()
  return require("coutil.channel").create("manual")
end, ".")
object("thread pool", "threads", function ()
  return assert(require("coutil.threads").create(0))
end, ".")
object("state coroutine", "coroutine", function ()
  return assert(require("coutil.coroutine").load("return 1"))
end, ".")
object("memory", "memory", function () return memory.create(1) end, ".")

-- a terminal: made in a child on a pseudo-terminal when script(1) exists;
-- its methods are otherwise those of the manual's index
do
  local names
  if os.execute("command -v script >/dev/null 2>&1") then
    local cmd = string.format(
      "%s script -qc \"lua5.4 -e 'local s = require [[coutil.system]] " ..
      "local r = {} for k in pairs(getmetatable(s.stdout).__index) do " ..
      "r[#r + 1] = k end print(tostring(s.stdout), " ..
      "table.concat(r, [[ ]]))'\" /dev/null </dev/null", H.childenv())
    local line = H.sh(cmd)
    if line and line:find("^terminal") then
      names = {}
      for name in line:gsub("^%S+ %S+%s*", ""):gmatch("%w+") do
        names[#names + 1] = name
      end
    end
  end
  if names then
    checknames("terminal methods", "terminal", ":", names)
  else
    H.skip("terminal methods", "no pseudo-terminal here (script(1))")
  end
end

-- the fields of an address (its __index is a function)
checknames("address fields", "address", ".",
           {"type", "literal", "binary", "port"})

for _, obj in ipairs(objects) do
  local close = obj.close
  -- a file's close is an await function: blocking mode in the main chunk
  if close then pcall(close, obj, tostring(obj):find("^file") and "~" or nil) end
end
objects = nil
os.remove(tmp)

---------------------------------------------------------------- blocks

local blocks = {}
do
  local lineno, current = 0, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    if current then
      if line:find("^```%s*$") then
        current.code = table.concat(current.lines, "\n") .. "\n"
        blocks[#blocks + 1] = current
        current = nil
      else
        current.lines[#current.lines + 1] = line
      end
    elseif line:find("^```lua") then
      local tags = {}
      for tag in line:sub(7):gmatch("%S+") do tags[tag] = true end
      current = {line = lineno, tags = tags, lines = {}}
    end
  end
  assert(current == nil, "a ```lua block is not closed")
end

local cpath = os.getenv("LUA_CPATH") or "build/lib/?.so"
local function absolute (path)
  if path:sub(1, 1) == "/" then return path end
  return (H.sh("pwd") or ".") .. "/" .. path
end
local paths = {}
for p in cpath:gmatch("[^;]+") do paths[#paths + 1] = absolute(p) end
-- the build first, then the system's modules (luv, cqueues, copas)
-- the suite's variables (sanitizer preloads) first, then the paths
local childenv = string.format("%s LUA_CPATH='%s;;' LUA_PATH=';;'",
                               H.childenv(), table.concat(paths, ";"))

local loads = {}
local function loadable (name)
  if loads[name] == nil then
    loads[name] = os.execute(string.format(
      "%s lua5.4 -e 'require [[%s]]' >/dev/null 2>&1", childenv, name))
      and true or false
  end
  return loads[name]
end

local function run (code, command)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir " .. dir)
  -- each block runs in a directory of its own, so relative temporary
  -- names cannot meet; stdin is /dev/null
  local cmd = string.format("cd %s && %s timeout -k 5 20 %s %s </dev/null 2>&1",
                            dir, childenv, command, path)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, status = p:close()
  os.remove(path)
  os.execute("rm -rf " .. dir)
  return ok == true, out, status
end

local counts = {run = 0, passed = 0, skipped = 0}
for _, b in ipairs(blocks) do
  local name = string.format("block at %s:%d", MANUAL, b.line)
  local why
  local needs = {}
  for _, mod in ipairs{"luv", "cqueues", "copas"} do
    if b.tags[mod] then needs[#needs + 1] = mod end
  end
  for mod in b.code:gmatch("require%s*%(?%s*[\"']([%w%.]+)[\"']") do
    if not mod:find("^coutil%.") or mod == "coutil.timeout" then
      needs[#needs + 1] = mod
    end
  end
  for _, mod in ipairs(needs) do
    if not why and mod ~= "memory" and not loadable(mod) then
      why = "module '" .. mod .. "' does not load here"
    end
  end
  -- under a sanitizer the programs a block starts inherit its preload and
  -- options (leak reports make them fail)
  if not why and os.getenv("COUTIL_SANITIZER") and
     b.code:find("system.execute", 1, true) then
    why = "starts programs, which would inherit the sanitizer"
  end
  local command = "lua5.4 -W"
  if b.tags.coutil then
    if io.open(COMMAND) then
      command = absolute(COMMAND)
    else
      why = why or (COMMAND .. " is not built (the command is being written)")
    end
  end
  if why then
    counts.skipped = counts.skipped + 1
    H.skip(name, why)
  else
    counts.run = counts.run + 1
    H.case(name, function ()
      local ok, out, status = run(b.code, command)
      if not ok then
        error("exit status " .. tostring(status) .. "; output:\n" .. out, 0)
      end
      if out:find("unhandled error", 1, true) or
         out:find("Lua warning", 1, true) then
        error("warning printed; output:\n" .. out, 0)
      end
      counts.passed = counts.passed + 1
    end)
  end
end
io.stdout:write(string.format("lua blocks: %d in the manual, %d run, " ..
  "%d passed, %d skipped\n", #blocks, counts.run, counts.passed,
  counts.skipped))

H.done()
