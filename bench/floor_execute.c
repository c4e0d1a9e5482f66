/*
** bench/floor_execute.c: the C floor of bench/execute.lua. Runs a program
** n times, one after another, with uv_spawn on a libuv loop of its own,
** each time waiting for the exit callback and the close of the handle, as
** a C program on libuv would. Built as a Lua module (no liblua link):
**   floor.run(n, path) -- returns the number of children that exited 0
*/
#include <lua.h>
#include <lauxlib.h>
#include <uv.h>

static long exited;

static void on_exit_cb (uv_process_t *h, int64_t status, int signal) {
  if (status == 0 && signal == 0) exited++;
  uv_close((uv_handle_t *)h, NULL);
}

static int floor_run (lua_State *L) {
  long n = (long)luaL_checkinteger(L, 1), i;
  char *args[2];
  uv_loop_t loop;
  uv_process_options_t opts = {0};
  uv_stdio_container_t io[3];
  args[0] = (char *)luaL_checkstring(L, 2);
  args[1] = NULL;
  for (i = 0; i < 3; i++) {
    io[i].flags = UV_INHERIT_FD;
    io[i].data.fd = (int)i;
  }
  opts.file = args[0];
  opts.args = args;
  opts.exit_cb = on_exit_cb;
  opts.stdio = io;
  opts.stdio_count = 3;
  uv_loop_init(&loop);
  exited = 0;
  for (i = 0; i < n; i++) {
    uv_process_t child;
    if (uv_spawn(&loop, &child, &opts) != 0) {
      uv_close((uv_handle_t *)&child, NULL);
      uv_run(&loop, UV_RUN_DEFAULT);
      break;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  lua_pushinteger(L, exited);
  return 1;
}

int luaopen_floor_execute (lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, floor_run);
  lua_setfield(L, -2, "run");
  return 1;
}
