/*
** threads.h: thread pools (threads.c) and state coroutines (coroutine.c),
** as seen from the rest of coutil.
*/
#ifndef coutil_threads_h
#define coutil_threads_h

#include "common.h"

/* Channel lock held: puts a parked or channel-suspended task back on its
   pool's queue of pending tasks. */
void cu_threads_wake_chanlocked (void *task);

/* The task whose chunk runs in coroutine L, or NULL (L is not the
   coroutine a pool resumes, e.g. the main thread or a nested coroutine). */
void *cu_threads_current (lua_State *L);


#endif
