/*
** filesys.c: the path functions of the manual's "File System": linkfile,
** copyfile, movefile, removefile, maketemp, makedir, listdir, touchfile,
** ownfile, grantfile, fileinfo and the filebits table.
**
** Every function is one or more uv_fs_* requests run by cu_filesys_run
** (file objects use it too): with '~' the same call with a NULL callback
** (libuv runs it on this thread), else an await on the thread pool.
** Either way one cu_FsPush function of the kind pushes the results, onto
** the caller or onto the waiting coroutine, so both modes give the same
** values. The arguments stay on the caller's stack (libuv copies the
** paths of pool requests when they start).
*/
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "areas.h"
#include "await.h"
#include "filesys.h"
#include "memory.h"

/* A pool request and the file objects whose descriptors it uses: these
   come after the uv_fs_t in the record's union, where the libuv call never
   writes. */
typedef struct FsReq {
  uv_fs_t fs;
  cu_File *file[2];
} FsReq;
CU_ARGS_FIT(FsReq);
CU_ARGS_FIT(cu_FsArgs);

/* --- the one runner ------------------------------------------------------ */

static void releasefiles (cu_File *const file[2]) {
  if (file[0]) cu_file_release(file[0]);
  if (file[1]) cu_file_release(file[1]);
}

/* Reads the descriptors of the files of 'a' (held from now on): UV_EBADF
   when one was closed while the request waited to start. */
static int acquirefiles (cu_FsArgs *a) {
  if (a->file && (a->fd = cu_file_acquire(a->file)) < 0) return UV_EBADF;
  if (a->src && (a->srcfd = cu_file_acquire(a->src)) < 0) {
    if (a->file) cu_file_release(a->file);
    return UV_EBADF;
  }
  return 0;
}

typedef struct FsPush {
  const cu_FsKind *kind;
  uv_fs_t *req;
  int started;  /* kind->push was called: it owns what the request made */
} FsPush;

static int pushfs (lua_State *L, void *data) {
  FsPush *p = (FsPush *)data;
  p->started = 1;
  return p->kind->push(L, p->req);
}

static void on_fs (uv_fs_t *req) {
  cu_Await *op = cu_await_from(req);
  const cu_FsKind *kind = op->data;
  lua_State *co = cu_await_waiter(op);
  int n = 0;
  if (co) {  /* protected: a push raising here would unwind uv_run */
    FsPush p = {kind, req, 0};
    n = cu_await_pushp(op, co, pushfs, &p);
    /* the call itself may fail before the push (no memory for it): then
       nobody took what the request made; a push that raised cleaned up
       itself (cu_file_new closes the descriptor it could not wrap) */
    if (!p.started && kind->drop) kind->drop(req);
  }
  else if (kind->drop) kind->drop(req);
  uv_fs_req_cleanup(req);
  releasefiles(((FsReq *)req)->file);
  cu_await_finish(op, co, n);
}

static int startfs (lua_State *L, cu_Await *op) {
  cu_FsArgs a = *cu_await_args(op, cu_FsArgs);
  const cu_FsKind *kind = op->data;
  FsReq *r = (FsReq *)(void *)&op->u;
  int err = acquirefiles(&a);
  (void)L;
  if (err < 0) return err;
  r->file[0] = a.file;
  r->file[1] = a.src;
  err = kind->call(&op->loop->uv, &r->fs, &a, on_fs);
  if (err < 0) releasefiles(r->file);  /* no callback will come */
  return err;
}

/* The push of a blocking request, in a protected call whose arguments are
   a copy of the caller's frame (pushes read the call's arguments by
   position) and, last, the FsPush. */
