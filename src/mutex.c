/*
** mutex.c: coutil.mutex (manual: "Mutex"). A locker waits as an event
** waiter on the value, so it shares the queue of coutil.event; unlock
** frees the lock and emits on the value, as emitone would: the first
** waiter, a locker or a plain event.await, wakes (the original library's
** behaviour); a locker woken with the lock free takes it.
** Ownership: owners sit in an ephemeron table value -> coroutine, so a
** lock lives as long as its value.
*/
#include "areas.h"
#include "event.h"

#define LOCKS_UP lua_upvalueindex(3)

/* Marks a locker's frame (just below its serial): lock_k's frame has a
   fixed layout. */
static const char lockmark = 'l';

/* Pushes the owner of the lock on the value at 1 (nil when free). */
static int pushowner (lua_State *L) {
  lua_pushvalue(L, 1);
  return lua_rawget(L, LOCKS_UP);
}

/* Makes the coroutine at the top (popped) the owner of the value at 1. */
static void setowner (lua_State *L) {
  lua_pushvalue(L, 1);
  lua_insert(L, -2);
  lua_rawset(L, LOCKS_UP);
}

/* Is the value at the top (popped) the running coroutine? */
static int isrunning (lua_State *L) {
  int is;
  lua_pushthread(L);
  is = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return is;
}

/* Frame of a waiting locker: e, lockmark, serial. */
static int lock_k (lua_State *L, int status, lua_KContext ctx) {
  int byemit = cu_event_byemit(L);
  (void)status;
  lua_settop(L, 3);  /* drop what the resumer passed */
  if (pushowner(L) == LUA_TNIL || isrunning(L)) {  /* free, or handed to us */
    if (!byemit) cu_event_unregister(L, 1, 1, 3);
    lua_pushthread(L);
    setowner(L);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (byemit) {  /* an unrelated emit took our place: queue up again */
    lua_settop(L, 2);
    cu_event_register(L, 1, 1);
  }
  /* else a plain coroutine.resume: our entry is still queued */
  return lua_yieldk(L, 0, ctx, lock_k);
}

/* true = mutex.lock(e) */
static int mutex_lock (lua_State *L) {
  cu_event_checkvalue(L, 1);
  lua_settop(L, 1);
  if (pushowner(L) == LUA_TNIL) {
    lua_pushthread(L);
    setowner(L);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (isrunning(L)) return luaL_error(L, "nested lock");
  cu_checkyield(L);
  lua_pushlightuserdata(L, (void *)&lockmark);
  cu_event_register(L, 1, 1);
  return lua_yieldk(L, 0, 3, lock_k);
}

/* b = mutex.unlock(e): whether a waiter woke */
static int mutex_unlock (lua_State *L) {
  lua_settop(L, 1);
  pushowner(L);
  if (!isrunning(L)) return luaL_error(L, "lock not owned");
  lua_pushnil(L);
  setowner(L);
  lua_pushboolean(L, cu_event_emit(L, 1, 1, 0) > 0);
  return 1;
}

/* b = mutex.islocked(e) */
static int mutex_islocked (lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, pushowner(L) != LUA_TNIL);
  return 1;
}

/* b = mutex.ownlock(e) */
static int mutex_ownlock (lua_State *L) {
  lua_settop(L, 1);
  pushowner(L);
  lua_pushboolean(L, isrunning(L));
  return 1;
}

void cu_open_mutex (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"lock", mutex_lock},
    {"unlock", mutex_unlock},
    {"islocked", mutex_islocked},
    {"ownlock", mutex_ownlock},
    {NULL, NULL}
  };
  static const char locks_key = 'm';
  cu_event_pushstate(L);
  cu_event_pushweak(L, &locks_key);  /* value -> owner */
  luaL_setfuncs(L, funcs, 3);
}
