/*
** timeout.c: coutil.timeout, our addition to the original's API.
**
**   timeout.call(seconds, f, ...)
**
** calls f(...) in the calling coroutine and returns its results. When f
** has not returned after 'seconds', the coroutine, suspended in whatever
** await it is in, is resumed with false, "timeout", ETIMEDOUT, exactly as
** coroutine.resume(co, false, "timeout", 110) would: every await function
** already treats that as an early wake-up (it cancels its operation and
** returns the values), so the timeout needs nothing from any of them.
**
** The timer lives as long as the call: a to-be-closed guard below f on
** the stack stops it when f returns, raises, or its coroutine is closed,
** so it can never cut short a later, unrelated await. It fires at most
** once per call; the awaits after it run normally, so f can clean up.
*/
#include <math.h>
#include <stdlib.h>
#include "areas.h"
#include "loop.h"
#include "await.h"

#define GUARD "coutil.timeout.guard"

typedef struct Guard Guard;

/* The timer of one call; freed when its handle has closed. */
typedef struct Timer {
  uv_timer_t handle;
  lua_State *co;  /* the calling coroutine, anchored at 'ref' meanwhile */
  Guard *guard;   /* on co's stack: alive while 'ref' anchors co */
  int ref;
} Timer;

/* The guard's userdata: the call's timer, NULL once stopped. */
struct Guard {
  Timer *timer;
};

static void on_closed (uv_handle_t *h) {
  free(cu_container_of(h, Timer, handle));
}

/* What the awaiting call gets ("timeout" may be a new string). */
static int pushtimeout_p (lua_State *L, void *data) {
  (void)data;
  lua_pushboolean(L, 0);
  lua_pushliteral(L, "timeout");
  lua_pushinteger(L, -UV_ETIMEDOUT);
  return 3;
}

static void on_timeout (uv_timer_t *h) {
  Timer *t = cu_container_of(h, Timer, handle);
  cu_Loop *loop = cu_container_of(h->loop, cu_Loop, uv);
  lua_State *co = t->co;
  int status;
  if (loop->closing) return;
  status = lua_status(co);
  if (status != LUA_OK && status != LUA_YIELD) {
    /* f's error ended the coroutine (coroutine.resume, no pcall): a dead
       coroutine keeps its to-be-closed variables, so the guard has not
       run; the call is over all the same: stop for good */
    t->guard->timer = NULL;
    luaL_unref(loop->runner, LUA_REGISTRYINDEX, t->ref);
    uv_close((uv_handle_t *)h, on_closed);
    return;
  }
  if (status != LUA_YIELD || co == loop->runner) {
    /* running (it called system.run itself): try again in a moment; a
       zero delay would be due again in this same round of timers, and
       libuv would call us back forever without returning */
    uv_timer_start(h, on_timeout, 1, 0);
    return;
  }
  lua_checkstack(co, 3);
  /* the call may end in there: 't' too */
  cu_loop_resume(loop, co, cu_loop_pushp(loop, co, pushtimeout_p, NULL));
}

/* Stops the call's timer for good (__close, and __gc at lua_close). */
static int guard_close (lua_State *L) {
  Guard *g = (Guard *)luaL_checkudata(L, 1, GUARD);
  Timer *t = g->timer;
  if (t == NULL) return 0;
  g->timer = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
  uv_close((uv_handle_t *)&t->handle, on_closed);
  return 0;
}

/* Milliseconds of 'seconds' at 1, rounded up, so a timeout never comes
   early. */
static uint64_t checkmillisecs (lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  lua_Number ms = ceil(s * 1000);
  luaL_argcheck(L, s >= 0 && ms < 18446744073709551616.0, 1, "out of range");
  return (uint64_t)ms;
}

/* f's results: everything above the seconds and the guard. */
static int call_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  return lua_gettop(L) - 2;
}

/* timeout.call(seconds, f, ...) */
static int timeout_call (lua_State *L) {
  cu_Loop *loop = cu_loopof(L);
  uint64_t ms = checkmillisecs(L);
  int nargs = lua_gettop(L) - 2;
  Guard *g;
  Timer *t;
  luaL_checkany(L, 2);
  if (!lua_isyieldable(L) || loop->closing) {  /* nothing can wait here */
    lua_callk(L, nargs, LUA_MULTRET, 0, NULL);
    return lua_gettop(L) - 1;
  }
  g = (Guard *)lua_newuserdatauv(L, sizeof(Guard), 0);
  g->timer = NULL;
  luaL_setmetatable(L, GUARD);
  lua_insert(L, 2);
  lua_toclose(L, 2);
  t = (Timer *)malloc(sizeof(Timer));
  if (t == NULL) return luaL_error(L, "not enough memory");
  uv_timer_init(&loop->uv, &t->handle);
  t->co = L;
  t->guard = g;
  lua_pushthread(L);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  g->timer = t;
  /* from now, not from the loop's time cached when this iteration began
     (a long stretch of work since would make the timeout come early) */
  uv_update_time(&loop->uv);
  uv_timer_start(&t->handle, on_timeout, ms, 0);
  lua_callk(L, nargs, LUA_MULTRET, 0, call_k);
  return call_k(L, LUA_OK, 0);
}

void cu_open_timeout (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"call", timeout_call},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__close", guard_close}, {"__gc", guard_close},
    {NULL, NULL}
  };
  cu_newclass(L, GUARD, NULL, meta, 0);
  lua_pop(L, 1);
  cu_loop_setfuncs(L, funcs);
}
