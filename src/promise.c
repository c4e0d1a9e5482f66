/*
** promise.c: coutil.promise (manual: "Promises"). A promise is a C
** closure; claiming an unfulfilled one is awaiting an event on it, so
** event.emitone/emitall on a promise wake its claimers as the manual says.
** Ownership: the results live in the promise's state userdata, which the
** promise and its fulfillment function share as an upvalue.
*/
#include "areas.h"
#include "event.h"

typedef struct Promise {
  int fulfilled;
  int n;          /* number of results, kept in user value 1 */
} Promise;

/* Upvalues of a promise: events, waiters, its Promise, itself; those of
   a fulfillment function: events, waiters, the Promise, the promise. */
#define STATE_UP lua_upvalueindex(3)
#define SELF_UP  lua_upvalueindex(4)

static int promise_call (lua_State *L);

/* The Promise of the value at 'i', or NULL if it is not a promise. */
static Promise *topromise (lua_State *L, int i) {
  Promise *p;
  if (lua_tocfunction(L, i) != promise_call) return NULL;
  lua_getupvalue(L, i, 3);
  p = (Promise *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return p;
}

static Promise *checkpromise (lua_State *L, int i) {
  Promise *p = topromise(L, i);
  if (p == NULL) luaL_typeerror(L, i, "promise");
  return p;
}

/* Continuation of a claim; frame: the promise, serial. An emit passes the
   promise first, then its arguments: the claim returns the arguments. */
static int promise_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  if (cu_event_byemit(L)) return lua_gettop(L) - 3;
  cu_event_unregister(L, 1, 1, 2);
  return lua_gettop(L) - 2;
}

/* ... = p([probe]) */
static int promise_call (lua_State *L) {
  Promise *p = (Promise *)lua_touserdata(L, STATE_UP);
  if (lua_toboolean(L, 1)) {
    lua_pushboolean(L, p->fulfilled);
    return 1;
  }
  if (p->fulfilled) {
    int i;
    lua_settop(L, 0);
    cu_checkstack(L, p->n + 1);
    lua_getiuservalue(L, STATE_UP, 1);
    for (i = 1; i <= p->n; i++) lua_rawgeti(L, 1, i);
    return p->n;
  }
  cu_checkyield(L);
  lua_settop(L, 0);
  lua_pushvalue(L, SELF_UP);
  cu_event_register(L, 1, 1);
  return lua_yieldk(L, 0, 2, promise_k);
}

/* Replaces the results of the fulfilled promise with the arguments. */
static void setresults (lua_State *L, Promise *p) {
  int i, n = lua_gettop(L);
  lua_createtable(L, n, 0);
  for (i = 1; i <= n; i++) {
    lua_pushvalue(L, i);
    lua_rawseti(L, -2, i);
  }
  lua_setiuservalue(L, STATE_UP, 1);
  p->n = n;
}

/* b = fulfill(...): true the first time; later calls replace the results
   and return false, as the original library does (nobody waits then). */
static int promise_fulfill (lua_State *L) {
  Promise *p = (Promise *)lua_touserdata(L, STATE_UP);
  int n = lua_gettop(L);
  if (p->fulfilled) {
    setresults(L, p);
    lua_pushboolean(L, 0);
    return 1;
  }
  setresults(L, p);
  p->fulfilled = 1;  /* before the emit: the woken see it fulfilled */
  lua_pushvalue(L, SELF_UP);
  lua_insert(L, 1);
  cu_event_emit(L, 1, n + 1, 1);
  lua_pushboolean(L, 1);
  return 1;
}

/* p, fulfill = promise.create() */
static int promise_create (lua_State *L) {
  Promise *p = (Promise *)lua_newuserdatauv(L, sizeof(Promise), 1);
  p->fulfilled = 0;
  p->n = 0;
  lua_pushvalue(L, CU_EVENTS_UP);
  lua_pushvalue(L, CU_WAITERS_UP);
  lua_pushvalue(L, -3);
  lua_pushnil(L);  /* itself, set below */
  lua_pushcclosure(L, promise_call, 4);
  lua_pushvalue(L, -1);
  lua_setupvalue(L, -2, 4);
  lua_pushvalue(L, CU_EVENTS_UP);
  lua_pushvalue(L, CU_WAITERS_UP);
  lua_pushvalue(L, -4);
  lua_pushvalue(L, -4);
  lua_pushcclosure(L, promise_fulfill, 4);
  return 2;
}

