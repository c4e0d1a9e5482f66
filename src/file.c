/*
** file.c: file objects (manual, "File System": system.openfile and the
** file methods close, read, write, resize, flush, touch, own, grant,
** info). maketemp("o") and the standard streams on files make them too.
**
** A file object is a userdata holding a pointer to a malloc'd cu_File:
** the descriptor outlives the userdata when a thread-pool request still
** uses it (its coroutine left early and the object was collected), and a
** close never pulls the descriptor from under such a request: it closes
** it when the last one ends (cu_file_release).
**
** Reads first try preadv2 with RWF_NOWAIT, which copies data the page
** cache holds without blocking; then the coroutine still waits for the
** next loop iteration (the ready list of time.c), so a read stays an await
** that lets the others run. Only data that is not cached, or a file the
** flag does not work on, takes the thread pool (cu_filesys_run). Writes
** try pwritev2 the same way once per file: buffered writes with the flag
** are refused by most file systems (ext4 says EOPNOTSUPP), which then go
** to the pool for good.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "areas.h"
#include "await.h"
#include "filesys.h"
#include "memory.h"
#include "time.h"

#define CLASS "coutil.file"

struct cu_File {
  uv_file fd;          /* -1 once closed for good */
  unsigned pending;    /* pool requests that use 'fd' */
  unsigned char closed;/* closed for Lua; 'fd' goes with the last request */
  unsigned char gone;  /* the userdata was collected: free with the last */
  unsigned char nowaitread, nowaitwrite; /* RWF_NOWAIT not refused yet */
};

/* --- the record ---------------------------------------------------------- */

static void closenow (uv_file fd) {
  (void)close(fd);  /* Linux frees the descriptor even on EINTR */
}

uv_file cu_file_acquire (cu_File *f) {
  if (f->closed) return -1;
  f->pending++;
  return f->fd;
}

void cu_file_release (cu_File *f) {
  if (--f->pending > 0) return;
  if (f->closed && f->fd >= 0) {
    closenow(f->fd);
    f->fd = -1;
  }
  if (f->gone) free(f);
}

static int newref (lua_State *L) {
  cu_File **ref = (cu_File **)lua_newuserdatauv(L, sizeof(cu_File *), 0);
  *ref = NULL;  /* closed until complete */
  luaL_setmetatable(L, CLASS);
  return 1;
}

/* On any failure 'fd' is closed: the object is made under lua_pcall
   (L is running) before the descriptor is given to it. */
void cu_file_new (lua_State *L, uv_file fd) {
  cu_File *f;
  cu_File **ref;
  if (!lua_checkstack(L, 2)) {
    closenow(fd);
    luaL_error(L, "stack overflow");
  }
  lua_pushcfunction(L, newref);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    closenow(fd);
    lua_error(L);
  }
  ref = (cu_File **)lua_touserdata(L, -1);
  if ((f = (cu_File *)malloc(sizeof(cu_File))) == NULL) {
    closenow(fd);
    luaL_error(L, "not enough memory");
  }
  f->fd = fd;
  f->pending = 0;
  f->closed = f->gone = 0;
  f->nowaitread = f->nowaitwrite = 1;
  *ref = f;
}

int cu_file_tofd (lua_State *L, int idx, uv_file *fd) {
  cu_File **ref = (cu_File **)luaL_testudata(L, idx, CLASS);
  if (ref == NULL) return 0;
  *fd = (*ref == NULL || (*ref)->closed) ? -1 : (*ref)->fd;
  return 1;
}

/* The open file at 'arg', or raises "closed object". */
static cu_File *checkfile (lua_State *L, int arg) {
  cu_File **ref = (cu_File **)luaL_checkudata(L, arg, CLASS);
  if (*ref == NULL || (*ref)->closed) luaL_argerror(L, arg, "closed object");
  return *ref;
}

/* Closed for Lua; the descriptor now unless a request still uses it. */
static void closefile (cu_File *f) {
  f->closed = 1;
  if (f->pending == 0 && f->fd >= 0) {
    closenow(f->fd);
    f->fd = -1;
  }
}

/* __gc */
static int file_gc (lua_State *L) {
  cu_File **ref = (cu_File **)luaL_checkudata(L, 1, CLASS);
  cu_File *f = *ref;
  if (f == NULL) return 0;
  *ref = NULL;
  closefile(f);
  if (f->pending == 0) free(f);
  else f->gone = 1;  /* cu_file_release frees it */
  return 0;
}

/* __close: as the garbage collector would, without waiting */
static int file_toclose (lua_State *L) {
  cu_File **ref = (cu_File **)luaL_checkudata(L, 1, CLASS);
  if (*ref) closefile(*ref);
  return 0;
}

