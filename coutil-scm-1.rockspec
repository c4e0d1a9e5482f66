-- coutil-scm-1.rockspec: builds coutil with its own Makefile (so the
-- flags are the ones `make` uses: pkg-config for Lua 5.4 and libuv, C11,
-- no link against liblua) and installs coutil.so and memory.so, and the
-- LuaLS annotations of types/ in the rock's conf directory.
--   luarocks --lua-version=5.4 make coutil-scm-1.rockspec --tree=<dir>
rockspec_format = "3.0"
package = "coutil"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "Coroutine-friendly OS API, events and threads for Lua 5.4",
  detailed = [[
    coutil lets Lua 5.4 coroutines await system operations (time,
    processes, sockets, files, terminals) on libuv, synchronise through
    events, queued events, mutexes and promises, and run code in parallel
    in independent Lua states on system threads.
  ]],
}
supported_platforms = { "linux" }
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "make",
  build_target = "all",
  build_variables = {
    CC = "$(CC)",
    -- luarocks' own CFLAGS (-O2 -fPIC) come after the Makefile's.
    CFLAGS = "$(CFLAGS)",
    LUA = "$(LUA)",
  },
  -- The Makefile's install target has its own layout; luarocks copies the
  -- two libraries into the tree's C module directory itself.
  install_pass = false,
  install = {
    lib = {
      coutil = "build/lib/coutil.so",
      memory = "build/lib/memory.so",
    },
    -- the command without a folder of its own: luarocks' wrapper sets the
    -- paths of the tree
    bin = {
      coutil = "bin/coutil",
    },
    -- The LuaLS annotations (types/README.md), kept out of the Lua module
    -- directory (require would find them before the C modules): they go
    -- to the rock's conf directory,
    -- <tree>/lib/luarocks/rocks-5.4/coutil/scm-1/conf/types/.
    conf = {
      ["types/README.md"] = "types/README.md",
      ["types/memory.lua"] = "types/memory.lua",
      ["types/coutil/system.lua"] = "types/coutil/system.lua",
      ["types/coutil/event.lua"] = "types/coutil/event.lua",
      ["types/coutil/queued.lua"] = "types/coutil/queued.lua",
      ["types/coutil/mutex.lua"] = "types/coutil/mutex.lua",
      ["types/coutil/promise.lua"] = "types/coutil/promise.lua",
      ["types/coutil/spawn.lua"] = "types/coutil/spawn.lua",
      ["types/coutil/channel.lua"] = "types/coutil/channel.lua",
      ["types/coutil/coroutine.lua"] = "types/coutil/coroutine.lua",
      ["types/coutil/threads.lua"] = "types/coutil/threads.lua",
      ["types/coutil/timeout.lua"] = "types/coutil/timeout.lua",
    },
  },
}
