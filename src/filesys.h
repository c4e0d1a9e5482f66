/*
** filesys.h: what the file objects of file.c share with the path
** functions of filesys.c (manual, "File System"): the one runner of
** uv_fs_* requests, the permission and stat helpers, and the file object
** itself.
*/
#ifndef coutil_filesys_h
#define coutil_filesys_h

#include "common.h"

/* A file object's descriptor and who still uses it (file.c). */
typedef struct cu_File cu_File;

/* What a request reads; kept in the record until it starts (deferred).
   'file' and 'src' are the file objects whose descriptors it uses (or
   NULL): the runner reads their descriptors into 'fd' and 'srcfd' when
   the request starts, and holds them until it ends. */
typedef struct cu_FsArgs {
  const char *path, *dest;
  int flags;  /* libuv flags, perm bits, or which variant (symbolic, 'l') */
  int perm;
  double atime, mtime;
  uv_uid_t uid;
  uv_gid_t gid;
  cu_File *file, *src;
  uv_file fd, srcfd;
  uv_buf_t buf;
  int64_t offset;  /* -1: the file's position */
  int64_t size;
} cu_FsArgs;

/* Starts the uv_fs_* call of a kind (cb NULL: runs it now). */
typedef int (*cu_FsCall) (uv_loop_t *loop, uv_fs_t *req, const cu_FsArgs *a,
                          uv_fs_cb cb);
/* Pushes the results of a finished request onto L, whose stack still
   holds the arguments of the call; returns how many. */
typedef int (*cu_FsPush) (lua_State *L, uv_fs_t *req);
/* Releases what a finished request holds when nobody takes its results
   (the descriptor an open made after its caller left). */
typedef void (*cu_FsDrop) (uv_fs_t *req);

typedef struct cu_FsKind {
  cu_FsCall call;
  cu_FsPush push;
  cu_FsDrop drop;  /* or NULL */
} cu_FsKind;

/* Runs a request of 'kind', blocking ('~' in 'mode') or awaiting on the
   thread pool. 'keep' is the stack index of the string or memory whose
   bytes a->buf points into (anchored and pinned until libuv is done), or
   0. With a continuation 'k', k(L, status, ctx) gets the results on top
   in both modes; without, they are what the function returns. */
int cu_filesys_run (lua_State *L, const char *mode, const cu_FsKind *kind,
                    const cu_FsArgs *a, int keep, lua_KFunction k,
                    lua_KContext ctx);

/* The permission bits at 'arg': an integer, or a string of the chars of
   file:grant ("UGSrwxRWX421"); raises 'unknown perm char (got 'c')'. */
int cu_filesys_checkperm (lua_State *L, int arg);

/* Pushes one value for each char of 'mode' that file:info knows (type,
   mode bits, ids, sizes, times, permission booleans) and skips the others
   ('~', 'l', fileinfo's own chars). Returns the number pushed. */
int cu_filesys_pushinfo (lua_State *L, const uv_stat_t *st,
                         const char *mode);

/* The access and modification times of file:touch and touchfile into
   a->atime and a->mtime: one argument from 3 on for each 'a', 'm' or 'b'
   of 'mode', the time now for those not given. */
void cu_filesys_checktimes (lua_State *L, const char *mode, cu_FsArgs *a);

/* The chars of file:info's table (what cu_filesys_pushinfo knows). */
#define CU_STATCHARS "?M_ug#Dd*Bbivasmc" "UGSrwxRWX421"

/* Pushes a new file object that owns descriptor 'fd' (closes 'fd' and
   raises when it cannot be made). */
void cu_file_new (lua_State *L, uv_file fd);

/* The descriptor of the file object at 'idx' (-1 once closed) in *fd:
   returns 0 when the value is no file object. */
int cu_file_tofd (lua_State *L, int idx, uv_file *fd);

/* A request that uses the descriptor of 'f' starts: its descriptor, or -1
   when the file was closed meanwhile. Every successful acquire is paired
   with a cu_file_release when libuv is done, which closes the descriptor
   of a closed file after its last request (and frees a collected one). */
uv_file cu_file_acquire (cu_File *f);
void cu_file_release (cu_File *f);

#endif