static int pushnow_p (lua_State *L) {
  FsPush *p = (FsPush *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return pushfs(L, p);
}

/* Pushes the results of the blocking request 'req'; when that raises (a
   memory error), cleans the request up first, then raises again, so that
   what libuv made for it is not lost. Returns how many. */
static int pushnow (lua_State *L, const cu_FsKind *kind, uv_fs_t *req,
                    cu_FsArgs *now) {
  FsPush p = {kind, req, 0};
  int i, top = lua_gettop(L);
  if (lua_checkstack(L, top + 2)) {
    lua_pushcfunction(L, pushnow_p);
    for (i = 1; i <= top; i++) lua_pushvalue(L, i);
    lua_pushlightuserdata(L, &p);
    if (lua_pcall(L, top + 1, LUA_MULTRET, 0) == LUA_OK)
      return lua_gettop(L) - top;
  }
  else lua_pushliteral(L, "stack overflow");
  if (!p.started && kind->drop) kind->drop(req);
  uv_fs_req_cleanup(req);
  if (now->file) cu_file_release(now->file);
  if (now->src) cu_file_release(now->src);
  return lua_error(L);
}

int cu_filesys_run (lua_State *L, const char *mode, const cu_FsKind *kind,
                    const cu_FsArgs *a, int keep, lua_KFunction k,
                    lua_KContext ctx) {
  cu_Await *op;
  if (cu_hasmode(mode, '~')) {  /* anywhere in the modes of flags */
    cu_FsArgs now = *a;
    uv_fs_t req;
    int n, err = acquirefiles(&now);
    if (err < 0) return cu_pushfail(L, err);
    kind->call(cu_loop(L), &req, &now, NULL);  /* the error is req.result */
    n = pushnow(L, kind, &req, &now);
    uv_fs_req_cleanup(&req);
    if (now.file) cu_file_release(now.file);
    if (now.src) cu_file_release(now.src);
    return k ? k(L, LUA_OK, ctx) : n;
  }
  op = cu_await_begin(L);
  op->cancel = cu_await_cancelwork;
  op->data = (void *)kind;
  if (keep && a->buf.base)  /* a resize must not move what libuv reads */
    op->pin = cu_memory_pinbytes(L, keep, a->buf.base, a->buf.len);
  *cu_await_args(op, cu_FsArgs) = *a;
  return cu_await_startk(L, op, startfs, keep, k, ctx);
}

static int pushdone (lua_State *L, uv_fs_t *req) {
  return cu_pushresult(L, (int)req->result);
}

/* --- arguments ----------------------------------------------------------- */

/* Raises unless every 'c' in 'mode' is its first char or right after a
   leading '~': the manual's "prefixed with 'l'" of modes whose other chars
   are a sequence. */
static void checkprefix (lua_State *L, int arg, const char *mode, char c) {
  const char *p = strchr(mode, c);
  const char *first = mode + cu_blocking(mode);
  for (; p; p = strchr(p + 1, c))
    if (p != first) {
      lua_pushfstring(L, "'%c' must be in the begin of 'mode'", c);
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
}

#define PERMCHARS "UGSrwxRWX421"
static const int permbits[] = {
  S_ISUID, S_ISGID, S_ISVTX, S_IRUSR, S_IWUSR, S_IXUSR,
  S_IRGRP, S_IWGRP, S_IXGRP, S_IROTH, S_IWOTH, S_IXOTH
};

int cu_filesys_checkperm (lua_State *L, int arg) {
  size_t len, i;
  const char *s;
  int perm = 0;
  if (lua_type(L, arg) != LUA_TSTRING)
    return (int)luaL_checkinteger(L, arg);
  s = lua_tolstring(L, arg, &len);
  for (i = 0; i < len; i++) {
    const char *c = s[i] ? strchr(PERMCHARS, s[i]) : NULL;
    if (c == NULL) {
      if (s[i]) lua_pushfstring(L, "unknown perm char (got '%c')", s[i]);
      else lua_pushliteral(L, "unknown perm char (got '\\0')");
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
    perm |= permbits[c - PERMCHARS];
  }
  return perm;
}

/* --- linkfile, copyfile, movefile, removefile, makedir ------------------- */

static int calllink (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                     uv_fs_cb cb) {
  if (a->flags) return uv_fs_symlink(l, r, a->path, a->dest, 0, cb);
  return uv_fs_link(l, r, a->path, a->dest, cb);
}

static int callcopy (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                     uv_fs_cb cb) {
  return uv_fs_copyfile(l, r, a->path, a->dest, a->flags, cb);
}

static int callrename (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                       uv_fs_cb cb) {
  return uv_fs_rename(l, r, a->path, a->dest, cb);
}

static int callremove (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                       uv_fs_cb cb) {
  if (a->flags) return uv_fs_rmdir(l, r, a->path, cb);
  return uv_fs_unlink(l, r, a->path, cb);
}

static int callmkdir (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                      uv_fs_cb cb) {
  return uv_fs_mkdir(l, r, a->path, a->flags, cb);
}

static const cu_FsKind LINK = {calllink, pushdone, NULL};
static const cu_FsKind COPY = {callcopy, pushdone, NULL};
static const cu_FsKind RENAME = {callrename, pushdone, NULL};
static const cu_FsKind REMOVE = {callremove, pushdone, NULL};
static const cu_FsKind MKDIR = {callmkdir, pushdone, NULL};

/* Runs 'kind' from argument 1 to argument 2 (a string), mode at 3. */
static int twopaths (lua_State *L, const cu_FsKind *kind, const char *mode,
                     int flags) {
  cu_FsArgs a = {0};
  a.path = luaL_checkstring(L, 1);
  a.dest = luaL_checkstring(L, 2);
  a.flags = flags;
  return cu_filesys_run(L, mode, kind, &a, 0, NULL, 0);
}

/* system.linkfile(path, destiny [, mode]) */
static int system_linkfile (lua_State *L) {
  const char *mode = cu_checkflags(L, 3, "~sdj");
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  /* 'd' and 'j' only shape Windows links; they imply 's' */
  return twopaths(L, &LINK, mode, strpbrk(mode, "sdj") != NULL);
}

/* system.copyfile(path, destiny [, mode]) */
static int system_copyfile (lua_State *L) {
  const char *mode = cu_checkflags(L, 3, "~ncC");
  int flags = 0;
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  if (cu_hasmode(mode, 'n')) flags |= UV_FS_COPYFILE_EXCL;
  if (cu_hasmode(mode, 'c')) flags |= UV_FS_COPYFILE_FICLONE;
  if (cu_hasmode(mode, 'C')) flags |= UV_FS_COPYFILE_FICLONE_FORCE;
  return twopaths(L, &COPY, mode, flags);
}

/* system.movefile(path, destiny [, mode]) */
static int system_movefile (lua_State *L) {
  const char *mode = cu_checkflags(L, 3, "~");
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  return twopaths(L, &RENAME, mode, 0);
}

/* system.removefile(path [, mode]) */
static int system_removefile (lua_State *L) {
  const char *mode = cu_checkflags(L, 2, "~d");
  cu_FsArgs a = {0};
  a.path = luaL_checkstring(L, 1);
  a.flags = cu_hasmode(mode, 'd');
  return cu_filesys_run(L, mode, &REMOVE, &a, 0, NULL, 0);
}

/* system.makedir(path, perm [, mode]) */
static int system_makedir (lua_State *L) {
  const char *mode = cu_checkflags(L, 3, "~");
  cu_FsArgs a = {0};
  a.path = luaL_checkstring(L, 1);
  a.flags = cu_filesys_checkperm(L, 2);
  return cu_filesys_run(L, mode, &MKDIR, &a, 0, NULL, 0);
}

/* --- maketemp ------------------------------------------------------------ */

/* The template on the caller's stack: at this index while the request
   may start later (deferred), where libuv reads it. */
#define TEMPLATE 3

static int calltemp (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                     uv_fs_cb cb) {
  if (a->flags) return uv_fs_mkstemp(l, r, a->path, cb);
  return uv_fs_mkdtemp(l, r, a->path, cb);
}

/* Nobody takes the file: its descriptor is closed at once. */
static void droptemp (uv_fs_t *req) {
  if (req->fs_type == UV_FS_MKSTEMP && req->result >= 0) {
    uv_fs_t c;
    uv_fs_close(NULL, &c, (uv_file)req->result, NULL);
    uv_fs_req_cleanup(&c);
  }
}

/* The path for each 'f' of the mode (argument 2) and the opened file for
   each 'o', in their order; the directory's path when there are none. */
static int pushtemp (lua_State *L, uv_fs_t *req) {
  const char *mode = lua_isstring(L, 2) ? lua_tostring(L, 2) : "";
  int n = 0, file = 0;
  if (req->result < 0) return cu_pushfail(L, (int)req->result);
  if (req->fs_type == UV_FS_MKSTEMP && strchr(mode, 'o')) {
    cu_file_new(L, (uv_file)req->result);  /* it owns the descriptor now */
    file = lua_gettop(L);
  }
  else droptemp(req);
  for (; *mode; mode++) {
    if (*mode != 'f' && *mode != 'o') continue;
    cu_checkstack(L, 1);
    if (*mode == 'f') lua_pushstring(L, req->path);
    else lua_pushvalue(L, file);
    n++;
  }
  if (file) lua_remove(L, file);
  if (n == 0) lua_pushstring(L, req->path);
  return n ? n : 1;
}

static const cu_FsKind TEMP = {calltemp, pushtemp, droptemp};

/* system.maketemp(prefix [, mode]) */
static int system_maketemp (lua_State *L) {
  size_t len;
  const char *prefix = luaL_checklstring(L, 1, &len);
  const char *mode = cu_checkmode(L, 2, "~fo");
  const char *name = strrchr(prefix, '/');
  cu_FsArgs a = {0};
  name = name ? name + 1 : prefix;
  /* the original refuses what cannot name a file, before any request */
  if (len + 6 >= PATH_MAX || strlen(name) + 6 > NAME_MAX)
    luaL_argerror(L, 1, "too long");
  lua_settop(L, 2);
  lua_pushfstring(L, "%sXXXXXX", prefix);  /* at TEMPLATE */
  a.path = lua_tostring(L, TEMPLATE);
  a.flags = strpbrk(mode, "fo") != NULL;  /* a file, not a directory */
  return cu_filesys_run(L, mode, &TEMP, &a, 0, NULL, 0);
}

/* --- listdir ------------------------------------------------------------- */

static int callscandir (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                        uv_fs_cb cb) {
  return uv_fs_scandir(l, r, a->path, 0, cb);
}

static const char *direnttype (uv_dirent_type_t type) {
  switch (type) {
    case UV_DIRENT_FILE: return "file";
    case UV_DIRENT_DIR: return "directory";
    case UV_DIRENT_LINK: return "link";
    case UV_DIRENT_FIFO: return "pipe";
    case UV_DIRENT_SOCKET: return "socket";
    case UV_DIRENT_CHAR: return "character";
    case UV_DIRENT_BLOCK: return "block";
    default: return "unknown";  /* the file system does not tell */
  }
}

/* The iterator: the table of names to types is its state. */
static int direntries (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  return lua_next(L, 1) ? 2 : 0;
}

/* The iterator, its table, no first name; or the failure triple. */
static int pushentries (lua_State *L, uv_fs_t *req) {
  uv_dirent_t ent;
  if (req->result < 0) return cu_pushfail(L, (int)req->result);
  lua_pushcfunction(L, direntries);
  lua_createtable(L, 0, (int)req->result);
  while (uv_fs_scandir_next(req, &ent) != UV_EOF) {
    lua_pushstring(L, direnttype(ent.type));
    lua_setfield(L, -2, ent.name);
  }
  lua_pushnil(L);
  return 3;
}

static const cu_FsKind SCANDIR = {callscandir, pushentries, NULL};

/* The manual: listdir raises its failures. */
static int raisefailure (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  if (lua_type(L, -3) == LUA_TBOOLEAN && !lua_toboolean(L, -3)) {
    lua_pushvalue(L, -2);
    return lua_error(L);
  }
  return 3;
}

/* system.listdir(path [, mode]) */
static int system_listdir (lua_State *L) {
  const char *mode = cu_checkflags(L, 2, "~");
  cu_FsArgs a = {0};
  a.path = luaL_checkstring(L, 1);
  return cu_filesys_run(L, mode, &SCANDIR, &a, 0, raisefailure, 0);
}

/* --- touchfile, ownfile, grantfile --------------------------------------- */

static int callutime (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                      uv_fs_cb cb) {
  if (a->flags) return uv_fs_lutime(l, r, a->path, a->atime, a->mtime, cb);
  return uv_fs_utime(l, r, a->path, a->atime, a->mtime, cb);
}

static int callchown (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                      uv_fs_cb cb) {
  if (a->flags) return uv_fs_lchown(l, r, a->path, a->uid, a->gid, cb);
  return uv_fs_chown(l, r, a->path, a->uid, a->gid, cb);
}

static int callchmod (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                      uv_fs_cb cb) {
  return uv_fs_chmod(l, r, a->path, a->flags, cb);
}

static const cu_FsKind UTIME = {callutime, pushdone, NULL};
static const cu_FsKind CHOWN = {callchown, pushdone, NULL};
static const cu_FsKind CHMOD = {callchmod, pushdone, NULL};

/* The system's time now, in seconds: libuv 1.44 has no "now" for utime. */
static double timenow (void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cu_filesys_checktimes (lua_State *L, const char *mode, cu_FsArgs *a) {
  int arg = 3;
  double now = timenow();
  a->atime = a->mtime = now;
  for (; *mode; mode++) {  /* each of 'a', 'm', 'b' takes the next time */
    double t;
    if (!strchr("amb", *mode)) continue;
    t = lua_isnoneornil(L, arg) ? now : luaL_checknumber(L, arg);
    arg++;
    if (*mode != 'm') a->atime = t;
    if (*mode != 'a') a->mtime = t;
  }
}

/* system.touchfile(path [, mode, times...]) */
static int system_touchfile (lua_State *L) {
  const char *mode = cu_checkmode(L, 2, "~lamb");
  cu_FsArgs a = {0};
  a.path = luaL_checkstring(L, 1);
  checkprefix(L, 2, mode, 'l');
  a.flags = cu_hasmode(mode, 'l');
  cu_filesys_checktimes(L, mode, &a);
  return cu_filesys_run(L, mode, &UTIME, &a, 0, NULL, 0);
}

/* system.ownfile(path, uid, gid [, mode]) */
static int system_ownfile (lua_State *L) {
  const char *mode = cu_checkflags(L, 4, "~l");
  cu_FsArgs a = {0};
  a.path = luaL_checkstring(L, 1);
  a.uid = (uv_uid_t)luaL_checkinteger(L, 2);  /* -1: unchanged */
  a.gid = (uv_gid_t)luaL_checkinteger(L, 3);
  checkprefix(L, 4, mode, 'l');
  a.flags = cu_hasmode(mode, 'l');
  return cu_filesys_run(L, mode, &CHOWN, &a, 0, NULL, 0);
}

/* system.grantfile(path, perm [, mode]) */
static int system_grantfile (lua_State *L) {
  const char *mode = cu_checkflags(L, 3, "~");
  cu_FsArgs a = {0};
  a.path = luaL_checkstring(L, 1);
  a.flags = cu_filesys_checkperm(L, 2);
  return cu_filesys_run(L, mode, &CHMOD, &a, 0, NULL, 0);
}

/* --- fileinfo ------------------------------------------------------------ */

static const char *filetype (uint64_t mode) {
  switch (mode & S_IFMT) {
    case S_IFSOCK: return "socket";
    case S_IFLNK: return "link";
    case S_IFREG: return "file";
    case S_IFBLK: return "block";
    case S_IFDIR: return "directory";
    case S_IFCHR: return "character";
    case S_IFIFO: return "pipe";
    default: return "unknown";
  }
}

static lua_Number seconds (uv_timespec_t t) {
  return (lua_Number)t.tv_sec + (lua_Number)t.tv_nsec * 1e-9;
}

/* Pushes the value of stat char 'c'; 0 when 'c' is none. */
static int pushstatfield (lua_State *L, const uv_stat_t *st, char c) {
  const char *perm = c ? strchr(PERMCHARS, c) : NULL;
  lua_Integer v;
  if (perm) {
    lua_pushboolean(L, (st->st_mode & permbits[perm - PERMCHARS]) != 0);
    return 1;
  }
  switch (c) {
    case '?': lua_pushstring(L, filetype(st->st_mode)); return 1;
    case 'a': lua_pushnumber(L, seconds(st->st_atim)); return 1;
    case 's': lua_pushnumber(L, seconds(st->st_ctim)); return 1;
    case 'm': lua_pushnumber(L, seconds(st->st_mtim)); return 1;
    case 'c': lua_pushnumber(L, seconds(st->st_birthtim)); return 1;
    case 'M': v = (lua_Integer)st->st_mode; break;
    case '_': v = (lua_Integer)st->st_flags; break;
    case 'u': v = (lua_Integer)st->st_uid; break;
    case 'g': v = (lua_Integer)st->st_gid; break;
    case '#': v = (lua_Integer)st->st_ino; break;
    case 'D': v = (lua_Integer)st->st_dev; break;
    case 'd': v = (lua_Integer)st->st_rdev; break;
    case '*': v = (lua_Integer)st->st_nlink; break;
    case 'B': v = (lua_Integer)st->st_size; break;
    case 'b': v = (lua_Integer)st->st_blocks; break;
    case 'i': v = (lua_Integer)st->st_blksize; break;
    case 'v': v = (lua_Integer)st->st_gen; break;
    default: return 0;
  }
  lua_pushinteger(L, v);
  return 1;
}

int cu_filesys_pushinfo (lua_State *L, const uv_stat_t *st,
                         const char *mode) {
  int n = 0;
  for (; *mode; mode++) {
    cu_checkstack(L, 1);
    n += pushstatfield(L, st, *mode);
  }
  return n;
}

/* fileinfo runs up to four requests, one after the other, each leaving
   one value (or the failure triple, which ends it) in its slot above the
   two arguments: the stat, the real path, the link's value, the file
   system's statistics. A step the mode does not need leaves nil. */
enum { STEPSTAT, STEPREAL, STEPLINK, STEPFS, NSTEPS };
#define SLOT(step) (3 + (step))
#define STATCHARS CU_STATCHARS
#define FSCHARS "@NIAFfTt"

static int callstat (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                     uv_fs_cb cb) {
  if (a->flags) return uv_fs_lstat(l, r, a->path, cb);
  return uv_fs_stat(l, r, a->path, cb);
}

static int callrealpath (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                         uv_fs_cb cb) {
  return uv_fs_realpath(l, r, a->path, cb);
}

static int callreadlink (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                         uv_fs_cb cb) {
  return uv_fs_readlink(l, r, a->path, cb);
}

static int callstatfs (uv_loop_t *l, uv_fs_t *r, const cu_FsArgs *a,
                       uv_fs_cb cb) {
  return uv_fs_statfs(l, r, a->path, cb);
}

/* A copy of 'size' bytes at 'p' in a new userdata. */
static void pushcopy (lua_State *L, const void *p, size_t size) {
  memcpy(lua_newuserdatauv(L, size, 0), p, size);
}

static int pushstat (lua_State *L, uv_fs_t *req) {
  if (req->result < 0) return cu_pushfail(L, (int)req->result);
  pushcopy(L, &req->statbuf, sizeof(uv_stat_t));
  return 1;
}

static int pushstring (lua_State *L, uv_fs_t *req) {
  if (req->result < 0) return cu_pushfail(L, (int)req->result);
  lua_pushstring(L, (const char *)req->ptr);
  return 1;
}

/* What is not a symbolic link has no value: nil, not a failure. */
static int pushlinkvalue (lua_State *L, uv_fs_t *req) {
  if (req->result == UV_EINVAL) {
    lua_pushnil(L);
    return 1;
  }
  return pushstring(L, req);
}

static int pushstatfs (lua_State *L, uv_fs_t *req) {
  if (req->result < 0) return cu_pushfail(L, (int)req->result);
  pushcopy(L, req->ptr, sizeof(uv_statfs_t));
  return 1;
}

static const cu_FsKind INFOSTEPS[NSTEPS] = {
  {callstat, pushstat, NULL},
  {callrealpath, pushstring, NULL},
  {callreadlink, pushlinkvalue, NULL},
  {callstatfs, pushstatfs, NULL},
};

static int needsstep (const char *mode, int step) {
  switch (step) {
    case STEPSTAT:  /* also to fail for a missing file when nothing else */
      return strpbrk(mode, STATCHARS) || !strpbrk(mode, "p=" FSCHARS);
    case STEPREAL: return cu_hasmode(mode, 'p');
    case STEPLINK: return cu_hasmode(mode, '=');
    default: return strpbrk(mode, FSCHARS) != NULL;
  }
}

/* Names of file system types as 'stat -f' gives them (coreutils). */
static const struct { uint64_t magic; const char *name; } FSNAMES[] = {
  {0xEF53, "ext2/ext3"}, {0x01021994, "tmpfs"}, {0x794C7630, "overlayfs"},
  {0x58465342, "xfs"}, {0x9123683E, "btrfs"}, {0x9FA0, "proc"},
  {0x62656572, "sysfs"}, {0x6969, "nfs"}, {0x858458F6, "ramfs"},
  {0x4D44, "msdos"}, {0x5346544E, "ntfs"}, {0x65735546, "fuseblk"},
  {0x01021997, "v9fs"}, {0x27E0EB, "cgroupfs"}, {0x63677270, "cgroup2fs"},
  {0x2FC12FC1, "zfs"}, {0x9660, "isofs"}, {0x73717368, "squashfs"},
  {0x64626720, "debugfs"}, {0x1CD1, "devpts"}, {0xF2F52010, "f2fs"},
  {0x61756673, "aufs"}, {0x65735543, "fusectl"}, {0xFF534D42, "cifs"},
};

static const char *fsname (uint64_t magic) {
  size_t i;
  for (i = 0; i < sizeof(FSNAMES) / sizeof(FSNAMES[0]); i++)
    if (FSNAMES[i].magic == magic) return FSNAMES[i].name;
  return "unknown";
}

/* Pushes the value of fileinfo's own char 'c' from the steps' slots. */
static void pushfsfield (lua_State *L, char c) {
  const uv_statfs_t *fs = lua_touserdata(L, SLOT(STEPFS));
  switch (c) {
    case 'p': lua_pushvalue(L, SLOT(STEPREAL)); return;
    case '=': lua_pushvalue(L, SLOT(STEPLINK)); return;
    case '@': lua_pushstring(L, fsname(fs->f_type)); return;
    case 'N': lua_pushinteger(L, (lua_Integer)fs->f_type); return;
    case 'I': lua_pushinteger(L, (lua_Integer)fs->f_bsize); return;
    case 'A': lua_pushinteger(L, (lua_Integer)fs->f_bavail); return;
    case 'F': lua_pushinteger(L, (lua_Integer)fs->f_bfree); return;
    case 'f': lua_pushinteger(L, (lua_Integer)fs->f_ffree); return;
    case 'T': lua_pushinteger(L, (lua_Integer)fs->f_blocks); return;
    default: lua_pushinteger(L, (lua_Integer)fs->f_files); return;  /* t */
  }
}

/* All steps done: the values in the order of the mode's chars. */
static int pushallinfo (lua_State *L, const char *mode) {
  const uv_stat_t *st = lua_touserdata(L, SLOT(STEPSTAT));
  int n = 0;
  for (; *mode; mode++) {
    char one[2] = {*mode, '\0'};
    if (*mode == '~' || *mode == 'l') continue;
    if (st && cu_filesys_pushinfo(L, st, one)) n++;
    else {
      cu_checkstack(L, 1);
      pushfsfield(L, *mode);
      n++;
    }
  }
  return n;
}

/* Runs the steps from 'step' on (the continuation of each one). */
static int infostep (lua_State *L, int status, lua_KContext step) {
  const char *mode = lua_tostring(L, 2);
  (void)status;
  if (step > 0 && lua_type(L, SLOT(step - 1)) == LUA_TBOOLEAN) {
    /* the step before failed: as listdir, fileinfo raises its failures
       (the original's suite relies on it: pcall(system.fileinfo, ...)) */
    lua_pushvalue(L, -2);
    return lua_error(L);
  }
  for (; step < NSTEPS; step++) {
    if (needsstep(mode, (int)step)) {
      cu_FsArgs a = {0};
      a.path = lua_tostring(L, 1);
      a.flags = step == STEPSTAT && cu_hasmode(mode, 'l');
      return cu_filesys_run(L, mode, &INFOSTEPS[step], &a, 0, infostep,
                            step + 1);
    }
    lua_pushnil(L);
  }
  return pushallinfo(L, mode);
}

/* system.fileinfo(path, mode) */
static int system_fileinfo (lua_State *L) {
  const char *mode = cu_checkmode(L, 2, "~l" STATCHARS "p=" FSCHARS);
  luaL_checkstring(L, 1);
  checkprefix(L, 2, mode, 'l');
  lua_settop(L, 1);
  lua_pushstring(L, mode);  /* the steps read it there, also when absent */
  return infostep(L, LUA_OK, 0);
}

/* --- filebits ------------------------------------------------------------ */

static void pushfilebits (lua_State *L) {
  static const struct { const char *name; int bits; } BITS[] = {
    {"type", S_IFMT}, {"socket", S_IFSOCK}, {"link", S_IFLNK},
    {"file", S_IFREG}, {"block", S_IFBLK}, {"directory", S_IFDIR},
    {"character", S_IFCHR}, {"pipe", S_IFIFO},
    {"setuid", S_ISUID}, {"setgid", S_ISGID}, {"sticky", S_ISVTX},
    {"ruser", S_IRUSR}, {"wuser", S_IWUSR}, {"xuser", S_IXUSR},
    {"rgroup", S_IRGRP}, {"wgroup", S_IWGRP}, {"xgroup", S_IXGRP},
    {"rother", S_IROTH}, {"wother", S_IWOTH}, {"xother", S_IXOTH},
  };
  size_t i;
  lua_createtable(L, 0, (int)(sizeof(BITS) / sizeof(BITS[0])));
  for (i = 0; i < sizeof(BITS) / sizeof(BITS[0]); i++) {
    lua_pushinteger(L, BITS[i].bits);
    lua_setfield(L, -2, BITS[i].name);
  }
}

void cu_open_filesys (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"linkfile", system_linkfile},
    {"copyfile", system_copyfile},
    {"movefile", system_movefile},
    {"removefile", system_removefile},
    {"maketemp", system_maketemp},
    {"makedir", system_makedir},
    {"listdir", system_listdir},
    {"touchfile", system_touchfile},
    {"ownfile", system_ownfile},
    {"grantfile", system_grantfile},
    {"fileinfo", system_fileinfo},
    {NULL, NULL}
  };
  cu_loop_setfuncs(L, funcs);
  pushfilebits(L);
  lua_setfield(L, -2, "filebits");
}
