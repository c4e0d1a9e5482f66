/*
** time.h: the loop's ready list (time.c) for other areas.
*/
#ifndef coutil_time_h
#define coutil_time_h

#include "loop.h"

/* Suspends the running coroutine until the next loop iteration, as
   system.suspend(0) does, and returns true then (or the values of an
   early resume). For await functions that finished their work at once but
   must still wait, as every await function does (a small write). */
int cu_time_yieldready (lua_State *L);

/* Same, but when the loop wakes it, 'k' runs as k(L, LUA_YIELD, ctx) with
   that true on top (cu_await_yieldk): to return what the work gave. */
int cu_time_yieldreadyk (lua_State *L, lua_KFunction k, lua_KContext ctx);

/* Loop teardown: frees the calendar of sleepers (time.c). */
void cu_time_teardown (cu_Loop *loop);

#endif
