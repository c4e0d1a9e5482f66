/*
** test/c/reuse.c: lets test/await.lua do what only C code can: run a new
** function on a coroutine that coroutine.close already closed (lua_resume
** accepts a reset thread once a function is on its stack).
**   reuse(co, f, ...) --> status of lua_resume (1 for a yield)
*/
#include <lua.h>
#include <lauxlib.h>

static int reuse (lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  int n = lua_gettop(L) - 2, nres, status;
  luaL_argexpected(L, co != NULL, 1, "coroutine");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!lua_checkstack(co, n + 1)) return luaL_error(L, "stack overflow");
  lua_settop(co, 0);
  lua_xmove(L, co, n + 1);  /* the function and its arguments */
  status = lua_resume(co, L, n, &nres);
  lua_pushinteger(L, status);
  return 1;
}

int luaopen_reuse (lua_State *L) {
  lua_pushcfunction(L, reuse);
  return 1;
}
