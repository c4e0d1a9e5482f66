-- test/types.lua: the LuaLS annotation files in types/ (one ---@meta file
-- per module) parse as Lua, and match the modules of the build: every
-- function or field a module exports is annotated in its file, and the
-- file annotates nothing the module lacks; the same for the methods of
-- objects (the __index tables of their metatables), checked on real
-- objects. Each annotated function has a description line and one
-- ---@param per parameter, and no ---@param for a parameter it lacks.
-- The rockspec installs every file of types/.

local H = require "helpers"

local modules = {"system", "event", "queued", "mutex", "promise", "spawn",
                 "channel", "coroutine", "threads", "timeout"}

-- fields of coutil.system made on first use, so absent from pairs(system)
local lazy = {stdin = true, stdout = true, stderr = true}

local function pathof (name)
  return name == "memory" and "types/memory.lua"
                          or "types/coutil/" .. name .. ".lua"
end

local function readall (path)
  local f = assert(io.open(path, "r"))
  local text = f:read("a")
  f:close()
  return text
end

-- What an annotation file declares:
--   classes[name] = {parents = {...}, fields = {name = true}}
--   vars[var] = class name (a `local var = {}` right after ---@class)
--   funcs = {{owner = var, name = ..., params = {...}, doc = {...}}}
--   fields[var] = {name = true} for `var.name = ...` statements
--   modvar = the variable the file returns
local function parse (text)
  local info = {classes = {}, vars = {}, funcs = {}, fields = {},
                meta = nil, modvar = nil}
  local doc, lastclass = {}, nil
  local lineno = 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    lineno = lineno + 1
    local docline = line:match("^%-%-%-(.*)$")
    if docline then
      doc[#doc + 1] = docline
      local meta = docline:match("^@meta%s+(%S+)")
      if meta then info.meta = meta end
      local name, parents = docline:match("^@class%s+([%w_%.]+)%s*:?%s*(.-)%s*$")
      if name then
        local list = {}
        for p in parents:gmatch("[%w_%.]+") do list[#list + 1] = p end
        info.classes[name] = info.classes[name] or {parents = list, fields = {}}
        lastclass = name
      end
      local field = docline:match("^@field%s+([%w_]+)")
      if field and lastclass then info.classes[lastclass].fields[field] = true end
    else
      local var = line:match("^local%s+([%w_]+)%s*=%s*{%s*}")
      if var and lastclass and #doc > 0 then info.vars[var] = lastclass end
      local owner, sep, name, params =
        line:match("^function%s+([%w_]+)([%.:])([%w_]+)%s*%((.-)%)")
      if owner then
        local list = {}
        for p in params:gmatch("[^,%s]+") do list[#list + 1] = p end
        info.funcs[#info.funcs + 1] = {owner = owner, sep = sep, name = name,
          params = list, doc = doc, line = lineno}
      end
      local fowner, fname = line:match("^([%w_]+)%.([%w_]+)%s*=")
      if fowner then
        info.fields[fowner] = info.fields[fowner] or {}
        info.fields[fowner][fname] = true
      end
      local ret = line:match("^return%s+([%w_]+)%s*$")
      if ret then info.modvar = ret end
      if line:match("%S") then lastclass = nil end
      doc = {}
    end
  end
  return info
end

-- The annotated functions of class 'name' and of its ancestors.
local function methodsof (info, name, set)
  set = set or {}
  local class = assert(info.classes[name], "no class " .. name)
  for var, cname in pairs(info.vars) do
    if cname == name then
      for _, f in ipairs(info.funcs) do
        if f.owner == var then set[f.name] = true end
      end
    end
  end
  for _, parent in ipairs(class.parents) do
    if info.classes[parent] then methodsof(info, parent, set) end
  end
  return set
end

local function sorted (set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = tostring(k) end
  table.sort(list)
  return table.concat(list, " ")
end

-- Compares the names of 'real' (a table) with the set 'annotated'.
local function compare (what, real, annotated)
  local missing, extra = {}, {}
  for k in pairs(real) do
    if not annotated[k] then missing[k] = true end
  end
  for k in pairs(annotated) do
    if real[k] == nil then extra[k] = true end
  end
  if next(missing) or next(extra) then
    error(string.format("%s: not annotated: {%s}; annotated but absent: {%s}",
      what, sorted(missing), sorted(extra)), 2)
  end
end

local infos = {}
local function load (name)
  local path = pathof(name)
  if not infos[name] then
    local chunk, err = loadfile(path)
    assert(chunk, err)
    infos[name] = parse(readall(path))
  end
  return infos[name]
end

-- Every file parses as Lua and names its module.
H.case("every annotation file parses as Lua", function ()
  local names = {memory = true}
  for _, name in ipairs(modules) do names[name] = true end
  local p = assert(io.popen("ls types/coutil/*.lua types/*.lua"))
  local seen = {}
  for path in p:lines() do
    local name = path:match("^types/coutil/([%w_]+)%.lua$")
              or path:match("^types/([%w_]+)%.lua$")
    assert(name and names[name], "unexpected annotation file " .. path)
    seen[name] = true
    local chunk, err = loadfile(path)
    assert(chunk, err)
  end
  p:close()
  for name in pairs(names) do
    assert(seen[name], "no annotation file for " .. name)
  end
end)

H.case("the rockspec installs every file of types/", function ()
  local spec = {}
  assert(loadfile("coutil-scm-1.rockspec", "t", spec))()
  local conf = assert(spec.build.install.conf, "no build.install.conf")
  local listed = {}
  for dest, src in pairs(conf) do
    assert(dest == src, dest .. " is installed as " .. src)
    listed[src] = true
  end
  local p = assert(io.popen("find types -type f"))
  local files = {}
  for path in p:lines() do files[path] = true end
  p:close()
  compare("build.install.conf", files, listed)
end)

H.case("every file has ---@meta with its module name and returns it", function ()
  for _, name in ipairs(modules) do
    local info = load(name)
    assert(info.meta == "coutil." .. name, pathof(name) .. ": ---@meta " ..
           tostring(info.meta))
    assert(info.modvar, pathof(name) .. " returns no module table")
  end
  local info = load("memory")
  assert(info.meta == "memory" and info.modvar, "types/memory.lua: ---@meta")
end)

H.case("every annotated function has a description and its @params", function ()
  for _, name in ipairs{"memory", table.unpack(modules)} do
    local info = load(name)
    for _, f in ipairs(info.funcs) do
      local where = string.format("%s:%d: %s%s%s", pathof(name), f.line,
                                  f.owner, f.sep, f.name)
      local described, params = false, {}
      for _, d in ipairs(f.doc) do
        if d:match("^[^@%s]") then described = true end
        local p = d:match("^@param%s+([%w_%.]+)")
        if p then params[p] = true end
      end
      assert(described, where .. " has no description")
      local declared = {}
      for _, p in ipairs(f.params) do
        declared[p] = true
        assert(params[p], where .. " has no ---@param " .. p)
      end
      for p in pairs(params) do
        assert(declared[p], where .. " annotates no parameter " .. p)
      end
    end
  end
end)

-- The module functions and fields annotated in a file.
local function exports (info)
  local set = {}
  for _, f in ipairs(info.funcs) do
    if f.owner == info.modvar then
      assert(f.sep == ".", info.modvar .. ":" .. f.name .. " is a method")
      set[f.name] = "function"
    end
  end
  for k in pairs(info.fields[info.modvar] or {}) do set[k] = "field" end
  return set
end

local function checkmodule (name, m)
  local info = load(name)
  local annotated = exports(info)
  local real = {}
  for k, v in pairs(m) do real[k] = v end
  for k in pairs(annotated) do
    if real[k] == nil and name == "system" and lazy[k] then
      local v = m[k]  -- made on first use (or nil: an unsupported stream)
      assert(v == nil or type(v) == "userdata", k .. " has the wrong type")
      real[k] = true
    end
  end
  compare("coutil." .. name, real, annotated)
  for k, kind in pairs(annotated) do
    if kind == "function" then
      assert(type(m[k]) == "function", name .. "." .. k .. " is no function")
    end
  end
end

for _, name in ipairs(modules) do
  local modname = "coutil." .. name
  local ok, m = pcall(require, modname)
  if not ok and name == "timeout" then
    H.skip(modname .. " is annotated as the build has it",
           "coutil.timeout not built yet")
  else
    H.case(modname .. " is annotated as the build has it", function ()
      assert(ok, m)
      checkmodule(name, m)
    end)
  end
end

H.case("memory is annotated as the build has it", function ()
  local memory = H.cmodule("memory")
  local info = load("memory")
  local real = {}
  for k, v in pairs(memory) do real[k] = v end
  compare("memory", real, exports(info))
end)

-- The methods of an object (its metatable's __index table) are those
-- annotated for class 'class' of the file of module 'name'.
local function checkmethods (name, class, obj)
  local mt = assert(getmetatable(obj), class .. " object has no metatable")
  local index = mt.__index
  assert(type(index) == "table", class .. ": __index is no table")
  local info = load(name)
  compare(class .. " methods", index, methodsof(info, class))
end

H.case("socket methods are annotated", function ()
  local system = require "coutil.system"
  for _, kind in ipairs{"datagram", "stream", "passive"} do
    local s = H.track(assert(system.socket(kind, "ipv4")))
    checkmethods("system", "coutil.socket." .. kind, s)
    assert(s:close())
    if kind ~= "datagram" then
      s = H.track(assert(system.socket(kind, "local")))
      checkmethods("system", "coutil.socket." .. kind, s)
      assert(s:close())
    end
  end
  H.drain()
end)

H.case("terminal methods are annotated", function ()
  require "coutil.system"
  -- no terminal is at hand: its class, made when the module loads
  local mt = debug.getregistry()["coutil.terminal"]
  assert(type(mt) == "table", "no class coutil.terminal")
  compare("coutil.terminal methods", mt.__index,
          methodsof(load("system"), "coutil.terminal"))
end)

H.case("file methods are annotated", function ()
  local system = require "coutil.system"
  local path = os.tmpname()
  local f = H.track(assert(system.openfile(path, "~rw")))
  checkmethods("system", "coutil.file", f)
  assert(f:close("~"))
  os.remove(path)
end)

H.case("addresses methods and address fields are annotated", function ()
  local system = require "coutil.system"
  local list = H.track(assert(system.findaddr("127.0.0.1", 80, "~4s")))
  checkmethods("system", "coutil.addresses", list)
  local a = H.track(list:getaddress())
  assert(list:close())
  -- an address has fields, not methods: __index is a function
  local info = load("system")
  local fields = info.classes["coutil.address"].fields
  local real = {}
  for k in pairs(fields) do
    local ok, v = pcall(function () return a[k] end)
    if ok then real[k] = v end
  end
  for _, k in ipairs{"type", "literal", "binary", "port", "nofield"} do
    local ok = pcall(function () return a[k] end)
    if ok then real[k] = true end
  end
  compare("coutil.address fields", real, fields)
end)

H.case("info iterators have no methods", function ()
  local system = require "coutil.system"
  local iter = system.cpuinfo("m")
  H.track(iter)
  checkmethods("system", "coutil.infoiterator", iter)
  getmetatable(iter).__close(iter)
end)

H.case("channel methods are annotated", function ()
  local channel = require "coutil.channel"
  local ch = H.track(assert(channel.create("test/types.lua")))
  checkmethods("channel", "coutil.channel", ch)
  ch:close()
end)

H.case("state coroutine methods are annotated", function ()
  local coroutine = require "coutil.coroutine"
  local co = H.track(assert(coroutine.load("return 1")))
  checkmethods("coroutine", "coutil.coroutine", co)
  co:close()
end)

H.case("thread pool methods are annotated", function ()
  local threads = require "coutil.threads"
  local pool = H.track(assert(threads.create(1)))
  checkmethods("threads", "coutil.threads", pool)
  assert(pool:close())
end)

H.case("memory methods are annotated", function ()
  local memory = H.cmodule("memory")
  checkmethods("memory", "memory", H.track(memory.create(4)))
  checkmethods("memory", "memory", H.track(memory.create()))
end)

H.done()
