/*
** bench/floor_channel.c: the C floor of bench/channel.lua. Two system
** threads hand a number back and forth n times through one slot guarded
** by a pthread mutex and condition variable, the cheapest portable form of
** the channel ping-pong. Built as a Lua module (no liblua link) so that the
** harness times it like the other contenders:
**   floor.pingpong(n) -- returns the number of round trips done
*/
#include <pthread.h>
#include <lua.h>
#include <lauxlib.h>

typedef struct Slot {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  long value;
  int full;      /* 1: a value waits for the other side */
  int turn;      /* 0: main's turn to receive, 1: the peer's */
  long rounds;
} Slot;

/* Waits for a value addressed to 'me', takes it. */
static long take (Slot *s, int me) {
  long v;
  pthread_mutex_lock(&s->mutex);
  while (!(s->full && s->turn == me)) pthread_cond_wait(&s->cond, &s->mutex);
  s->full = 0;
  v = s->value;
  pthread_mutex_unlock(&s->mutex);
  return v;
}

/* Hands 'v' to the other side. */
static void give (Slot *s, int to, long v) {
  pthread_mutex_lock(&s->mutex);
  s->value = v;
  s->turn = to;
  s->full = 1;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->mutex);
}

static void *peer (void *arg) {
  Slot *s = (Slot *)arg;
  long i;
  for (i = 0; i < s->rounds; i++) give(s, 0, take(s, 1) + 1);
  return NULL;
}

static int floor_pingpong (lua_State *L) {
  Slot s;
  pthread_t tid;
  long i, n = (long)luaL_checkinteger(L, 1), done = 0;
  pthread_mutex_init(&s.mutex, NULL);
  pthread_cond_init(&s.cond, NULL);
  s.full = 0;
  s.turn = 0;
  s.rounds = n;
  if (pthread_create(&tid, NULL, peer, &s) != 0)
    return luaL_error(L, "cannot create thread");
  for (i = 0; i < n; i++) {
    give(&s, 1, i);
    if (take(&s, 0) == i + 1) done++;
  }
  pthread_join(tid, NULL);
  pthread_cond_destroy(&s.cond);
  pthread_mutex_destroy(&s.mutex);
  lua_pushinteger(L, done);
  return 1;
}

int luaopen_floor_channel (lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, floor_pingpong);
  lua_setfield(L, -2, "pingpong");
  return 1;
}
