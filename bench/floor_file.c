/*
** bench/floor_file.c: the C floors of bench/file_read.lua and
** bench/file_write.lua. The same work as the Lua contenders: n calls of
** 'chunk' bytes each at the file's current offset, into (or from) one
** buffer, the file opened at the start and closed at the end of the call.
** Two ways:
**   async: on a fresh libuv loop, uv_fs_open, then uv_fs_read/uv_fs_write
**          whose callback issues the next call, then uv_fs_close; every
**          request goes through libuv's thread pool, as a C program on
**          libuv would do it.
**   plain: open(2), read(2)/write(2) in a loop, close(2): the kernel's own
**          cost, with nothing around it.
** Built as a Lua module (no liblua link) so that the harness times it like
** every contender:
**   floor.read(path, n, chunk)  floor.readplain(path, n, chunk)
**   floor.write(path, n, chunk) floor.writeplain(path, n, chunk)
** each returns the number of calls that moved exactly 'chunk' bytes; it
** stops at the first that did not (end of file, a short write, an error).
** Writes create the file, truncate it, and leave it for the caller to
** remove.
*/
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lua.h>
#include <lauxlib.h>
#include <uv.h>

typedef struct Bench {
  uv_loop_t loop;
  uv_fs_t req;       /* one request at a time: open, each call, close */
  uv_file fd;
  long n;            /* calls to do */
  long done;         /* calls that moved a whole chunk */
  size_t chunk;
  int writing;
  char *buf;
} Bench;

static void on_closed (uv_fs_t *req) {
  uv_fs_req_cleanup(req);
}

static void closefile (Bench *b) {
  uv_fs_close(&b->loop, &b->req, b->fd, on_closed);
}

static void on_done (uv_fs_t *req);

static void next (Bench *b) {
  uv_buf_t buf = uv_buf_init(b->buf, (unsigned int)b->chunk);
  if (b->writing)
    uv_fs_write(&b->loop, &b->req, b->fd, &buf, 1, -1, on_done);
  else
    uv_fs_read(&b->loop, &b->req, b->fd, &buf, 1, -1, on_done);
}

/* one call done: the next one is issued from its callback */
static void on_done (uv_fs_t *req) {
  Bench *b = req->data;
  ssize_t got = req->result;
  uv_fs_req_cleanup(req);
  if (got == (ssize_t)b->chunk && ++b->done < b->n) next(b);
  else closefile(b);
}

static void on_opened (uv_fs_t *req) {
  Bench *b = req->data;
  ssize_t fd = req->result;
  uv_fs_req_cleanup(req);
  if (fd < 0) return;
  b->fd = (uv_file)fd;
  if (b->n > 0) next(b);
  else closefile(b);
}

static long runasync (const char *path, long n, size_t chunk, int writing) {
  Bench *b = calloc(1, sizeof(Bench));
  long done;
  int flags = writing ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY;
  b->buf = calloc(1, chunk);
  b->n = n;
  b->chunk = chunk;
  b->writing = writing;
  b->req.data = b;  /* uv_fs_* keep 'data' across requests */
  uv_loop_init(&b->loop);
  uv_fs_open(&b->loop, &b->req, path, flags, 0644, on_opened);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  uv_loop_close(&b->loop);
  done = b->done;
  free(b->buf);
  free(b);
  return done;
}

static long runplain (const char *path, long n, size_t chunk, int writing) {
  char *buf = calloc(1, chunk);
  long done = 0;
  int fd = writing ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)
                 : open(path, O_RDONLY);
  if (fd >= 0) {
    while (done < n) {
      ssize_t got = writing ? (ssize_t)(write(fd, buf, chunk))
                          : (ssize_t)(read(fd, buf, chunk));
      if (got != (ssize_t)chunk) break;
      done++;
    }
    close(fd);
  }
  free(buf);
  return done;
}

static int run (lua_State *L, int async, int writing) {
  const char *path = luaL_checkstring(L, 1);
  long n = (long)luaL_checkinteger(L, 2);
  size_t chunk = (size_t)luaL_optinteger(L, 3, 65536);
  luaL_argcheck(L, chunk > 0, 3, "chunk must be positive");
  lua_pushinteger(L, async ? runasync(path, n, chunk, writing)
                           : runplain(path, n, chunk, writing));
  return 1;
}

static int floor_read (lua_State *L) { return run(L, 1, 0); }
static int floor_readplain (lua_State *L) { return run(L, 0, 0); }
static int floor_write (lua_State *L) { return run(L, 1, 1); }
static int floor_writeplain (lua_State *L) { return run(L, 0, 1); }

__attribute__((visibility("default")))
int luaopen_floor_file (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"read", floor_read}, {"readplain", floor_readplain},
    {"write", floor_write}, {"writeplain", floor_writeplain},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  return 1;
}
