/*
** process.c: system.execute (manual, "System Processes"). A child is a
** uv_process_t in a malloc'd Child that lives until libuv has closed its
** handle, whether or not a coroutine still waits for it: a coroutine
** resumed early, closed or never resumed again leaves the child running,
** and the loop still reaps it when it exits (no zombie). The waiting
** record points to the Child only while its coroutine waits.
** Every live child is on its loop's list (a loop hook), so lua_close can
** close the handles that are left.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "areas.h"
#include "filesys.h"
#include "await.h"
#include "environ.h"
#include "signal.h"
#include "socket.h"

typedef struct Child {
  uv_process_t h;          /* first: a handle pointer is a child pointer */
  cu_Await *op;            /* the waiting record; NULL once it left */
  struct Child *next, **prevp;  /* the loop's list; prevp NULL if off it */
  int64_t status;          /* exit status, and the signal that ended it */
  int signal;
} Child;

typedef struct Children {
  Child *head;
} Children;

/* --- children of a loop ------------------------------------------------ */

static void teardown (cu_Loop *loop, void *data);
static const cu_LoopHooks childhooks = {NULL, NULL, teardown};

static void unlinkchild (Child *c) {
  if (c->prevp == NULL) return;
  *c->prevp = c->next;
  if (c->next) c->next->prevp = c->prevp;
  c->prevp = NULL;
}

/* The loop's list of children, made on first use (raises when out of
   memory, before any child exists that it would have to hold). */
static Children *getchildren (lua_State *L, cu_Loop *loop) {
  Children *all = (Children *)cu_loop_hookdata(loop, &childhooks);
  if (all == NULL) {
    all = (Children *)malloc(sizeof(Children));
    if (all == NULL) luaL_error(L, "not enough memory");
    all->head = NULL;
    cu_loop_hook(loop, &childhooks, all);
  }
  return all;
}

static void linkchild (Children *all, Child *c) {
  c->next = all->head;
  if (c->next) c->next->prevp = &c->next;
  c->prevp = &all->head;
  all->head = c;
}

/* Pushes what execute returns for a child that ended: "exit" and its
   status, or the name of the signal that killed it ("signal" for one
   without a name) and the signal's number. */
static int pushended (lua_State *L, void *data) {
  const Child *c = (const Child *)data;
  if (c->signal != 0) {
    const char *name = cu_signal_name(c->signal);
    lua_pushstring(L, name ? name : "signal");
    lua_pushinteger(L, c->signal);
  }
  else {
    lua_pushliteral(L, "exit");
    lua_pushinteger(L, (lua_Integer)c->status);
  }
  return 2;
}

/* The handle is closed: the waiting coroutine, if any, gets the results
   now, so nothing of the child is left when it runs again. */
static void on_childclosed (uv_handle_t *h) {
  Child *c = (Child *)h;
  cu_Await *op = c->op;
  unlinkchild(c);
  if (op) {
    lua_State *co = cu_await_waiter(op);
    cu_await_finish(op, co, co ? cu_await_pushp(op, co, pushended, c) : 0);
  }
  free(c);
}

static void on_exited (uv_process_t *h, int64_t status, int signal) {
  Child *c = (Child *)h;
  c->status = status;
  c->signal = signal;
  uv_close((uv_handle_t *)h, on_childclosed);
}

/* Early wake-up, or coroutine.close: the child goes on, and the loop
   still reaps it; the record is free at once. */
static int cancelchild (cu_Await *op) {
  ((Child *)op->data)->op = NULL;
  return 1;
}

/* lua_close: the children left are closed (libuv stops watching them);
   on_childclosed then runs no Lua (loop->closing). */
static void teardown (cu_Loop *loop, void *data) {
  Children *all = (Children *)data;
  Child *c;
  (void)loop;
  while ((c = all->head) != NULL) {
    unlinkchild(c);
    if (!uv_is_closing((uv_handle_t *)&c->h))
      uv_close((uv_handle_t *)&c->h, on_childclosed);
  }
  free(all);
}

static void freechild (uv_handle_t *h) {
  free(h);
}

/* --- arguments --------------------------------------------------------- */

static const char *const stdnames[] = {"stdin", "stdout", "stderr"};

/* What a table's stdin, stdout or stderr field asks for. */
typedef struct StdSpec {
  int pipeflags;     /* a pipe to create: UV_READABLE_PIPE and so on */
  int ipc;           /* that pipe passes sockets ("s") */
} StdSpec;

/* Raises the error of a bad field of the command table (argument 1). */
static int badfield (lua_State *L, const char *field, const char *what) {
  return luaL_argerror(L, 1, lua_pushfstring(L, "bad field '%s' (%s)",
                                             field, what));
}

/* A mode string for a pipe to create: 'r' for us to read (the child
   writes), 'w' for us to write, 's' to pass sockets too. */