/* __tostring */
static int file_tostring (lua_State *L) {
  cu_File **ref = (cu_File **)luaL_checkudata(L, 1, CLASS);
  if (*ref && !(*ref)->closed) lua_pushfstring(L, "file (%p)", (void *)*ref);
  else lua_pushliteral(L, "file (closed)");
  return 1;
}

/* --- results ------------------------------------------------------------- */

static int pushdone (lua_State *L, uv_fs_t *req) {
  return cu_pushresult(L, (int)req->result);
}

/* A byte count, or the failure triple. */
static int pushcount (lua_State *L, uv_fs_t *req) {
  if (req->result < 0) return cu_pushfail(L, (int)req->result);
  lua_pushinteger(L, (lua_Integer)req->result);
  return 1;
}

/* What a read(2)-like call returned, with errno on failure. */
static int pushsyscall (lua_State *L, ssize_t n) {
  if (n < 0) return cu_pushfail(L, uv_translate_sys_error(errno));
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* Continuation of a read or write done at once: the count in 'ctx'. */
static int countdone (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  lua_pushinteger(L, (lua_Integer)ctx);
  return 1;
}

/* --- system.openfile ----------------------------------------------------- */

static int callopen (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                     uv_fs_cb cb) {
  return uv_fs_open(l, r, a->path, a->flags, a->perm, cb);
}

/* libuv opens every file close-on-exec: without 'x' it is inheritable. */
static int pushopened (lua_State *L, uv_fs_t *req) {
  uv_file fd = (uv_file)req->result;
  if (fd < 0) return cu_pushfail(L, fd);
  if (!(req->flags & O_CLOEXEC)) (void)fcntl(fd, F_SETFD, 0);
  cu_file_new(L, fd);
  return 1;
}

/* The coroutine left: nobody takes the file the pool opened. */
static void dropopened (uv_fs_t *req) {
  if (req->result >= 0) closenow((uv_file)req->result);
}

static const cu_FsKind OPEN = {callopen, pushopened, dropopened};

/* open(2) flags of the mode chars of openfile. */
static int openflags (const char *mode) {
  int flags = O_RDONLY;
  if (strpbrk(mode, "waft"))  /* 'a', 'f' and 't' imply 'w' */
    flags = cu_hasmode(mode, 'r') ? O_RDWR : O_WRONLY;
  if (cu_hasmode(mode, 'a')) flags |= O_APPEND;
  if (cu_hasmode(mode, 'n')) flags |= O_CREAT;
  if (cu_hasmode(mode, 'N')) flags |= O_CREAT | O_EXCL;
  if (cu_hasmode(mode, 'f')) flags |= O_SYNC;
  if (cu_hasmode(mode, 't')) flags |= O_TRUNC;
  if (cu_hasmode(mode, 'x')) flags |= O_CLOEXEC;
  return flags;
}

/* system.openfile(path [, mode [, perm]]) */
static int system_openfile (lua_State *L) {
  cu_FsArgs a = {0};
  const char *mode;
  a.path = luaL_checkstring(L, 1);
  mode = cu_checkmode(L, 2, "~anNrftwx");
  a.flags = openflags(mode);
  a.perm = 0666;  /* what io.open gives; the umask applies */
  /* perm is read only when a file may be created */
  if ((a.flags & O_CREAT) && !lua_isnoneornil(L, 3))
    a.perm = cu_filesys_checkperm(L, 3);
  return cu_filesys_run(L, mode, &OPEN, &a, 0, NULL, 0);
}

/* --- file:close ---------------------------------------------------------- */

static int callclose (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                      uv_fs_cb cb) {
  return uv_fs_close(l, r, a->fd, cb);
}

/* The coroutine left a close that the pool had not started: uv_cancel
   stopped it, so the descriptor is still open. */
static void dropclose (uv_fs_t *req) {
  if (req->result == UV_ECANCELED) closenow(req->file);
}

static const cu_FsKind CLOSE = {callclose, pushdone, dropclose};

/* file:close([mode]) */
static int file_close (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  const char *mode = cu_checkmode(L, 2, "~");
  cu_FsArgs a = {0};
  if (!cu_blocking(mode)) cu_await_check(L);  /* before it is closed */
  f->closed = 1;
  if (f->pending > 0) {  /* the last request closes the descriptor */
    if (!cu_blocking(mode)) return cu_time_yieldready(L);
    lua_pushboolean(L, 1);
    return 1;
  }
  a.fd = f->fd;
  f->fd = -1;
  return cu_filesys_run(L, mode, &CLOSE, &a, 0, NULL, 0);
}

/* --- file:read and file:write -------------------------------------------- */

/* The optional offset at 'arg': -1 (the file's position) when absent. */
static int64_t checkoffset (lua_State *L, int arg) {
  lua_Integer off = luaL_optinteger(L, arg, -1);
  luaL_argcheck(L, off >= 0 || lua_isnoneornil(L, arg), arg, "out of range");
  return (int64_t)off;
}

/* One system call moves at most this much (Linux's own limit). */
#define MAXIO 0x7ffff000

static struct iovec iovof (const char *p, size_t len) {
  struct iovec v;
  v.iov_base = (void *)p;
  v.iov_len = len < MAXIO ? len : MAXIO;
  return v;
}

static int callread (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                     uv_fs_cb cb) {
  return uv_fs_read(l, r, a->fd, &a->buf, 1, a->offset, cb);
}

static int callwrite (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                      uv_fs_cb cb) {
  return uv_fs_write(l, r, a->fd, &a->buf, 1, a->offset, cb);
}

static const cu_FsKind READ = {callread, pushcount, NULL};
static const cu_FsKind WRITE = {callwrite, pushcount, NULL};

/* Whether a refusal of RWF_NOWAIT says the file never takes it. */
static int nowaitunsupported (int err) {
  return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL;
}

/* preadv2 or pwritev2 */
typedef ssize_t (*IoCall) (int fd, const struct iovec *v, int n, off_t off,
                           int flags);

/* The read or write of 'v' at 'offset' of 'f', in the mode's way: at once
   ('~'); at once but with the wait of an await (RWF_NOWAIT took it); or
   on the thread pool, with the memory or string at argument 2 pinned. */
static int transfer (lua_State *L, cu_File *f, int writing, struct iovec v,
                     int64_t offset, const char *mode) {
  IoCall io = writing ? pwritev2 : preadv2;
  unsigned char *nowait = writing ? &f->nowaitwrite : &f->nowaitread;
  cu_FsArgs a = {0};
  if (cu_blocking(mode)) return pushsyscall(L, io(f->fd, &v, 1, offset, 0));
  cu_await_check(L);
  if (*nowait) {
    ssize_t n = io(f->fd, &v, 1, offset, RWF_NOWAIT);
    if (n >= 0) return cu_time_yieldreadyk(L, countdone, (lua_KContext)n);
    if (nowaitunsupported(errno)) *nowait = 0;  /* for good */
  }
  a.file = f;
  a.buf = uv_buf_init((char *)v.iov_base, (unsigned int)v.iov_len);
  a.offset = offset;
  return cu_filesys_run(L, mode, writing ? &WRITE : &READ, &a, 2, NULL, 0);
}

/* file:read(buffer [, i [, j [, offset [, mode]]]]) */
static int file_read (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  size_t len;
  char *p = cu_memory_checkbuffer(L, 2, &len, 0);
  int64_t offset = checkoffset(L, 5);
  const char *mode = cu_checkmode(L, 6, "~");
  return transfer(L, f, 0, iovof(p, len), offset, mode);
}

static int callsendfile (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                         uv_fs_cb cb) {
  return uv_fs_sendfile(l, r, a->fd, a->srcfd, a->offset, (size_t)a->size,
                        cb);
}

static const cu_FsKind SENDFILE = {callsendfile, pushcount, NULL};

/* file:write(source, i, j [, offset [, mode]]) with 'source' a file: its
   bytes i to j (positive) at the position of 'file'. */
static int writefromfile (lua_State *L, cu_File *f) {
  cu_FsArgs a = {0};
  lua_Integer i, j;
  const char *mode;
  a.src = checkfile(L, 2);
  i = luaL_checkinteger(L, 3);
  j = luaL_checkinteger(L, 4);
  luaL_argcheck(L, i > 0, 3, "must be positive");
  luaL_argcheck(L, j > 0, 4, "must be positive");
  mode = cu_checkmode(L, 6, "~");  /* the offset is ignored */
  a.file = f;
  a.offset = (int64_t)i - 1;
  a.size = j >= i ? (int64_t)(j - i + 1) : 0;
  return cu_filesys_run(L, mode, &SENDFILE, &a, 2, NULL, 0);
}

/* file:write(data [, i [, j [, offset [, mode]]]]) */
static int file_write (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  size_t len;
  const char *p;
  int64_t offset;
  if (luaL_testudata(L, 2, CLASS)) return writefromfile(L, f);
  p = cu_memory_checkdata(L, 2, &len, 0);
  offset = checkoffset(L, 5);
  return transfer(L, f, 1, iovof(p, len), offset, cu_checkmode(L, 6, "~"));
}

/* --- resize, flush, touch, own, grant, info ------------------------------ */

static int calltruncate (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                         uv_fs_cb cb) {
  return uv_fs_ftruncate(l, r, a->fd, a->size, cb);
}

static int callsync (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                     uv_fs_cb cb) {
  if (a->flags) return uv_fs_fdatasync(l, r, a->fd, cb);
  return uv_fs_fsync(l, r, a->fd, cb);
}

static int callfutime (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                       uv_fs_cb cb) {
  return uv_fs_futime(l, r, a->fd, a->atime, a->mtime, cb);
}

static int callfchown (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                       uv_fs_cb cb) {
  return uv_fs_fchown(l, r, a->fd, a->uid, a->gid, cb);
}

static int callfchmod (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                       uv_fs_cb cb) {
  return uv_fs_fchmod(l, r, a->fd, a->perm, cb);
}

static int callfstat (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                      uv_fs_cb cb) {
  return uv_fs_fstat(l, r, a->fd, cb);
}

/* The values of the mode (argument 2) of file:info. */
static int pushfstat (lua_State *L, uv_fs_t *req) {
  const char *mode = lua_isstring(L, 2) ? lua_tostring(L, 2) : "";
  if (req->result < 0) return cu_pushfail(L, (int)req->result);
  return cu_filesys_pushinfo(L, &req->statbuf, mode);
}

static const cu_FsKind TRUNCATE = {calltruncate, pushdone, NULL};
static const cu_FsKind SYNC = {callsync, pushdone, NULL};
static const cu_FsKind FUTIME = {callfutime, pushdone, NULL};
static const cu_FsKind FCHOWN = {callfchown, pushdone, NULL};
static const cu_FsKind FCHMOD = {callfchmod, pushdone, NULL};
static const cu_FsKind FSTAT = {callfstat, pushfstat, NULL};

/* Runs 'kind' on the file at 1 with the arguments in 'a'. */
static int runon (lua_State *L, cu_File *f, const char *mode,
                  const cu_FsKind *kind, cu_FsArgs *a) {
  a->file = f;
  return cu_filesys_run(L, mode, kind, a, 0, NULL, 0);
}

/* file:resize(size [, mode]) */
static int file_resize (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  cu_FsArgs a = {0};
  a.size = (int64_t)luaL_checkinteger(L, 2);
  return runon(L, f, cu_checkmode(L, 3, "~"), &TRUNCATE, &a);
}

/* file:flush([mode]) */
static int file_flush (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  const char *mode = cu_checkmode(L, 2, "~d");
  cu_FsArgs a = {0};
  a.flags = cu_hasmode(mode, 'd');  /* data only: fdatasync */
  return runon(L, f, mode, &SYNC, &a);
}

/* file:touch([mode, times...]) */
static int file_touch (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  const char *mode = cu_checkmode(L, 2, "~amb");
  cu_FsArgs a = {0};
  cu_filesys_checktimes(L, mode, &a);
  return runon(L, f, mode, &FUTIME, &a);
}

/* file:own(uid, gid [, mode]) */
static int file_own (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  cu_FsArgs a = {0};
  a.uid = (uv_uid_t)luaL_checkinteger(L, 2);  /* -1: unchanged */
  a.gid = (uv_gid_t)luaL_checkinteger(L, 3);
  return runon(L, f, cu_checkmode(L, 4, "~"), &FCHOWN, &a);
}

/* file:grant(perm [, mode]) */
static int file_grant (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  cu_FsArgs a = {0};
  a.perm = cu_filesys_checkperm(L, 2);
  return runon(L, f, cu_checkmode(L, 3, "~"), &FCHMOD, &a);
}

/* file:info(mode) */
static int file_info (lua_State *L) {
  cu_File *f = checkfile(L, 1);
  const char *mode = cu_checkmode(L, 2, "~" CU_STATCHARS);
  cu_FsArgs a = {0};
  return runon(L, f, mode, &FSTAT, &a);
}

void cu_open_file (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"openfile", system_openfile},
    {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"close", file_close}, {"read", file_read}, {"write", file_write},
    {"resize", file_resize}, {"flush", file_flush}, {"touch", file_touch},
    {"own", file_own}, {"grant", file_grant}, {"info", file_info},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", file_gc}, {"__close", file_toclose},
    {"__tostring", file_tostring},
    {NULL, NULL}
  };
  cu_loop_setfuncs(L, funcs);
  cu_loop_newclass(L, CLASS, methods, meta);
  lua_pop(L, 1);
}
