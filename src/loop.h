/*
** loop.h: the libuv loop of a Lua state. One per state, created by the
** first require of coutil.system (or any module needing it) and torn down
** by its finalizer at lua_close. Every system function and method gets
** the loop userdata as upvalue 1 (use cu_loop_setfuncs / cu_newclass).
*/
#ifndef coutil_loop_h
#define coutil_loop_h

#include "common.h"

typedef struct cu_Await cu_Await;
typedef struct cu_Loop cu_Loop;

/* What an area that keeps per-loop state (channels, signals) registers
   with cu_loop_hook: called by system.run around uv_run (loop->runner
   set) and by the loop's teardown at lua_close (loop->closing set). Any
   of them may be NULL. 'data' is what was registered. */
typedef struct cu_LoopHooks {
  /* before uv_run; 'loopmode' is nonzero for system.run("loop") */
  void (*beforerun) (lua_State *L, cu_Loop *loop, void *data, int loopmode);
  /* after uv_run: the number of values it pushed for system.run to
     yield (a task that parks its thread, channel.c), or 0 */
  int (*afterrun) (lua_State *L, cu_Loop *loop, void *data);
  /* lua_close: release everything; the loop then closes its handles */
  void (*teardown) (cu_Loop *loop, void *data);
} cu_LoopHooks;

#define CU_MAXHOOKS 4  /* channels, signals, and room */

struct cu_Loop {
  uv_loop_t uv;
  lua_State *runner;   /* thread inside system.run, NULL otherwise */
  lua_State *L0;       /* the state's main thread: for callbacks that need
                          a lua_State when no coroutine waits (unpins) */
  int closing;         /* lua_close began: callbacks must not run Lua */
  int halted;          /* system.halt was called */
  char *sparestash;    /* an empty stream stash for the next (stream.c) */
  cu_Await *freed[4]; /* released records, one list per kind (await.h:
                          CU_AWAIT_KINDS) */
  struct cu_Slab *slabs; /* where every record lives, by id (await.c) */
  unsigned nslabs, capslabs;
  unsigned char slabbed; /* bit (1 << kind) set once a kind has a slab */
  uv_timer_t sleeper;  /* set for the earliest deadline (time.c) */
  struct cu_Bucket **heap; /* suspend(seconds) callers by deadline, in
                          buckets, earliest first */
  size_t nheap, capheap;
  struct cu_Bucket **slots; /* the buckets by deadline (a hash table) */
  size_t nslots;
  struct cu_Bucket *freebuckets; /* for reuse */
  cu_Await *abandoned; /* requests left early, libuv still on them */
  cu_Await *deferred;  /* requests waiting for those (await.c) */
  uv_idle_t idle;      /* drains the ready list while it is not empty */
  cu_Await *readyhead, *readytail; /* suspend(0) callers, newest first
                          (time.c) */
  cu_Await *drainhead; /* the batch being woken, newest first */
  lua_State *earlywoken; /* the last suspend(0) caller resumed early */
  cu_Await *latehead, *latetail; /* its next suspend(0), oldest first, to
                          join readyhead when the iteration ends (time.c) */
  uv_check_t lateend;  /* moves them there; active while it matters */
  unsigned readygen;   /* batch number of the records in readyhead */
  uv_check_t roundend; /* ends a round that cu_loop_round was asked for */
  unsigned round;      /* see cu_loop_round */
  int nhooks;
  struct { const cu_LoopHooks *hooks; void *data; } hook[CU_MAXHOOKS];
};

/* The loop of the running function (upvalue 1). */
#define cu_loopof(L) ((cu_Loop *)lua_touserdata(L, lua_upvalueindex(1)))
#define cu_loop(L) (&cu_loopof(L)->uv)

/* The loop of the running function for a function about to create a
   libuv handle: raises 'closed' once lua_close tore the loop down (a
   finalizer of an object older than the loop may still call us). */
uv_loop_t *cu_loop_open (lua_State *L);

/* A number that changes from one loop iteration to the next, for
   callers that bound the work they do in one iteration (stream.c). It
   costs a check handle callback, only in iterations where it is asked. */
unsigned cu_loop_round (cu_Loop *loop);

/* Registers 'hooks' with 'data' (one registration per 'hooks'; no
   effect when full, which a fixed set of areas never makes it). */
void cu_loop_hook (cu_Loop *loop, const cu_LoopHooks *hooks, void *data);
/* Drops the registration of 'hooks'. */
void cu_loop_unhook (cu_Loop *loop, const cu_LoopHooks *hooks);
/* The data registered with 'hooks', or NULL. */
void *cu_loop_hookdata (cu_Loop *loop, const cu_LoopHooks *hooks);

/* The loop of L's state, or NULL when it has none yet (creates none). */
cu_Loop *cu_loop_peek (lua_State *L);

/* Pushes the loop userdata of L's state, creating it on first use. */
cu_Loop *cu_loop_push (lua_State *L);

/* luaL_setfuncs with the loop userdata as the single upvalue. */
void cu_loop_setfuncs (lua_State *L, const luaL_Reg *l);

/* cu_newclass with the loop userdata as the single upvalue. */
void cu_loop_newclass (lua_State *L, const char *name,
                      const luaL_Reg *methods, const luaL_Reg *metamethods);

#endif