static void checkpipemode (lua_State *L, int idx, const char *field,
                           StdSpec *spec) {
  size_t len;
  const char *mode = lua_tolstring(L, idx, &len);
  size_t i;
  if (len == 0) badfield(L, field, "empty mode");
  for (i = 0; i < len; i++) {
    switch (mode[i]) {
      case 'r': spec->pipeflags |= UV_WRITABLE_PIPE; break;  /* the child's */
      case 'w': spec->pipeflags |= UV_READABLE_PIPE; break;  /* view */
      case 's':  /* both ways: libuv would refuse I/O the flags omit */
        spec->ipc = 1;
        spec->pipeflags |= UV_READABLE_PIPE | UV_WRITABLE_PIPE;
        break;
      default:
        badfield(L, field, lua_pushfstring(L, "unknown mode char (got '%c')",
                                           mode[i]));
    }
  }
  spec->pipeflags |= UV_CREATE_PIPE;
}

/* Fills 'io' for standard stream 'fd' from the value at 'idx' (a field of
   the command table), except pipes to create, which it only notes in
   'spec'. Raises on a value that is none of those the manual lists. */
static void checkstdio (lua_State *L, int idx, int fd,
                        uv_stdio_container_t *io, StdSpec *spec) {
  const char *field = stdnames[fd];
  luaL_Stream *file;
  cu_Socket **ref;
  spec->pipeflags = spec->ipc = 0;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:  /* inherited */
      io->flags = UV_INHERIT_FD;
      io->data.fd = fd;
      return;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) break;
      io->flags = UV_IGNORE;  /* libuv gives the child /dev/null */
      return;
    case LUA_TSTRING:
      checkpipemode(L, idx, field, spec);
      return;
    case LUA_TUSERDATA:
      if ((file = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE))) {
        if (file->closef == NULL) badfield(L, field, "closed file");
        fflush(file->f);  /* what the program wrote comes first */
        io->flags = UV_INHERIT_FD;
        io->data.fd = fileno(file->f);
        return;
      }
      if (cu_file_tofd(L, idx, &io->data.fd)) {  /* a file object */
        if (io->data.fd < 0) badfield(L, field, "closed file");
        io->flags = UV_INHERIT_FD;
        return;
      }
      ref = cu_socket_toref(L, idx, CU_KIND(CU_STREAM) |
                                    CU_KIND(CU_TERMINAL));
      if (ref == NULL) break;
      if (*ref == NULL) badfield(L, field, "closed object");
      io->flags = UV_INHERIT_STREAM;
      io->data.stream = &(*ref)->h.stream;
      return;
    default: break;
  }
  badfield(L, field, "file, stream socket, false or mode string expected");
}

/* cu_SocketInit of the pipes execute creates: 'arg' says whether it
   passes sockets. */
static int initpipe (uv_loop_t *uv, cu_Socket *s, void *arg) {
  return uv_pipe_init(uv, &s->h.pipe, *(int *)arg);
}

/* Everything uv_spawn needs, and where the pipes it creates are. */
typedef struct Spawn {
  uv_process_options_t opts;
  uv_stdio_container_t io[3];
  StdSpec spec[3];
  int pipeidx[3];    /* stack index of each created pipe's socket, or 0 */
} Spawn;

/* argv from 'n' strings at 'first' and up: execfile first, then the
   arguments, then NULL. The array is a userdata left on the stack. */
static char **newargv (lua_State *L, const char *execfile, int n) {
  char **argv = (char **)lua_newuserdatauv(L, (size_t)(n + 2) *
                                              sizeof(char *), 0);
  argv[0] = (char *)execfile;
  argv[n + 1] = NULL;
  return argv;
}

/* execute(path, ...): the extra arguments are the command line. */
static void checkcallargs (lua_State *L, Spawn *sp) {
  int n = lua_gettop(L) - 1, i;
  char **argv;
  sp->opts.file = luaL_checkstring(L, 1);
  for (i = 2; i <= n + 1; i++) luaL_checkstring(L, i);
  argv = newargv(L, sp->opts.file, n);
  for (i = 1; i <= n; i++) argv[i] = (char *)lua_tostring(L, i + 1);
  sp->opts.args = argv;
  for (i = 0; i < 3; i++) {
    sp->io[i].flags = UV_INHERIT_FD;
    sp->io[i].data.fd = i;
    sp->spec[i].pipeflags = 0;
  }
}

/* The optional string field 'name' of the command table, or NULL; its
   value stays on the stack. */
static const char *optfield (lua_State *L, const char *name) {
  int t = lua_getfield(L, 1, name);
  if (t == LUA_TNIL) return NULL;
  if (t != LUA_TSTRING) badfield(L, name, "string expected");
  return lua_tostring(L, -1);
}

