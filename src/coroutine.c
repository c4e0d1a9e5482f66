/*
** coroutine.c: coutil.coroutine and system.resume (manual, "State
** Coroutines"). A state coroutine is an independent state whose chunk runs
** in a thread of that state, resumed on libuv's thread pool. Ownership:
** while a resume is in flight the worker owns the state; a state
** coroutine collected meanwhile is freed by the completion callback.
*/
#include <stdlib.h>
#include <string.h>
#include "areas.h"
#include "await.h"
#include "state.h"
#include "threads.h"

#define CLASS "coutil.coroutine"

enum { SUSPENDED, RUNNING, DEAD };

typedef struct StateCo {
  lua_State *L;      /* the independent state; NULL once closed */
  lua_State *co;     /* its thread running the chunk */
  int status;        /* loop thread only */
  int orphan;        /* the object was collected while running */
  int closeatend;    /* closed by __close while running */
  int outcome;       /* lua_resume's status, set by the worker */
  int bad;           /* non-transferable result: its number, or -1 */
  const char *badtype;   /* and its type name (a static string) */
  cu_Values io;      /* values in (arguments) and out (results) */
} StateCo;

static void closestate (StateCo *p) {
  if (p->L) lua_close(p->L);
  p->L = NULL;
}

static void freestateco (StateCo *p) {
  closestate(p);
  cu_values_free(&p->io);
  free(p);
}

static StateCo **checkref (lua_State *L, int arg) {
  return (StateCo **)luaL_checkudata(L, arg, CLASS);
}

static int statusof (StateCo *p) {
  return p == NULL || p->L == NULL ? DEAD : p->status;
}

/* --- running on the thread pool ------------------------------------------ */

/* The results at the top of 'co' (n values) into p->io; 0 or the number
   of the first value that cannot be transferred. */
static int saveresults (StateCo *p, int n) {
  int top = lua_gettop(p->co);
  int bad = cu_values_save(&p->io, p->co, top - n + 1, top);
  if (bad > 0) {
    p->badtype = lua_typename(p->co, lua_type(p->co, bad));
    bad -= top - n;
  }
  else if (bad < 0) p->badtype = NULL;  /* no memory */
  lua_pop(p->co, n);
  return bad;
}

/* Closes the chunk's pending to-be-closed variables, then the state. An
   errored chunk keeps its error as the status and error object, like
   coroutine.close: returns 1 then, with the error saved for pushoutcome;
   else 0. */
static int closechunk (StateCo *p) {
  int status = lua_resetthread(p->co);
  int failed = status != LUA_OK && status != LUA_YIELD;
  if (failed) {
    p->outcome = status;
    p->bad = saveresults(p, 1);
  }
  closestate(p);
  return failed;
}

/* Run protected in p->L: pushes the values for the chunk's next resume. */
static int pushio (lua_State *L) {
  StateCo *p = (StateCo *)lua_touserdata(L, 1);
  lua_pop(L, 1);
  return cu_values_push(&p->io, L);
}

static void work (uv_work_t *req) {
  cu_Await *op = cu_await_from(req);
  StateCo *p = (StateCo *)op->data;
  int nres = 0;
  int nargs = p->io.n;
  /* the values are made on the main stack of p->L, protected (a memory
     error in p->co, which runs nothing yet, would have no handler), and
     then moved; the chunk's thread stays below them */
  if (!lua_checkstack(p->co, nargs + 1) || !lua_checkstack(p->L, nargs + 2)) {
    p->outcome = LUA_ERRMEM;
    p->bad = -1;
    p->badtype = NULL;
    return;
  }
  lua_pushcfunction(p->L, pushio);
  lua_pushlightuserdata(p->L, p);
  if (lua_pcall(p->L, 1, nargs, 0) != LUA_OK) {
    lua_pop(p->L, 1);
    p->outcome = LUA_ERRMEM;
    p->bad = -1;
    p->badtype = NULL;
    return;
  }
  lua_xmove(p->L, p->co, nargs);
  p->outcome = lua_resume(p->co, NULL, nargs, &nres);
  if (p->outcome == LUA_OK || p->outcome == LUA_YIELD)
    p->bad = saveresults(p, nres);
  else {  /* the error value stays on 'co' for coroutine.close */
    if (lua_checkstack(p->co, 1)) {
      lua_pushvalue(p->co, -1);
      p->bad = saveresults(p, 1);
    }
    else {
      p->bad = -1;
      p->badtype = NULL;
    }
  }
}

