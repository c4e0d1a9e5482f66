/*
** event.h: the waiter queues behind coutil.event, shared by coutil.queued,
** coutil.mutex and coutil.promise (which wait "on an event" too).
**
** Every function of these modules keeps two upvalues: #1 the per-state
** record (cu_Events) and #2 the ephemeron table value -> waiter queue.
** A waiting coroutine is suspended in a C function whose frame ends with
** the serial it registered with (a light userdata): an emitter tells a
** live queue entry from a stale one by comparing that top slot.
*/
#ifndef coutil_event_h
#define coutil_event_h

#include <stdint.h>
#include "common.h"

typedef struct cu_Events {
  uintptr_t serial;     /* last serial handed out; never 0 (the emit in
                           progress is in event.c: Emit) */
  struct Queue *lastq;  /* the table's queue an emit found last, or NULL
                           (cleared by the queue's finalizer) */
  int loosemade;        /* waiter queues made for values other than tables
                           since the last sweep (event.c: sweepif) */
  int sweepafter;       /* the sweep comes when loosemade reaches it */
} cu_Events;

#define CU_EVENTS_UP  lua_upvalueindex(1)
#define CU_WAITERS_UP lua_upvalueindex(2)

/* Pushes the per-state record and waiter table (2 values), creating them
   on first use; modules take them as their first two upvalues. */
void cu_event_pushstate (lua_State *L);

/* Pushes the table with weak keys kept in the registry at 'key' (an
   ephemeron when its values refer back to their keys), creating it on
   first use. */
void cu_event_pushweak (lua_State *L, const void *key);

/* Raises Lua's "table index is nil" (or "is NaN") unless the value at
   'arg' can be an event, that is a table key; returns its type. */
int cu_event_checkvalue (lua_State *L, int arg);
/* Whether the value at 'arg' can be an event (neither nil nor NaN). */
int cu_event_iskey (lua_State *L, int arg);

/* Registers the running coroutine as a waiter on each non-nil value at
   stack indices first..last with a fresh serial, which it pushes: the
   frame must end there. The caller then yields 0 values; its
   continuation finds its own slots below gettop - (resume values). */
void cu_event_register (lua_State *L, int first, int last);

/* For continuations that return: drops the entries that the frame's
   serial (at 'serial') still has in the queues of the values at
   first..last, so that the coroutine is no longer registered anywhere
   (nor kept alive by those values). */
void cu_event_unregister (lua_State *L, int first, int last, int serial);

/* For continuations: 1 when an emitter resumed the coroutine (its queue
   entry is gone), 0 for a plain coroutine.resume. Valid only before the
   continuation runs any Lua code. */
int cu_event_byemit (lua_State *L);

/* Resumes 'co' with the 'n' values on its stack, from L, with no one to
   hand results to: what it yields or returns is dropped, an error it
   raises is reported with cu_warnerror. Returns 0; or 1, with the error
   message pushed on L, when Lua refused to resume it at all (C stack
   overflow: too many nested resumes). */
int cu_event_resume (lua_State *L, lua_State *co, int n);

/* Emits on the value at 'first', delivering the 'n' values first..
   first+n-1 (the value itself, then the arguments) to the waiters in
   suspension order: only the first one ('all' == 0), or every one
   waiting when the call began. Errors in resumed coroutines become
   warnings. Returns how many coroutines were resumed. */
int cu_event_emit (lua_State *L, int first, int n, int all);


#endif