/* The 'arguments' sequence (at 'idx', nil or a table) into argv. */
static char **checkarguments (lua_State *L, int idx, const char *execfile) {
  lua_Integer n, i;
  char **argv;
  if (lua_isnil(L, idx)) return newargv(L, execfile, 0);
  if (!lua_istable(L, idx)) badfield(L, "arguments", "table expected");
  n = (lua_Integer)lua_rawlen(L, idx);
  luaL_argcheck(L, n < 0x10000, 1, "too many arguments");
  argv = newargv(L, execfile, (int)n);
  for (i = 1; i <= n; i++) {
    /* the table keeps the strings; no conversion from numbers here, as
       that would make a temporary string */
    if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
      badfield(L, "arguments", lua_pushfstring(L,
               "string expected at index %I, got %s", (LUAI_UACINT)i,
               luaL_typename(L, -1)));
    argv[i] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  return argv;
}

/* execute(table): every field checked before anything is created. */
static void checktableargs (lua_State *L, Spawn *sp) {
  int i;
  lua_settop(L, 1);
  sp->opts.file = optfield(L, "execfile");
  if (sp->opts.file == NULL) badfield(L, "execfile", "string expected");
  sp->opts.cwd = optfield(L, "runpath");
  lua_getfield(L, 1, "arguments");
  sp->opts.args = checkarguments(L, lua_gettop(L), sp->opts.file);
  if (lua_getfield(L, 1, "environment") != LUA_TNIL)
    sp->opts.env = cu_environ_check(L, lua_gettop(L));
  for (i = 0; i < 3; i++) {
    lua_getfield(L, 1, stdnames[i]);
    checkstdio(L, lua_gettop(L), i, &sp->io[i], &sp->spec[i]);
  }
}

/* Creates the pipes the table asked for, as new stream sockets on the
   stack; 0 or the libuv error (what was made is closed again). */
static void closepipes (lua_State *L, Spawn *sp);

static int makepipes (lua_State *L, Spawn *sp) {
  int i, err;
  for (i = 0; i < 3; i++) {
    StdSpec *spec = &sp->spec[i];
    cu_Socket *s;
    if (spec->pipeflags == 0) continue;
    s = cu_socket_new(L, CU_STREAM, spec->ipc ? CU_SHARE : CU_LOCAL,
                      initpipe, NULL, &spec->ipc, &err);
    if (s == NULL) {
      closepipes(L, sp);
      return err;
    }
    sp->pipeidx[i] = lua_gettop(L);
    sp->io[i].flags = (uv_stdio_flags)spec->pipeflags;
    sp->io[i].data.stream = &s->h.stream;
  }
  return 0;
}

/* The spawn failed: its pipes must not stay behind half made. */
static void closepipes (lua_State *L, Spawn *sp) {
  int i;
  for (i = 0; i < 3; i++) {
    if (sp->pipeidx[i] != 0) cu_socket_discard(L, sp->pipeidx[i]);
    sp->pipeidx[i] = 0;
  }
}

/* The spawn succeeded: each created pipe goes into its field, and the
   process identifier into 'pid'. */
static void storepipes (lua_State *L, Spawn *sp, int pid) {
  int i;
  for (i = 0; i < 3; i++) {
    if (sp->pipeidx[i] == 0) continue;
    lua_pushvalue(L, sp->pipeidx[i]);
    lua_setfield(L, 1, stdnames[i]);
  }
  lua_pushinteger(L, pid);
  lua_setfield(L, 1, "pid");
}

/* system.execute(cmd, ...) */
static int system_execute (lua_State *L) {
  int istable = lua_istable(L, 1);
  cu_Loop *loop = cu_loopof(L);
  Spawn sp;
  Children *all;
  Child *c;
  cu_Await *op;
  int err;
  cu_checkyield(L);  /* first, as the original does */
  memset(&sp, 0, sizeof(sp));
  if (istable) checktableargs(L, &sp);
  else checkcallargs(L, &sp);
  sp.opts.exit_cb = on_exited;
  sp.opts.stdio = sp.io;
  sp.opts.stdio_count = 3;
  cu_loop_open(L);  /* raises once the loop is closed */
  all = getchildren(L, loop);
  if ((err = makepipes(L, &sp)) < 0) return cu_pushfail(L, err);
  /* the child's memory last: cu_await_begin may raise a memory error */
  op = cu_await_beginbare(L);
  c = (Child *)malloc(sizeof(Child));
  if (c == NULL) {
    closepipes(L, &sp);
    return cu_await_fail(L, op, UV_ENOMEM);
  }
  memset(c, 0, sizeof(Child));
  err = uv_spawn(&loop->uv, &c->h, &sp.opts);
  if (err < 0) {
    /* libuv wants the handle closed even then; the child, if it was
       forked, has been reaped already */
    uv_close((uv_handle_t *)&c->h, freechild);
    closepipes(L, &sp);
    return cu_await_fail(L, op, err);
  }
  linkchild(all, c);
  if (istable) storepipes(L, &sp, c->h.pid);
  op->data = c;
  op->cancel = cancelchild;
  c->op = op;
  return cu_await_yield(L, op, 0);
}

void cu_open_process (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"execute", system_execute},
    {NULL, NULL}
  };
  cu_loop_setfuncs(L, funcs);
}
