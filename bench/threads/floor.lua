-- bench/threads/floor.lua: builds (when its source is newer) and loads one
-- of the C floors bench/floor_<name>.c of the thread benchmarks, before
-- anything is timed. Returns a function: load(name) -> the floor module.
return function (name)
  local src = "bench/floor_" .. name .. ".c"
  local lib = "bench/out/floor_" .. name .. ".so"
  local f = io.open(lib)
  if f then f:close() end
  local newer = f and os.execute(string.format(
    "test -n \"$(find %s -newer %s)\"", src, lib))
  if not f or newer then
    os.execute("mkdir -p bench/out")
    assert(os.execute(string.format("cc -O2 -g -shared -fPIC " ..
      "$(pkg-config --cflags lua5.4 libuv) %s -o %s " ..
      "$(pkg-config --libs libuv) -lpthread", src, lib)),
      "cannot build " .. src)
  end
  return assert(package.loadlib(lib, "luaopen_floor_" .. name))()
end
