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
  cu_Socket *s = cu_socket_checkself(L);
  uv_tty_mode_t mode = uvmodes[luaL_checkoption(L, 2, NULL, modes)];
  int err = uv_tty_set_mode(&s->h.tty, mode);
  if (err == 0) s->ttymode = (unsigned char)mode;
  return cu_pushresult(L, err);
}

/* terminal:winsize() */
static int terminal_winsize (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  int width, height;
  int err = uv_tty_get_winsize(&s->h.tty, &width, &height);
  if (err < 0) return cu_pushfail(L, err);
  lua_pushinteger(L, width);
  lua_pushinteger(L, height);
  return 2;
}

/* cu_SocketInit/cu_SocketOpen of the standard streams: 'arg' points to
   the descriptor. */
static int inittty (uv_loop_t *uv, cu_Socket *s, void *arg) {
  int fd = *(int *)arg;
  return uv_tty_init(uv, &s->h.tty, fd, fd == 0);
}

static int initpipe (uv_loop_t *uv, cu_Socket *s, void *arg) {
  (void)arg;
  return uv_pipe_init(uv, &s->h.pipe, 0);
}

static int openpipe (cu_Socket *s, void *arg) {
  return uv_pipe_open(&s->h.pipe, *(int *)arg);
}

static int inittcp (uv_loop_t *uv, cu_Socket *s, void *arg) {
  (void)arg;
  return uv_tcp_init(uv, &s->h.tcp);
}

static int opentcp (cu_Socket *s, void *arg) {
  int err = uv_tcp_open(&s->h.tcp, *(int *)arg);
  if (err == 0) cu_socket_setfamily(s);
  return err;
}

/* Pushes the object for descriptor 'fd', or nil when its kind is not
   supported (regular files and character devices: see docs). */
static void pushstdio (lua_State *L, int fd) {
  cu_Socket *s = NULL;
  int err;
  cu_loop_open(L);  /* raises once the loop is closed */
  switch (uv_guess_handle(fd)) {
    case UV_TTY:
      s = cu_socket_new(L, CU_TERMINAL, CU_NODOMAIN, inittty, NULL, &fd,
                        &err);
      break;
    case UV_NAMED_PIPE:
      s = cu_socket_new(L, CU_STREAM, CU_LOCAL, initpipe, openpipe, &fd,
                        &err);
      break;
    case UV_TCP:
      s = cu_socket_new(L, CU_STREAM, CU_IPV4, inittcp, opentcp, &fd, &err);
      break;
    default: break;
  }
  if (s == NULL) lua_pushnil(L);
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
  cu_socket_newclass(L, CU_TERMINAL, methods, meta);
  if (!lua_getmetatable(L, -1)) lua_createtable(L, 0, 1);
  cu_loop_push(L);
  lua_pushcclosure(L, stdio_index, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
}
