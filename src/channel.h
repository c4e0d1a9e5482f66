/*
** channel.h: the process-wide channel registry shared by coutil.channel,
** system.awaitch (channel.c) and tasks of thread pools (threads.c). One
** global lock guards every channel, every waiter queue and the completion
** queues of loops; lock order: channel lock, then a pool's lock.
*/
#ifndef coutil_channel_h
#define coutil_channel_h

#include "loop.h"
#include "state.h"

enum { CU_EP_IN, CU_EP_OUT, CU_EP_ANY };

typedef struct cu_Chan cu_Chan;
typedef struct cu_Waiter cu_Waiter;

/* Called, with the channel lock held, on the waiter a matching call has
   just taken from its queue ('got' holds the matching call's values). */
typedef void (*cu_Wake) (cu_Waiter *w);

struct cu_Waiter {
  cu_Waiter *next, *prev;  /* the channel's queue */
  cu_Chan *chan;           /* the channel while queued, NULL otherwise */
  int endpoint;
  cu_Wake wake;
  cu_Wake release;         /* for cu_chan_defer_chanlocked */
  cu_Values sent;          /* this call's extra values */
  cu_Values got;           /* the matching call's extra values */
};

void cu_chan_lock (void);
void cu_chan_unlock (void);

/* Index of 'name' in "in", "out", "any" (NULL means "any"); -1 if none. */
int cu_chan_endpoint (const char *name);

/* The message for an endpoint name that is none of these, with the
   argument number and the name: the original library's words, which
   name no function (the bare yield of tasks has none to name). */
#define CU_BADENDPOINT "bad argument #%d (invalid option '%s')"

/* Channel lock held. Matches 'w' (endpoint and 'sent' set) against the
   queue of channel 'name': returns 1 when it matched at once (w->got is
   filled, the other side woken), 0 when 'w' was queued, -1 when out of
   memory. */
int cu_chan_await_chanlocked (cu_Waiter *w, const char *name, size_t len);

/* Channel lock held. Takes 'w' out of its queue if it is still there. */
void cu_chan_unqueue_chanlocked (cu_Waiter *w);

/* Channel lock held, 'w' out of its queue (a cu_Wake may call it): has
   cu_chan_unlock call w->release(w) once the lock is released, for work
   that may not happen inside it (closing a Lua state). */
void cu_chan_defer_chanlocked (cu_Waiter *w);

/* Loops and tasks. A task whose system.run("loop") has only awaitch calls
   left yields CU_PARKMARK and the loop's sync record (2 values); the pool
   then calls cu_chan_parktask_chanlocked (channel lock held), which returns 0
   when a match already came (resume the task again now) or 1 when the
   task is parked: a later match calls cu_threads_wake_chanlocked(task). */
extern const char cu_parkmark;
#define CU_PARKMARK ((void *)&cu_parkmark)
int cu_chan_parktask_chanlocked (void *sync, void *task);

/* Channel lock held: a parked task is being discarded; forget it. */
void cu_chan_unpark_chanlocked (void *sync);



#endif
