/*
** stdio.c: system.stdin, system.stdout and system.stderr (manual,
** "Standard Streams") and the terminal methods. Each object is made on
** first access of its field (libuv makes the descriptor non-blocking, so
** a program that never uses them keeps its stdio untouched), then cached
** in the module table.
*/
#include <stdlib.h>
#include <string.h>
#include "areas.h"
#include "socket.h"

/* terminal:setmode(mode) */
static int terminal_setmode (lua_State *L) {
  static const char *const modes[] = {"normal", "raw", "binary", NULL};
  static const uv_tty_mode_t uvmodes[] = {UV_TTY_MODE_NORMAL, UV_TTY_MODE_RAW,
                                          UV_TTY_MODE_IO};
  cu_Socket *s = cu_checkself(L);
  uv_tty_mode_t mode = uvmodes[luaL_checkoption(L, 2, NULL, modes)];
  int err = uv_tty_set_mode(&s->h.tty, mode);
  if (err == 0) s->ttymode = (unsigned char)mode;
  return cu_pushresult(L, err);
}

/* terminal:winsize() */
static int terminal_winsize (lua_State *L) {
  cu_Socket *s = cu_checkself(L);
  int width, height;
  int err = uv_tty_get_winsize(&s->h.tty, &width, &height);
  if (err < 0) return cu_pushfail(L, err);
  lua_pushinteger(L, width);
  lua_pushinteger(L, height);
  return 2;
}

/* Pushes the object for descriptor 'fd', or nil when its kind is not
   supported (regular files and character devices: see docs). */
static void pushstdio (lua_State *L, int fd) {
  uv_loop_t *uv = cu_openloop(L);
  cu_Socket **ref;
  cu_Socket *s;
  int err;
  switch (uv_guess_handle(fd)) {
    case UV_TTY:
      ref = cu_pushsocketref(L, CU_TERMINAL);
      s = cu_newsocket(L, CU_TERMINAL, CU_NODOMAIN);
      err = uv_tty_init(uv, &s->h.tty, fd, fd == 0);
      break;
    case UV_NAMED_PIPE:
      ref = cu_pushsocketref(L, CU_STREAM);
      s = cu_newsocket(L, CU_STREAM, CU_LOCAL);
      err = uv_pipe_init(uv, &s->h.pipe, 0);
      if (err == 0 && (err = uv_pipe_open(&s->h.pipe, fd)) < 0) {
        cu_closesocket(s);  /* initialised: on_closed frees it */
        lua_pop(L, 1);
        lua_pushnil(L);
        return;
      }
      break;
    case UV_TCP: {
      struct sockaddr_storage ss;
      int len = sizeof(ss);
      ref = cu_pushsocketref(L, CU_STREAM);
      s = cu_newsocket(L, CU_STREAM, CU_IPV4);
      err = uv_tcp_init(uv, &s->h.tcp);
      if (err == 0 && (err = uv_tcp_open(&s->h.tcp, fd)) < 0) {
        cu_closesocket(s);
        lua_pop(L, 1);
        lua_pushnil(L);
        return;
      }
      if (err == 0 &&
          uv_tcp_getsockname(&s->h.tcp, (struct sockaddr *)&ss, &len) == 0 &&
          ss.ss_family == AF_INET6)
        s->domain = CU_IPV6;
      break;
    }
    default:
      lua_pushnil(L);
      return;
  }
  if (err < 0) {  /* libuv did not keep the handle */
    free(s);
    lua_pop(L, 1);
    lua_pushnil(L);
    return;
  }
  cu_setsocket(ref, s);
}

/* __index of the module table: makes stdin, stdout, stderr on demand */
static int stdio_index (lua_State *L) {
  static const char *const names[] = {"stdin", "stdout", "stderr", NULL};
  int fd;
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  for (fd = 0; names[fd]; fd++)
    if (strcmp(lua_tostring(L, 2), names[fd]) == 0) break;
  if (names[fd] == NULL) return 0;
  pushstdio(L, fd);
  if (!lua_isnil(L, -1)) {
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);  /* the same object from now on */
  }
  return 1;
}

void cu_open_stdio (lua_State *L) {
  static const luaL_Reg methods[] = {
    {"close", cu_socket_close}, {"read", cu_stream_read},
    {"write", cu_stream_write}, {"shutdown", cu_stream_shutdown},
    {"setmode", terminal_setmode}, {"winsize", terminal_winsize},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", cu_socket_gc}, {"__close", cu_socket_toclose},
    {"__tostring", cu_socket_tostring},
    {NULL, NULL}
  };
  cu_newsocketclass(L, CU_TERMINAL, methods, meta);
  if (!lua_getmetatable(L, -1)) lua_createtable(L, 0, 1);
  cu_pushloop(L);
  lua_pushcclosure(L, stdio_index, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
}
