/*
** environ.c: system.getpriority, setpriority, getdir, setdir, getenv,
** setenv, packenv and unpackenv (manual, "System Processes"), all
** synchronous. The priority, the directory and the variables belong to
** the process: every thread and Lua state sees one change.
**
** A packed environment is one full userdata holding execve's list and the
** strings it points to (docs/design.md): Lua never moves a userdata, so
** the pointers stay valid, and collecting it frees everything at once.
*/
#include <stdio.h>
#include <string.h>
#include "areas.h"
#include "environ.h"
#include "loop.h"

/* --- priority --------------------------------------------------------- */

/* The manual's names, from the highest priority down, with libuv's
   values; a value between two of them is "other". */
static const char *const PRIONAMES[] = {
  "highest", "high", "above", "normal", "below", "low", NULL
};
static const int PRIOVALUES[] = {
  UV_PRIORITY_HIGHEST, UV_PRIORITY_HIGH, UV_PRIORITY_ABOVE_NORMAL,
  UV_PRIORITY_NORMAL, UV_PRIORITY_BELOW_NORMAL, UV_PRIORITY_LOW
};

static uv_pid_t checkpid (lua_State *L, int arg) {
  lua_Integer pid = luaL_checkinteger(L, arg);
  luaL_argcheck(L, (uv_pid_t)pid == pid, arg, "out of range");
  return (uv_pid_t)pid;
}

/* A name (but "other") or a number from highest to lowest. */
static int checkpriority (lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer value = luaL_checkinteger(L, arg);
    luaL_argcheck(L, UV_PRIORITY_HIGHEST <= value &&
                     value <= UV_PRIORITY_LOW, arg, "out of range");
    return (int)value;
  }
  return PRIOVALUES[luaL_checkoption(L, arg, NULL, PRIONAMES)];
}

static const char *priorityname (int value) {
  int i;
  for (i = 0; PRIONAMES[i]; i++)
    if (PRIOVALUES[i] == value) return PRIONAMES[i];
  return "other";
}

/* name, value = system.getpriority(pid) */
static int system_getpriority (lua_State *L) {
  int value, err = uv_os_getpriority(checkpid(L, 1), &value);
  if (err < 0) return cu_pushfail(L, err);
  lua_pushstring(L, priorityname(value));
  lua_pushinteger(L, value);
  return 2;
}

/* true = system.setpriority(pid, value) */
static int system_setpriority (lua_State *L) {
  uv_pid_t pid = checkpid(L, 1);
  return cu_pushresult(L, uv_os_setpriority(pid, checkpriority(L, 2)));
}

/* --- working directory ------------------------------------------------ */

static int getcwd_sized (const char *name, char *buf, size_t *len) {
  return uv_cwd(buf, len);
}

/* path = system.getdir() */
static int system_getdir (lua_State *L) {
  int err = cu_pushsized(L, getcwd_sized, NULL);
  return err < 0 ? cu_pushfail(L, err) : 1;
}

/* true = system.setdir(path) */
static int system_setdir (lua_State *L) {
  return cu_pushresult(L, uv_chdir(luaL_checkstring(L, 1)));
}

/* --- variables -------------------------------------------------------- */

/* The table at 'arg', or a new one put there when it is absent or nil;
   it is left on the top. Variables are set raw in it, so no Lua code
   runs while libuv's copy of the environment is held. */
static void opttable (lua_State *L, int arg) {
  lua_settop(L, arg);
  if (lua_isnil(L, arg)) {
    lua_newtable(L);
    lua_replace(L, arg);
  }
  else luaL_checktype(L, arg, LUA_TTABLE);
}

/* Sets name (its first 'len' bytes) to 'value' in the table on the top. */
static void setvar (lua_State *L, const char *name, size_t len,
                    const char *value) {
  lua_pushlstring(L, name, len);
  lua_pushstring(L, value);
  lua_rawset(L, -3);
}

/* Fills the table on the top with every variable. A memory error while
   filling it would leak libuv's copy; nothing else can raise here. */
static int pushenviron (lua_State *L) {
  uv_env_item_t *items;
  int count, i, err = uv_os_environ(&items, &count);
  if (err < 0) return cu_pushfail(L, err);
  for (i = 0; i < count; i++)
    setvar(L, items[i].name, strlen(items[i].name), items[i].value);
  uv_os_free_environ(items, count);
  return 1;
}

/* value = system.getenv([name]) */
static int system_getenv (lua_State *L) {
  int err;
  if (lua_isnoneornil(L, 1) || lua_istable(L, 1)) {
    opttable(L, 1);
    return pushenviron(L);
  }
  err = cu_pushsized(L, uv_os_getenv, luaL_checkstring(L, 1));
  return err < 0 ? cu_pushfail(L, err) : 1;
}

