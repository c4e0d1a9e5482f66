/*
** bench/floor_tasks.c: the C floor of bench/tasks.lua. Two worker threads
** share n tasks; for each, a worker builds a fresh lua_State, loads the
** task's chunk, runs it with two numbers and closes the state. Built as a
** Lua module (no liblua link: the interpreter provides the Lua API):
**   floor.run(n, chunk) -- returns the number of tasks done
*/
#include <pthread.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>

typedef struct Work {
  pthread_mutex_t mutex;
  const char *chunk;
  long next, n, done;
} Work;

static void *worker (void *arg) {
  Work *w = (Work *)arg;
  for (;;) {
    long i, ok = 0;
    lua_State *L;
    pthread_mutex_lock(&w->mutex);
    i = w->next < w->n ? w->next++ : -1;
    pthread_mutex_unlock(&w->mutex);
    if (i < 0) break;
    L = luaL_newstate();
    if (L && luaL_loadstring(L, w->chunk) == LUA_OK) {
      lua_pushinteger(L, i);
      lua_pushinteger(L, 1);
      ok = lua_pcall(L, 2, 1, 0) == LUA_OK && lua_tointeger(L, -1) == i + 1;
    }
    if (L) lua_close(L);
    pthread_mutex_lock(&w->mutex);
    w->done += ok;
    pthread_mutex_unlock(&w->mutex);
  }
  return NULL;
}

static int floor_run (lua_State *L) {
  Work w;
  pthread_t tids[2];
  int i;
  w.n = (long)luaL_checkinteger(L, 1);
  w.chunk = luaL_checkstring(L, 2);
  w.next = w.done = 0;
  pthread_mutex_init(&w.mutex, NULL);
  for (i = 0; i < 2; i++)
    if (pthread_create(&tids[i], NULL, worker, &w) != 0)
      return luaL_error(L, "cannot create thread");
  for (i = 0; i < 2; i++) pthread_join(tids[i], NULL);
  pthread_mutex_destroy(&w.mutex);
  lua_pushinteger(L, w.done);
  return 1;
}

int luaopen_floor_tasks (lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, floor_run);
  lua_setfield(L, -2, "run");
  return 1;
}
