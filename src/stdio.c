/*
** stdio.c: system.stdin, system.stdout and system.stderr (manual,
** "Standard Streams") and the terminal methods. Each object is made on
** first access of its field (libuv makes the descriptor non-blocking, so
** a program that never uses them keeps its stdio untouched), then cached
** in the module table. Each object wraps its own duplicate of the
** descriptor, never 0, 1 or 2 themselves: closing it, or the end of the
** state that made it (a task, a state coroutine), cannot close what the
** process and its other states still use.
*/
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "areas.h"
#include "filesys.h"
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

/* What the init and open steps of a standard stream get: the stream's
   number and the duplicate to wrap. */
typedef struct StdFd {
  int fd, dup;
} StdFd;

/* cu_SocketInit/cu_SocketOpen of the standard streams. */
static int inittty (uv_loop_t *uv, cu_Socket *s, void *arg) {
  StdFd *d = (StdFd *)arg;
  return uv_tty_init(uv, &s->h.tty, d->dup, d->fd == 0);
}

static int initpipe (uv_loop_t *uv, cu_Socket *s, void *arg) {
  (void)arg;
  return uv_pipe_init(uv, &s->h.pipe, 0);
}

static int openpipe (cu_Socket *s, void *arg) {
  return uv_pipe_open(&s->h.pipe, ((StdFd *)arg)->dup);
}

static int inittcp (uv_loop_t *uv, cu_Socket *s, void *arg) {
  (void)arg;
  return uv_tcp_init(uv, &s->h.tcp);
}

static int opentcp (cu_Socket *s, void *arg) {
  int err = uv_tcp_open(&s->h.tcp, ((StdFd *)arg)->dup);
  if (err == 0) cu_socket_setfamily(s);
  return err;
}

/* Pushes the object for descriptor 'fd': a file object for regular files
   and character devices that are no terminal (/dev/null), a terminal or a
   stream socket; nil when its kind is not supported or when it cannot be
   duplicated. */
static void pushstdio (lua_State *L, int fd) {
  cu_Socket *s = NULL;
  uv_os_fd_t used;
  StdFd d;
  int err;
  uv_handle_type type = uv_guess_handle(fd);
  cu_loop_open(L);  /* raises once the loop is closed */
  d.fd = fd;
  if ((type != UV_TTY && type != UV_NAMED_PIPE && type != UV_TCP &&
       type != UV_FILE) || (d.dup = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
    lua_pushnil(L);
    return;
  }
  if (type == UV_FILE) {
    cu_file_new(L, d.dup);
    return;
  }
  if (type == UV_TTY)
    s = cu_socket_new(L, CU_TERMINAL, CU_NODOMAIN, inittty, NULL, &d, &err);
  else if (type == UV_NAMED_PIPE)
    s = cu_socket_new(L, CU_STREAM, CU_LOCAL, initpipe, openpipe, &d, &err);
  else
    s = cu_socket_new(L, CU_STREAM, CU_IPV4, inittcp, opentcp, &d, &err);
  if (s == NULL) {  /* the handle, if any, was closed without it */
    close(d.dup);
    lua_pushnil(L);
  }
  else if (uv_fileno(&s->h.handle, &used) == 0 && used != d.dup)
    close(d.dup);  /* libuv reopened the terminal: the copy is unused */
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
