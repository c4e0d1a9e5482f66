-- test/rockspec.lua: coutil-scm-1.rockspec builds and installs coutil.so
-- and memory.so with Debian's luarocks, offline, into a private tree made
-- from a copy of the sources; the installed modules load in a fresh
-- lua5.4 and are not linked against liblua; the LuaLS annotations of
-- types/ are installed in the rock's conf directory.

local H = require "helpers"

local function q (s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs a shell command without the sanitizer runtime that this test may
-- run under (the leak checker would fail uninstrumented tools such as
-- mktemp or gcc) and outside any make that started the suite. Returns
-- whether it exited with 0, and its output.
local function sh (cmd)
  local p = assert(io.popen("env -u LD_PRELOAD -u MAKEFLAGS -u MFLAGS " ..
    "-u MAKELEVEL sh -c " .. q(cmd .. " 2>&1")))
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out
end

local ok, tmp = sh("mktemp -d")
assert(ok, tmp)
tmp = tmp:gsub("%s+$", "")
local tree = tmp .. "/tree"
local libdir = tree .. "/lib/lua/5.4"

local function luarocks_available ()
  return (sh("command -v luarocks"))
end

H.case("luarocks make installs coutil.so and memory.so", function ()
  assert(luarocks_available(), "luarocks is not installed (.ci/deps.sh)")
  local ok, out = sh("cp -R src bin types Makefile coutil-scm-1.rockspec " ..
    q(tmp))
  assert(ok, out)
  local _, incdir = sh("pkg-config --variable=includedir lua5.4")
  incdir = incdir:gsub("%s+$", "")
  -- HOME keeps any user configuration and cache of luarocks out.
  ok, out = sh(string.format("cd %s && HOME=%s luarocks --lua-version=5.4"
    .. " make coutil-scm-1.rockspec --tree=%s LUA_INCDIR=%s/lua5.4",
    q(tmp), q(tmp), q(tree), incdir))
  assert(ok, "luarocks failed:\n" .. out)
  for _, name in ipairs{"coutil.so", "memory.so"} do
    local f = io.open(libdir .. "/" .. name, "rb")
    assert(f, name .. " is not in " .. libdir .. "\n" .. out)
    f:close()
  end
end)

H.case("the LuaLS annotations are in the rock's conf directory", function ()
  local conf = tree .. "/lib/luarocks/rocks-5.4/coutil/scm-1/conf/types/"
  for _, name in ipairs{"README.md", "memory.lua", "coutil/system.lua",
                        "coutil/timeout.lua"} do
    local f = io.open(conf .. name, "rb")
    assert(f, name .. " is not in " .. conf)
    f:close()
  end
  -- never where require would find them before the C modules
  local f = io.open(tree .. "/share/lua/5.4/coutil/system.lua", "rb")
  if f then f:close() end
  assert(not f, "coutil/system.lua is in share/lua/5.4")
end)

H.case("the installed libraries do not link liblua", function ()
  for _, name in ipairs{"coutil.so", "memory.so"} do
    local ok, out = sh("readelf -d " .. q(libdir .. "/" .. name))
    assert(ok, out)
    assert(out:find("NEEDED", 1, true) or name == "memory.so",
           "no dynamic section in " .. name)
    assert(not out:find("liblua", 1, true), name .. " links liblua:\n" .. out)
  end
end)

H.case("modules load from the tree in a fresh lua5.4", function ()
  local code = [[
    local system = require "coutil.system"
    local memory = require "memory"
    assert(type(memory) == "table", "memory is not a table")
    local woke
    coroutine.wrap(function () woke = system.suspend(0) end)()
    assert(system.run() == false)
    assert(woke == true, "suspend did not return true")
    assert(package.searchpath("coutil", package.cpath):find(DIR, 1, true))
    print("loaded")
  ]]
  local ok, out = sh(string.format("LUA_CPATH=%s LUA_PATH=';;' lua5.4 -e %s",
    q(libdir .. "/?.so"), q("DIR = " .. string.format("%q", libdir) ..
    "\n" .. code)))
  assert(ok and out:find("loaded", 1, true), "child failed:\n" .. out)
end)

H.case("the tree's coutil command runs a chunk under the loop", function ()
  local ok, out = sh(string.format("%s/bin/coutil -e %s", q(tree),
    q('require "coutil.system".suspend(0) print("awaited at top level")')))
  assert(ok and out:find("awaited at top level", 1, true),
         "coutil failed:\n" .. out)
end)

sh("rm -rf " .. q(tmp))
H.done()