/* true = system.setenv(name, value) */
static int system_setenv (lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *value = luaL_optstring(L, 2, NULL);
  return cu_pushresult(L, value ? uv_os_setenv(name, value)
                                : uv_os_unsetenv(name));
}

/* --- packed environments ---------------------------------------------- */

#define PACKENV "coutil.packenv"

/* 'vars' has count+1 entries, the last NULL; the strings follow it. */
typedef struct PackedEnv {
  size_t count;
  char *vars[];
} PackedEnv;

/* Checks the name and value lua_next left on the top; returns the bytes
   "name=value" takes with its NUL. Both are taken as C strings (up to
   an embedded NUL), which is what execve will see. */
static size_t checkvar (lua_State *L) {
  const char *name;
  if (lua_type(L, -2) != LUA_TSTRING)
    luaL_error(L, "bad name in environment (string expected, got %s)",
               luaL_typename(L, -2));
  name = lua_tostring(L, -2);
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad value of '%s' in environment "
               "(string expected, got %s)", name, luaL_typename(L, -1));
  if (strchr(name, '='))
    luaL_error(L, "bad name '%s' in environment (cannot contain '=')",
               name);
  return strlen(name) + 1 + strlen(lua_tostring(L, -1)) + 1;
}

/* Pushes a packed environment with the variables of the table at 't'
   (absolute): one pass to check and measure, one to copy. No Lua code
   runs in between, so the table cannot change. */
static PackedEnv *pack (lua_State *L, int t) {
  size_t count = 0, bytes = 0;
  PackedEnv *env;
  char *p;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    bytes += checkvar(L);
    count++;
    lua_pop(L, 1);
  }
  env = (PackedEnv *)lua_newuserdatauv(L, sizeof(PackedEnv) +
                                       (count + 1) * sizeof(char *) + bytes,
                                       0);
  luaL_setmetatable(L, PACKENV);
  env->count = count;
  env->vars[count] = NULL;
  p = (char *)(env->vars + count + 1);
  count = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    env->vars[count++] = p;
    p += sprintf(p, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1)) + 1;
    lua_pop(L, 1);
  }
  return env;
}

static PackedEnv *checkpacked (lua_State *L, int arg) {
  PackedEnv *env = (PackedEnv *)luaL_testudata(L, arg, PACKENV);
  if (env == NULL) luaL_typeerror(L, arg, "packed environment");
  return env;
}

char **cu_environ_check (lua_State *L, int arg) {
  PackedEnv *env;
  arg = lua_absindex(L, arg);
  if (!lua_istable(L, arg)) {
    env = (PackedEnv *)luaL_testudata(L, arg, PACKENV);
    if (env == NULL)
      luaL_typeerror(L, arg, "table or packed environment");
    return env->vars;
  }
  env = pack(L, arg);
  lua_replace(L, arg);
  return env->vars;
}

/* env = system.packenv(vars) */
static int system_packenv (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  pack(L, 1);
  return 1;
}

/* tab = system.unpackenv(env [, tab]) */
static int system_unpackenv (lua_State *L) {
  PackedEnv *env = checkpacked(L, 1);
  size_t i;
  opttable(L, 2);
  for (i = 0; i < env->count; i++) {
    const char *var = env->vars[i];
    const char *eq = strchr(var, '=');  /* never NULL: pack wrote it */
    setvar(L, var, (size_t)(eq - var), eq + 1);
  }
  return 1;
}

/* env.NAME: a linear search; nil when absent. A name with an embedded
   NUL matches nothing, as no packed name has one. */
static int packenv_index (lua_State *L) {
  PackedEnv *env = checkpacked(L, 1);
  size_t len, i;
  const char *name = lua_type(L, 2) == LUA_TSTRING ?
                     lua_tolstring(L, 2, &len) : NULL;
  if (name && strlen(name) == len) {
    for (i = 0; i < env->count; i++) {
      const char *var = env->vars[i];
      if (strncmp(var, name, len) == 0 && var[len] == '=') {
        lua_pushstring(L, var + len + 1);
        return 1;
      }
    }
  }
  lua_pushnil(L);
  return 1;
}

/* #env: how many variables it holds */
static int packenv_len (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkpacked(L, 1)->count);
  return 1;
}

void cu_open_environ (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"getpriority", system_getpriority},
    {"setpriority", system_setpriority},
    {"getdir", system_getdir},
    {"setdir", system_setdir},
    {"getenv", system_getenv},
    {"setenv", system_setenv},
    {"packenv", system_packenv},
    {"unpackenv", system_unpackenv},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__index", packenv_index}, {"__len", packenv_len}, {NULL, NULL}
  };
  cu_newclass(L, PACKENV, NULL, meta, 0);
  lua_pop(L, 1);
  cu_loop_setfuncs(L, funcs);
}