/* Checks the arguments 1..top (nil or promises); turns the fulfilled
   ones into nil. Returns how many are left. */
static int pending (lua_State *L, int top) {
  int i, left = 0;
  for (i = 1; i <= top; i++) {
    if (lua_isnil(L, i)) continue;
    if (checkpromise(L, i)->fulfilled) {
      lua_pushnil(L);
      lua_replace(L, i);
    }
    else left++;
  }
  return left;
}

/* Index of the first fulfilled promise among 1..top, or 0. */
static int firstready (lua_State *L, int top) {
  int i;
  for (i = 1; i <= top; i++)
    if (!lua_isnil(L, i) && checkpromise(L, i)->fulfilled) return i;
  return 0;
}

/* Continuation of awaitall; frame: the promises (nil when fulfilled),
   serial. A spurious emit on one of them wakes us with our entry for it
   gone, so we drop the others and register again on all pending ones
   with a new serial. */
static int awaitall_k (lua_State *L, int status, lua_KContext ctx) {
  int top = (int)ctx - 1, byemit = cu_event_byemit(L);
  (void)status;
  cu_event_unregister(L, 1, top, (int)ctx);
  if (!byemit) return lua_gettop(L) - (int)ctx;
  lua_settop(L, top);
  if (pending(L, top) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  cu_event_register(L, 1, top);
  return lua_yieldk(L, 0, ctx, awaitall_k);
}

/* true = promise.awaitall([p, ...]) */
static int promise_awaitall (lua_State *L) {
  int top = lua_gettop(L);
  if (pending(L, top) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  cu_checkyield(L);
  cu_event_register(L, 1, top);
  return lua_yieldk(L, 0, (lua_KContext)(top + 1), awaitall_k);
}

/* Continuation of awaitany; frame: the promises, serial. */
static int awaitany_k (lua_State *L, int status, lua_KContext ctx) {
  int i, top = (int)ctx - 1, byemit = cu_event_byemit(L);
  (void)status;
  cu_event_unregister(L, 1, top, (int)ctx);
  if (!byemit) return lua_gettop(L) - (int)ctx;
  lua_settop(L, top);
  if ((i = firstready(L, top)) > 0) {
    lua_pushvalue(L, i);
    return 1;
  }
  cu_event_register(L, 1, top);
  return lua_yieldk(L, 0, ctx, awaitany_k);
}

/* p = promise.awaitany(p1, ...) */
static int promise_awaitany (lua_State *L) {
  int i, top = lua_gettop(L);
  for (i = 1; i <= top && lua_isnil(L, i); i++);
  if (i > top) luaL_typeerror(L, 1, "promise");
  if ((i = firstready(L, top)) > 0) {
    lua_pushvalue(L, i);
    return 1;
  }
  cu_checkyield(L);
  cu_event_register(L, 1, top);
  return lua_yieldk(L, 0, (lua_KContext)(top + 1), awaitany_k);
}

/* ... = promise.onlypending([p, ...]) */
static int promise_onlypending (lua_State *L) {
  int i, top = lua_gettop(L), n = 0;
  for (i = 1; i <= top; i++) {
    if (!lua_isnil(L, i) && !checkpromise(L, i)->fulfilled) {
      lua_pushvalue(L, i);
      lua_replace(L, ++n);
    }
  }
  lua_settop(L, n);
  return n;
}

/* [p] = promise.pickready([p, ...]) */
static int promise_pickready (lua_State *L) {
  int i = firstready(L, lua_gettop(L));
  if (i == 0) return 0;
  lua_pushvalue(L, i);
  return 1;
}

void cu_open_promise (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"create", promise_create},
    {"awaitall", promise_awaitall},
    {"awaitany", promise_awaitany},
    {"onlypending", promise_onlypending},
    {"pickready", promise_pickready},
    {NULL, NULL}
  };
  cu_event_pushstate(L);
  luaL_setfuncs(L, funcs, 2);
}
