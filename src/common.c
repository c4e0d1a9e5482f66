/*
** common.c: failure results, mode strings, classes and warnings shared by
** every module of coutil (see common.h).
*/
#include <string.h>
#include "common.h"

/* conventions.md: a failure is false (not nil), libuv's message and the
   positive errno, as the original library returns; tests match 'false'. */
int cu_pushfail (lua_State *L, int err) {
  lua_pushboolean(L, 0);
  lua_pushstring(L, uv_strerror(err));
  lua_pushinteger(L, -err);  /* libuv errors are negated errno values */
  return 3;
}

int cu_pushresult (lua_State *L, int err) {
  if (err < 0) return cu_pushfail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* 'anywhere': '~' may be any char of the mode (cu_checkflags). */
static const char *checkmode (lua_State *L, int arg, const char *allowed,
                              int anywhere) {
  size_t len;
  const char *mode, *c;
  if (lua_type(L, arg) <= LUA_TNIL) return "";  /* the common case, fast */
  mode = luaL_checklstring(L, arg, &len);
  for (c = mode; c < mode + len; c++) {  /* an embedded '\0' is refused */
    if (*c == '~' && c != mode && !anywhere && strchr(allowed, '~'))
      luaL_argerror(L, arg, "'~' must be in the begin of 'mode'");
    if (*c == '\0')
      luaL_argerror(L, arg, "unknown mode char (got '\\0')");
    if (!strchr(allowed, *c)) {
      lua_pushfstring(L, "unknown mode char (got '%c')", *c);
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
  }
  return mode;
}

const char *cu_checkmode (lua_State *L, int arg, const char *allowed) {
  return checkmode(L, arg, allowed, 0);
}

const char *cu_checkflags (lua_State *L, int arg, const char *allowed) {
  return checkmode(L, arg, allowed, 1);
}

void cu_newclass (lua_State *L, const char *name, const luaL_Reg *methods,
                  const luaL_Reg *metamethods, int nup) {
  int i;
  luaL_newmetatable(L, name);
  lua_insert(L, -(nup + 1));  /* metatable below the upvalues */
  lua_newtable(L);  /* method table */
  for (i = 0; i < nup; i++) lua_pushvalue(L, -(nup + 1));
  if (methods) luaL_setfuncs(L, methods, nup);
  else lua_pop(L, nup);
  lua_setfield(L, -(nup + 2), "__index");
  if (metamethods) luaL_setfuncs(L, metamethods, nup);
  else lua_pop(L, nup);
}

void cu_classmodule (lua_State *L) {
  int module = lua_absindex(L, -2);
  lua_getfield(L, -1, "__index");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, module);
  }
  lua_pop(L, 1);  /* the old method table */
  lua_pushvalue(L, module);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void cu_checkyield (lua_State *L) {
  if (!lua_isyieldable(L)) luaL_error(L, "unable to yield");
}

int cu_pushclosed (lua_State *L) {
  lua_pushboolean(L, 0);  /* like cu_pushfail: conventions.md */
  lua_pushliteral(L, "closed");
  return 2;
}

void cu_warnerror (lua_State *L, lua_State *co) {
  cu_warnerrorwith(L, co, CU_WARN_PREFIX);
}

/* The message is made before anything is emitted: a memory error making
   it (in a protected call, see await.c) leaves no half warning behind. */
void cu_warnerrorwith (lua_State *L, lua_State *co, const char *prefix) {
  const char *msg = lua_tostring(co, -1);
  if (!lua_checkstack(L, 3)) {  /* an error may come with a full stack */
    lua_warning(L, prefix, 1);
    lua_warning(L, msg ? msg : "(error object is not a string)", 0);
    return;
  }
  if (msg == NULL) {
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(co, -1));
    msg = lua_tostring(L, -1);
  }
  else lua_pushnil(L);  /* the same slots either way */
  if (co != L) {  /* where the coroutine failed: its stack stays as it was */
    luaL_traceback(L, co, msg, 0);
    msg = lua_tostring(L, -1);
  }
  else lua_pushnil(L);
  lua_warning(L, prefix, 1);
  lua_warning(L, msg, 0);
  lua_pop(L, 2);
}

int cu_pushsized (lua_State *L, cu_SizedGet get, const char *name) {
  char small[256];
  char *buf = small;
  size_t len = sizeof(small);
  int err = get(name, small, &len);
  if (err == UV_ENOBUFS) {  /* collectable, so a memory error leaks nothing */
    buf = (char *)lua_newuserdatauv(L, ++len, 0);  /* in case len lacks NUL */
    err = get(name, buf, &len);
  }
  if (err >= 0) lua_pushlstring(L, buf, len);
  if (buf != small) lua_remove(L, err >= 0 ? -2 : -1);
  return err < 0 ? err : 0;
}

void cu_checkstack (lua_State *L, int n) {
  if (!lua_checkstack(L, n)) luaL_error(L, "stack overflow");
}