/* Pushes what system.resume returns for the run that just ended. */
static int pushoutcome (lua_State *L, StateCo *p) {
  int ok = p->outcome == LUA_OK || p->outcome == LUA_YIELD;
  if (p->bad) {
    lua_pushboolean(L, 0);  /* conventions.md: false, never nil */
    if (p->badtype == NULL) lua_pushliteral(L, "not enough memory");
    else cu_values_pusherror(L, ok ? "return value" : "error",
                              ok ? p->bad : 0, p->badtype);
    return 2;
  }
  lua_pushboolean(L, ok);
  return 1 + cu_values_push(&p->io, L);
}

static int pushoutcome_p (lua_State *L, void *data) {
  StateCo *p = (StateCo *)data;
  luaL_checkstack(L, p->io.n + 2, NULL);
  return pushoutcome(L, p);
}

static void on_work (uv_work_t *req, int status) {
  cu_Await *op = cu_await_from(req);
  StateCo *p = (StateCo *)op->data;
  lua_State *co = cu_await_waiter(op);
  int n = 0;
  if (p->orphan) {  /* nobody can see it any more */
    freestateco(p);
    cu_await_finish(op, NULL, 0);
    return;
  }
  if (status < 0) {  /* never ran */
    p->status = SUSPENDED;
    if (co) n = cu_await_pushresult(op, co, status);
  }
  else {
    p->status = p->outcome == LUA_YIELD ? SUSPENDED : DEAD;
    if (co && lua_checkstack(co, p->io.n + 2))
      n = cu_await_pushp(op, co, pushoutcome_p, p);
    else if (co)  /* coroutine.resume's failure when its stack is short */
      n = cu_await_pushfailure(op, co, "too many results to resume");
  }
  if (p->closeatend) closechunk(p);  /* the results are out already */
  cu_await_finish(op, co, n);
}

/* Returns false and a message, as coroutine.resume does on failure. */
static int failresume (lua_State *L) {
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

/* system.resume(co, ...) */
static int system_resume (lua_State *L) {
  StateCo *p = *checkref(L, 1);
  cu_Await *op;
  int err, bad;
  /* like coroutine.resume, the coroutine's state and the values that
     cannot cross are failures returned, not raised (conventions.md) */
  switch (statusof(p)) {
    case DEAD:
      lua_pushliteral(L, "cannot resume dead coroutine");
      return failresume(L);
    case RUNNING:
      lua_pushliteral(L, "cannot resume running coroutine");
      return failresume(L);
  }
  if (cu_loopof(L)->closing) return luaL_error(L, "closed");
  cu_checkyield(L);
  bad = cu_values_save(&p->io, L, 2, lua_gettop(L));
  if (bad != 0) {
    cu_values_free(&p->io);  /* it may have grown */
    if (bad < 0) return luaL_error(L, "not enough memory");
    cu_values_pusherror(L, "argument", bad, cu_values_typename(L, bad));
    return failresume(L);
  }
  op = cu_await_begin(L);
  op->data = p;
  err = uv_queue_work(cu_loop(L), &op->u.work, work, on_work);
  if (err < 0) return cu_await_fail(L, op, err);
  p->status = RUNNING;
  return cu_await_yield(L, op, 0);
}

void cu_open_resume (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"resume", system_resume},
    {NULL, NULL}
  };
  cu_loop_setfuncs(L, funcs);
}

/* --- coutil.coroutine ---------------------------------------------------- */

static int newthread (lua_State *L) {
  lua_newthread(L);
  return 1;
}

