/*
** spawn.c: coutil.spawn (manual: "Coroutine Finalizers"). The new
** coroutine runs a C body that calls f through lua_pcallk with h (or a
** wrapper of it) as the message handler, so h runs where the error was
** raised and f may yield freely.
** Ownership: the returned coroutine belongs to whoever keeps it (an
** await it makes may keep it alive meanwhile, see event.c).
*/
#include "areas.h"
#include "event.h"

/* The protected call ended with 'status': -1 when f did not fail, else
   how many results the coroutine returns. After an error h handled,
   none. When h itself failed (LUA_ERRERR: it raised, or is no function)
   or memory ran out (no handler runs then), the coroutine ends normally
   with false and the error, as xpcall returns them (the original's
   behaviour). */
static int failure (lua_State *L, int status) {
  if (status == LUA_OK || status == LUA_YIELD) return -1;
  if (status == LUA_ERRRUN) return 0;
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

/* Body of spawn.catch; stack: h, f, args. The coroutine returns f's
   results, or nothing after an error. */
static int catch_k (lua_State *L, int status, lua_KContext ctx) {
  int n = failure(L, status);
  (void)ctx;
  if (n >= 0) return n;
  return lua_gettop(L) - 1;
}

/* Stands for a handler that is no function: Lua would fail to call it,
   which makes the error an error in error handling (LUA_ERRERR). */
static int nohandler (lua_State *L) {
  return lua_error(L);
}

static int catch_body (lua_State *L) {
  int nargs = lua_gettop(L) - 2;
  if (lua_isnil(L, 1)) return 0;  /* no handler: f is not called (as in
                                     the original library) */
  if (!lua_isfunction(L, 1)) {  /* lua_pcallk needs a function */
    lua_pushcfunction(L, nohandler);
    lua_replace(L, 1);
  }
  return catch_k(L, lua_pcallk(L, nargs, LUA_MULTRET, 1, 0, catch_k), 0);
}

/* Message handler of spawn.trap: h(false, err), in the error's context. */
static int trap_handler (lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushboolean(L, 0);
  lua_pushvalue(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

static int trap_done (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return lua_gettop(L) - (int)ctx;
}

/* Body of spawn.trap after f; stack: h, handler, f's results. The
   coroutine returns what h(true, ...) returns. */
static int trap_k (lua_State *L, int status, lua_KContext ctx) {
  int nres = lua_gettop(L) - 2;
  (void)ctx;
  /* after an error, even one of h itself, trap's coroutine returns
     nothing (the original's behaviour; catch returns xpcall's results) */
  if (failure(L, status) >= 0) return 0;
  lua_pushvalue(L, 1);
  lua_pushboolean(L, 1);
  lua_rotate(L, 3, 2);
  lua_callk(L, nres + 1, LUA_MULTRET, 2, trap_done);
  return trap_done(L, LUA_OK, 2);
}

/* Stack: h, f, args. */
static int trap_body (lua_State *L) {
  int nargs = lua_gettop(L) - 2;
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, trap_handler, 1);
  lua_insert(L, 2);
  return trap_k(L, lua_pcallk(L, nargs, LUA_MULTRET, 2, 0, trap_k), 0);
}

/* Starts 'body' in a new coroutine with the arguments h, f, ...; returns
   the coroutine. h and f are not checked, as in the original: calling a
   nil f is an error h handles, a nil h fails as a handler does. There is
   no one to give an error of the first run to (trap's h raised after f
   succeeded): it becomes a warning, like in an emit. */
static int start (lua_State *L, lua_CFunction body) {
  int n;
  lua_State *co;
  if (lua_gettop(L) < 2) lua_settop(L, 2);
  n = lua_gettop(L);
  co = lua_newthread(L);
  lua_insert(L, 1);
  if (!lua_checkstack(co, n + 1)) return luaL_error(L, "stack overflow");
  lua_pushcfunction(co, body);
  lua_xmove(L, co, n);
  if (cu_event_resume(L, co, n)) return lua_error(L);
  return 1;
}

/* co = spawn.catch(h, f, ...) */
static int spawn_catch (lua_State *L) {
  return start(L, catch_body);
}

/* co = spawn.trap(h, f, ...) */
static int spawn_trap (lua_State *L) {
  return start(L, trap_body);
}

void cu_open_spawn (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"catch", spawn_catch},
    {"trap", spawn_trap},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
}
