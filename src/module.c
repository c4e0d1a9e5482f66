/*
** module.c: every luaopen_coutil_* of coutil.so. Each area file adds its
** functions to the module table through its cu_open_<area>.
*/
#include "areas.h"
#include "loop.h"

CU_EXPORT int luaopen_coutil_system (lua_State *L) {
  cu_loop_push(L);  /* first: its finalizer must run after every object's */
  lua_pop(L, 1);
  lua_newtable(L);
  cu_open_loop(L);
  cu_open_time(L);
  cu_open_awaitch(L);
  cu_open_resume(L);
  cu_open_address(L);
  cu_open_socket(L);
  cu_open_stdio(L);
  cu_open_info(L);
  cu_open_environ(L);
  cu_open_signal(L);
  cu_open_process(L);
  cu_open_filesys(L);
  cu_open_file(L);
  return 1;
}

/* Creates a module table filled by 'open'. */
static int newmodule (lua_State *L, void (*open) (lua_State *L)) {
  lua_newtable(L);
  open(L);
  return 1;
}

CU_EXPORT int luaopen_coutil_event (lua_State *L) {
  return newmodule(L, cu_open_event);
}

CU_EXPORT int luaopen_coutil_queued (lua_State *L) {
  return newmodule(L, cu_open_queued);
}

CU_EXPORT int luaopen_coutil_mutex (lua_State *L) {
  return newmodule(L, cu_open_mutex);
}

CU_EXPORT int luaopen_coutil_promise (lua_State *L) {
  return newmodule(L, cu_open_promise);
}

CU_EXPORT int luaopen_coutil_spawn (lua_State *L) {
  return newmodule(L, cu_open_spawn);
}

CU_EXPORT int luaopen_coutil_timeout (lua_State *L) {
  return newmodule(L, cu_open_timeout);
}

CU_EXPORT int luaopen_coutil_channel (lua_State *L) {
  return newmodule(L, cu_open_channel);
}

CU_EXPORT int luaopen_coutil_coroutine (lua_State *L) {
  return newmodule(L, cu_open_coroutine);
}

CU_EXPORT int luaopen_coutil_threads (lua_State *L) {
  return newmodule(L, cu_open_threads);
}