/* A new, still empty, state coroutine object on the stack. */
static StateCo *newstateco (lua_State *L) {
  StateCo **ref = (StateCo **)lua_newuserdatauv(L, sizeof(StateCo *), 0);
  StateCo *p;
  *ref = NULL;  /* closed until complete */
  luaL_setmetatable(L, CLASS);
  p = (StateCo *)malloc(sizeof(StateCo));
  if (p == NULL) luaL_error(L, "not enough memory");
  memset(p, 0, sizeof(StateCo));
  cu_values_init(&p->io);
  p->status = SUSPENDED;
  *ref = p;
  p->L = cu_state_new(L);
  if (p->L == NULL) lua_error(L);
  /* protected: a memory error in p->L has no other handler (the object's
     __gc closes p->L) */
  lua_pushcfunction(p->L, newthread);
  if (lua_pcall(p->L, 0, 1, 0) != LUA_OK) luaL_error(L, "not enough memory");
  p->co = lua_tothread(p->L, -1);  /* stays on the main stack: anchored */
  return p;
}

/* After a load into p->L: on success leaves the chunk in p->co and returns
   the object; else closes the state and returns fail and the message. */
static int loaded (lua_State *L, StateCo *p, int status) {
  if (status != LUA_OK) {
    lua_pushboolean(L, 0);  /* conventions.md: false, never nil */
    lua_pushstring(L, lua_tostring(p->L, -1));
    closestate(p);
    return 2;
  }
  lua_xmove(p->L, p->co, 1);
  return 1;
}

/* Collects the pieces a reader function returns, like load does. */
static const char *readall (lua_State *L, int arg, size_t *len) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (;;) {
    const char *piece;
    size_t n;
    lua_pushvalue(L, arg);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      break;
    }
    piece = lua_tolstring(L, -1, &n);
    if (piece == NULL) luaL_error(L, "reader function must return a string");
    if (n == 0) {
      lua_pop(L, 1);
      break;
    }
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return lua_tolstring(L, -1, len);
}

/* coroutine.load(chunk [, chunkname [, mode]]) */
static int coroutine_load (lua_State *L) {
  size_t len;
  const char *chunk = lua_tolstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, chunk ? chunk : "=(load)");
  const char *mode = luaL_optstring(L, 3, "bt");
  StateCo *p;
  if (chunk == NULL) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    chunk = readall(L, 1, &len);
  }
  p = newstateco(L);
  return loaded(L, p, luaL_loadbufferx(p->L, chunk, len, name, mode));
}

/* coroutine.loadfile([filepath [, mode]]) */
static int coroutine_loadfile (lua_State *L) {
  const char *path = luaL_optstring(L, 1, NULL);
  const char *mode = luaL_optstring(L, 2, "bt");
  StateCo *p = newstateco(L);
  return loaded(L, p, luaL_loadfilex(p->L, path, mode));
}

/* coroutine.status(co) */
static int coroutine_status (lua_State *L) {
  static const char *const names[] = {"suspended", "running", "dead"};
  lua_pushstring(L, names[statusof(*checkref(L, 1))]);
  return 1;
}

/* coroutine.close(co) */
static int coroutine_close (lua_State *L) {
  StateCo *p = *checkref(L, 1);
  if (statusof(p) == RUNNING)
    return luaL_error(L, "cannot close a running coroutine");
  if (p == NULL || p->L == NULL) {  /* closed already */
    lua_pushboolean(L, 1);
    return 1;
  }
  if (closechunk(p)) return pushoutcome(L, p);
  lua_pushboolean(L, 1);
  return 1;
}

/* __close: like close, but a running one is closed when its run ends
   (leaving a scope must not raise), and errors are not reported. */
static int coroutine_tbc (lua_State *L) {
  StateCo *p = *checkref(L, 1);
  if (statusof(p) == RUNNING) p->closeatend = 1;
  else {
    lua_settop(L, 1);
    coroutine_close(L);
  }
  return 0;
}

/* __gc */
static int coroutine_gc (lua_State *L) {
  StateCo **ref = checkref(L, 1);
  StateCo *p = *ref;
  *ref = NULL;
  if (p == NULL) return 0;
  if (p->L && p->status == RUNNING) p->orphan = 1;  /* on_work frees */
  else freestateco(p);
  return 0;
}

void cu_open_coroutine (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"load", coroutine_load},
    {"loadfile", coroutine_loadfile},
    {"status", coroutine_status},
    {"close", coroutine_close},
    {NULL, NULL}
  };
  static const luaL_Reg metas[] = {
    {"__gc", coroutine_gc},
    {"__close", coroutine_tbc},
    {NULL, NULL}
  };
  cu_newclass(L, CLASS, funcs, metas, 0);
  cu_classmodule(L);
}
