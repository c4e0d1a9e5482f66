/*
** event.c: coutil.event and coutil.queued (manual: "Events", "Queued
** Events"). No libuv here: an await is a lua_yieldk and an emit resumes
** the waiters itself, nested, like coroutine.resume does.
** Ownership: waiters are reachable only through an ephemeron table keyed
** by the value they wait on, so they live exactly as long as that value.
*/
#include <string.h>
#include "areas.h"
#include "event.h"

/* A FIFO of waiters on one value, kept in the ephemeron table. The queue
   is a userdata that never moves: its entries (a serial, 0 for a hole,
   and the waiter's lua_State) are in a block at user value 2, replaced by
   a larger one when full, and the coroutine of entry i is anchored at
   [i+1] of the table at user value 1. User value 3 holds the value
   itself (an ephemeron value may keep its key: a live queue keeps its
   table alive). Indices restart at 0 whenever the queue empties, so a
   steady hand-off reuses one slot and allocates nothing. A full queue
   first drops its stale entries and holes, and grows only when more than
   half are live.
   An emitter needs neither the queue nor the waiter on its stack: a
   table's queue stays in the ephemeron as long as the table lives (the
   emitter holds the table), and the entry being resumed is RESERVED, so
   its anchor is never overwritten; a compaction that moves it tells its
   emitter (the chain of Emit records). The queue of another value may leave the ephemeron
   once empty (dropempty), so emits on it keep it on their stack.
   The queues of coutil.queued use the same layout for stored events. */
typedef struct Entry {
  uintptr_t serial;
  lua_State *co;       /* the waiter; NULL for a stored event */
} Entry;

typedef struct Queue {
  Entry *e;            /* the block at user value 2 */
  const void *key;     /* identity of the value when a table, else NULL */
  cu_Events *st;       /* the per-state record: saves an upvalue access */
  int head, tail;      /* entries head..tail-1 */
  int cap;             /* entries in the block */
  int reserved;        /* entries being resumed: they keep their index */
  int dead;            /* finalized: never the emit cache again */
  uintptr_t claimed;   /* waiters up to this serial belong to an emitall
                          in progress: a nested emit must not take them */
} Queue;

#define ANCHORS 1      /* user values of a queue */
#define BLOCK 2
#define KEY 3

/* The emit in progress on this system thread, innermost first: set while
   an emitter resumes a waiter, so that the waiter's continuation knows an
   emit resumed it (cu_event_byemit) and a waiter that awaits the same
   table again (a hand-off) re-registers in the entry it was resumed from,
   which still anchors it (RESERVED) and is the last one. Per system
   thread, not per state: a resume never leaves its thread, and a record
   names the coroutine it resumes, which is alive (running) while the
   record is current. In the thread's static TLS block (initial-exec): one
   load, where the dynamic model calls __tls_get_addr. */
typedef struct Emit {
  lua_State *co;       /* the waiter being resumed */
  struct Queue *q;     /* its queue */
  int slot;            /* the entry reserved for 'co' (makeroom moves it) */
  struct Emit *outer;  /* the emit this one runs inside, or NULL */
} Emit;

#if defined(__GNUC__) && defined(__ELF__)
static _Thread_local Emit *emitting __attribute__((tls_model("initial-exec")));
#else
static _Thread_local Emit *emitting;
#endif

#define QUEUE_MINCAP 4
#define STORED 1       /* serial of a stored event: never a hole */
#define RESERVED 2     /* serial of an entry whose waiter an emit resumes */
#define FIRSTSERIAL 2  /* waiters' serials are all above it */
#define SWEEP_MIN 64   /* queues made between sweeps, at least (sweepif) */

/* Pushes a new table whose metatable has __mode 'mode'. */
static void newweak (lua_State *L, const char *mode) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, mode);
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
}

void cu_event_pushweak (lua_State *L, const void *key) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) != LUA_TTABLE) {
    lua_pop(L, 1);
    newweak(L, "k");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  }
}

/* Registry keys of the per-state record and tables. */
static const char events_key = 'e', waiters_key = 'w', stored_key = 's';

void cu_event_pushstate (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &events_key) != LUA_TUSERDATA) {
    cu_Events *st;
    lua_pop(L, 1);
    st = (cu_Events *)lua_newuserdatauv(L, sizeof(cu_Events), 0);
    memset(st, 0, sizeof(cu_Events));
    st->serial = FIRSTSERIAL;
    st->sweepafter = SWEEP_MIN;
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &events_key);
  }
  cu_event_pushweak(L, &waiters_key);  /* value -> Queue */
}

/* Events are table keys: waiting on nil or NaN fails with the error
   Lua raises for such a key, as the original library does; looking one
   up (pending, emit) finds nothing. */
int cu_event_checkvalue (lua_State *L, int arg) {
  int type = lua_type(L, arg);
  if (type <= LUA_TNIL) luaL_error(L, "table index is nil");
  if (type == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, arg);
    if (n != n) luaL_error(L, "table index is NaN");
  }
  return type;
}

int cu_event_iskey (lua_State *L, int arg) {
  int type = lua_type(L, arg);
  if (type == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, arg);
    return n == n;
  }
  return type > LUA_TNIL;
}

int cu_event_byemit (lua_State *L) {
  return emitting != NULL && emitting->co == L;
}

/* --- queues --- */

/* Pushes the queue of the value at 'v' in the table at 't' and returns
   it; NULL (nothing pushed) when the value has none. */
static Queue *getqueue (lua_State *L, int t, int v) {
  lua_pushvalue(L, v);
  if (lua_rawget(L, t) == LUA_TUSERDATA) return (Queue *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return NULL;
}

/* __gc of a table's queue: the emit cache (cu_Events.lastq) must not keep
   it, and must never take it again should its table come back to life
   (a finalizer of the table's) and find it. */
static int queue_gc (lua_State *L) {
  Queue *q = (Queue *)lua_touserdata(L, 1);
  if (q->st->lastq == q) q->st->lastq = NULL;
  q->dead = 1;
  return 0;
}

static const char queuemt_key = 'q';  /* registry: the metatable of queues */

/* Pushes a new empty queue and makes it the one of the value at 'v'. */
static Queue *newqueue (lua_State *L, int t, int v) {
  Queue *q = (Queue *)lua_newuserdatauv(L, sizeof(Queue), 3);
  memset(q, 0, sizeof(Queue));
  q->st = (cu_Events *)lua_touserdata(L, CU_EVENTS_UP);
  q->key = lua_type(L, v) == LUA_TTABLE ? lua_topointer(L, v) : NULL;
  q->cap = QUEUE_MINCAP;
  q->e = (Entry *)lua_newuserdatauv(L, QUEUE_MINCAP * sizeof(Entry), 0);
  lua_setiuservalue(L, -2, BLOCK);
  lua_createtable(L, QUEUE_MINCAP, 0);
  lua_setiuservalue(L, -2, ANCHORS);
  lua_pushvalue(L, v);
  lua_setiuservalue(L, -2, KEY);
  if (q->key != NULL) {  /* only a table's queue is ever cached */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &queuemt_key) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_createtable(L, 0, 1);
      lua_pushcfunction(L, queue_gc);
      lua_setfield(L, -2, "__gc");
      lua_pushvalue(L, -1);
      lua_rawsetp(L, LUA_REGISTRYINDEX, &queuemt_key);
    }
    lua_setmetatable(L, -2);
  }
  lua_pushvalue(L, v);
  lua_pushvalue(L, -2);
  lua_rawset(L, t);
  return q;
}

/* Sets the anchor of entry i of the queue at 'ud' to the value at the
   top (popped). */
static void setanchor (lua_State *L, int ud, int i) {
  lua_getiuservalue(L, ud, ANCHORS);
  lua_insert(L, -2);
  lua_rawseti(L, -2, i + 1);
  lua_pop(L, 1);
}

/* Is the waiter 'co' still suspended in the frame that registered it
   with 'serial' (the frame's top slot)? */
static int islive (lua_State *co, uintptr_t serial) {
  /* an empty frame makes index -1 the function: never a light userdata */
  return co != NULL && lua_status(co) == LUA_YIELD &&
         (uintptr_t)lua_touserdata(co, -1) == serial;
}

/* Is entry i of 'q' worth keeping? A reserved one is, in place. */
static int keep (Queue *q, int i) {
  uintptr_t serial = q->e[i].serial;
  if (serial == 0) return 0;
  if (serial == STORED || serial == RESERVED) return 1;
  return islive(q->e[i].co, serial);
}

/* Makes entry i of 'q' a hole, its anchor left to the caller; pops it,
   and the holes after it, when it is the head. */
static void takeentry (Queue *q, int i) {
  q->e[i].serial = 0;
  if (i == q->head) {
    do q->head++;
    while (q->head < q->tail && q->e[q->head].serial == 0);
    if (q->head == q->tail) q->head = q->tail = 0;
  }
}

/* Removes entry i of the queue at 'ud' (see takeentry). */
static void removeentry (lua_State *L, Queue *q, int ud, int i) {
  lua_pushnil(L);
  setanchor(L, ud, i);
  takeentry(q, i);
}

/* Takes the empty queue 'q' of the value at 'v' out of the table at 't',
   unless the value is a table. A string, number, boolean or light
   userdata is never collected, so its entry would stay for good: a
   program awaiting "reply:"..id kept a queue per id it ever used. A
   table's queue goes with the table, and its hand-offs reuse it. */
static void dropempty (lua_State *L, Queue *q, int t, int v) {
  if (q->key != NULL || q->head != q->tail || q->reserved > 0) return;
  lua_pushvalue(L, v);
  if (lua_rawget(L, t) == LUA_TUSERDATA && lua_touserdata(L, -1) == q) {
    lua_pushvalue(L, v);
    lua_pushnil(L);
    lua_rawset(L, t);
  }
  lua_pop(L, 1);
}

/* Makes room at the tail of the full queue at the top of the stack: drops
   stale entries and holes, moving the others down (a reserved entry's
   emitter learns its new index), and grows when over half are live.
   Amortised O(1) per entry. */
static void makeroom (lua_State *L, Queue *q) {
  int ud = lua_gettop(L), i, j = 0;
  lua_getiuservalue(L, ud, ANCHORS);
  for (i = q->head; i < q->tail; i++) {
    if (!keep(q, i)) continue;
    if (i != j) {
      q->e[j] = q->e[i];
      lua_rawgeti(L, -1, i + 1);
      lua_rawseti(L, -2, j + 1);
      if (q->e[j].serial == RESERVED) {
        Emit *em;
        for (em = emitting; em != NULL; em = em->outer)
          if (em->q == q && em->slot == i) em->slot = j;
      }
    }
    j++;
  }
  for (i = j; i < q->tail; i++) {
    lua_pushnil(L);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pop(L, 1);
  q->head = 0;
  q->tail = j;
  if (2 * j > q->cap) {
    Entry *e = (Entry *)lua_newuserdatauv(L,
        2 * (size_t)q->cap * sizeof(Entry), 0);
    memcpy(e, q->e, (size_t)j * sizeof(Entry));
    lua_setiuservalue(L, ud, BLOCK);
    q->e = e;
    q->cap *= 2;
  }
}

/* Does 'q' hold a waiter still waiting, or one of the running coroutine,
   which may be registering on several values (awaitany, awaitall) and
   cannot look live while it runs? */
static int haslive (lua_State *L, Queue *q) {
  int i;
  for (i = q->head; i < q->tail; i++)
    if (keep(q, i) || (q->e[i].serial != 0 && q->e[i].co == L)) return 1;
  return 0;
}

/* A queue of a value other than a table leaves the table of waiters only
   when it empties (dropempty), and its value is never collected. A waiter
   closed with coroutine.close runs no continuation, so a queue whose
   waiters were all closed would stay for good, anchoring them: a program
   that awaits "reply:"..id and cancels with coroutine.close kept one per
   cancelled wait. So a registration that makes such a queue first drops,
   once enough were made since the last time, the queues of such values
   that hold no live waiter: stale queues stay at most as many as the
   queues there are (SWEEP_MIN at least), and each sweep is paid for by
   the queues made since the last one. Clearing fields during lua_next is
   allowed. None of these is on an emitter's stack with a waiter being
   resumed: that one is RESERVED. */
static void sweepif (lua_State *L, int t) {
  cu_Events *st = (cu_Events *)lua_touserdata(L, CU_EVENTS_UP);
  int count = 0;
  if (++st->loosemade < st->sweepafter) return;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    Queue *q = (Queue *)lua_touserdata(L, -1);
    count++;
    if (q->key == NULL && q->reserved == 0 && !haslive(L, q)) {
      lua_pushvalue(L, -2);
      lua_pushnil(L);
      lua_rawset(L, t);
      count--;
    }
    lua_pop(L, 1);
  }
  st->loosemade = 0;
  st->sweepafter = count > SWEEP_MIN ? count : SWEEP_MIN;
}

/* Pushes the queue of the value at 'v' in the table at 't', creating it
   or making room at its tail as needed; the caller then pushes the entry
   and calls 'commit'. */
static Queue *tailqueue (lua_State *L, int t, int v) {
  Queue *q = getqueue(L, t, v);
  if (q == NULL) {
    if (t == CU_WAITERS_UP && lua_type(L, v) != LUA_TTABLE) sweepif(L, t);
    return newqueue(L, t, v);
  }
  if (q->tail == q->cap) makeroom(L, q);
  return q;
}

/* Appends the value at the top (popped; 'co' when a thread) with 'serial'
   to the queue 'q' just below it, which is popped too. */
static void commit (lua_State *L, Queue *q, uintptr_t serial,
                    lua_State *co) {
  setanchor(L, lua_gettop(L) - 1, q->tail);
  q->e[q->tail].serial = serial;
  q->e[q->tail].co = co;
  q->tail++;
  lua_pop(L, 1);
}

void cu_event_register (lua_State *L, int first, int last) {
  cu_Events *st = (cu_Events *)lua_touserdata(L, CU_EVENTS_UP);
  uintptr_t serial = ++st->serial;
  int i;
  for (i = first; i <= last; i++) {
    if (!lua_isnil(L, i)) {
      Queue *q = tailqueue(L, CU_WAITERS_UP, i);
      lua_pushthread(L);
      commit(L, q, serial, L);
    }
  }
  lua_pushlightuserdata(L, (void *)serial);
}

/* cu_event_resume, inlined into emit: one call level less between an
   emitter and lua_resume (a hand-off returns through every level). */
static inline int resume (lua_State *L, lua_State *co, int n) {
  int nres, status = lua_resume(co, L, n, &nres);
  if (status != LUA_OK && status != LUA_YIELD) {
    int cs = lua_status(co);
    if (cs == LUA_OK || cs == LUA_YIELD) {  /* refused: it did not run */
      lua_xmove(co, L, 1);
      return 1;
    }
    cu_warnerror(L, co);
    nres = 1;
  }
  if (nres > 0) lua_pop(co, nres);
  return 0;
}

int cu_event_resume (lua_State *L, lua_State *co, int n) {
  return resume(L, co, n);
}

void cu_event_unregister (lua_State *L, int first, int last, int serial) {
  uintptr_t s = (uintptr_t)lua_touserdata(L, serial);
  int i, j;
  for (i = first; i <= last; i++) {
    Queue *q;
    if (lua_isnil(L, i) || (q = getqueue(L, CU_WAITERS_UP, i)) == NULL)
      continue;
    for (j = q->tail - 1; j >= q->head; j--)  /* ours are recent ones */
      if (q->e[j].serial == s) removeentry(L, q, lua_gettop(L), j);
    dropempty(L, q, CU_WAITERS_UP, i);
    lua_pop(L, 1);
  }
}

/* Resumes 'co', entry i of 'q', with values first..first+n-1 (see
   cu_event_resume); the entry is reserved meanwhile. Returns its index
   then (a compaction may have moved it). When Lua refuses to resume it
   (too many nested resumes), the entry gets its serial back and the
   error is raised in the emitter: the waiter stays registered. */
static inline CU_ALWAYS_INLINE
int resumewaiter (lua_State *L, Queue *q, int i, lua_State *co,
                  int first, int n) {
  Emit rec;
  uintptr_t serial = q->e[i].serial;
  int k;
  /* a waiter's frame keeps most of the LUA_MINSTACK slots it was given */
  if (n > LUA_MINSTACK / 2 && !lua_checkstack(co, n))
    luaL_error(L, "stack overflow");
  for (k = 0; k < n; k++) lua_pushvalue(L, first + k);
  lua_xmove(L, co, n);
  q->e[i].serial = RESERVED;
  q->reserved++;
  rec.co = co;
  rec.q = q;
  rec.slot = i;
  rec.outer = emitting;
  emitting = &rec;
  k = resume(L, co, n);
  emitting = rec.outer;  /* an emit may run inside another's resume */
  if (k) {
    q->claimed = 0;  /* no emit goes on: never leave waiters claimed */
    q->reserved--;
    q->e[rec.slot].serial = serial;
    lua_error(L);
  }
  return rec.slot;
}

/* Finds the first live waiter of 'q', sets '*co' and returns its entry,
   dropping the stale entries on the way (which needs the queue on the
   stack: pushed at need, 'pushed' says). Returns -1 if there is none
   among the entries with serials above 'floor' and up to 'newest'. */
static inline int nextwaiter (lua_State *L, Queue *q, int v,
                              uintptr_t newest, uintptr_t floor,
                              lua_State **pco, int *pushed) {
  int i;
  for (i = q->head; i < q->tail; i++) {
    uintptr_t serial = q->e[i].serial;
    lua_State *co;
    if (serial <= floor || serial == RESERVED) continue;  /* a hole, an
                                     outer emitall's or one being resumed */
    if (serial > newest) break;  /* FIFO: the rest came after the emit */
    co = q->e[i].co;
    if (!islive(co, serial)) {
      if (!*pushed) *pushed = getqueue(L, CU_WAITERS_UP, v) != NULL;
      removeentry(L, q, lua_gettop(L), i);
      continue;
    }
    *pco = co;
    return i;
  }
  return -1;
}

/* The queue of the value at 'v', or NULL. A table's is anchored by the
   table, and the last one found (cu_Events.lastq, cleared by its
   finalizer) saves the look-up in the ephemeron: nothing pushed. Another
   value's is pushed, and '*pushed' set: it may leave the ephemeron while
   an emit runs (dropempty). The cache is sound: the queue is alive and
   keeps its table alive, so no other table can have that address (a
   light userdata can: hence the type check). */
static Queue *emitqueue (lua_State *L, cu_Events *st, int v, int *pushed) {
  Queue *q = st->lastq;
  if (q != NULL && q->key == lua_topointer(L, v) &&
      lua_type(L, v) == LUA_TTABLE)
    return q;
  q = getqueue(L, CU_WAITERS_UP, v);
  if (q == NULL) return NULL;
  if (q->key != NULL) {
    if (!q->dead) st->lastq = q;
    lua_pop(L, 1);
  }
  else *pushed = 1;
  return q;
}

/* The emit of cu_event_emit; 'base' is the stack top. An emitall
   delivers to the waiters there were when it began, and to no one else:
   it claims them (q->claimed), so that an emit on the same value from a
   coroutine it resumed finds none of them, and they all get the first
   emission's values (the original library's order). */
static int emit (lua_State *L, int base, int first, int n, int all) {
  cu_Events *st = (cu_Events *)lua_touserdata(L, CU_EVENTS_UP);
  uintptr_t newest = 0, floor = 0;
  int count = 0;
  Queue *q;
  if (n > LUA_MINSTACK / 2) cu_checkstack(L, n + 4);
  for (;;) {
    /* each round fetches the queue again: a waiter may have dropped it */
    int pushed = 0, i;
    lua_State *co;
    if ((q = emitqueue(L, st, first, &pushed)) == NULL) break;
    if (newest == 0) {
      newest = st->serial;  /* later ones came after us */
      floor = q->claimed;  /* older ones are an outer emitall's */
    }
    if (all) q->claimed = newest;
    i = nextwaiter(L, q, first, newest, floor, &co, &pushed);
    if (i < 0) {
      if (all) q->claimed = floor;
      dropempty(L, q, CU_WAITERS_UP, first);  /* stale entries went */
      if (pushed) lua_settop(L, base);
      break;
    }
    i = resumewaiter(L, q, i, co, first, n);
    count++;
    if (q->e[i].serial == RESERVED) {  /* it did not await here again */
      q->reserved--;
      if (!pushed) pushed = getqueue(L, CU_WAITERS_UP, first) != NULL;
      removeentry(L, q, lua_gettop(L), i);
      dropempty(L, q, CU_WAITERS_UP, first);
    }
    if (pushed) lua_settop(L, base);  /* a hand-off pushes nothing */
    if (!all) break;
  }
  return count;
}

int cu_event_emit (lua_State *L, int first, int n, int all) {
  return emit(L, lua_gettop(L), first, n, all);
}

/* Is some coroutine waiting on the value at 'v'? */
static int haswaiter (lua_State *L, int v) {
  int i, found = 0;
  Queue *q = getqueue(L, CU_WAITERS_UP, v);
  if (q == NULL) return 0;
  for (i = q->head; i < q->tail && !found; i++)  /* an emitall's claimed */
    found = q->e[i].serial > q->claimed &&      /* ones are gone */
            q->e[i].serial != RESERVED && keep(q, i);
  lua_pop(L, 1);
  return found;
}

/* --- coutil.event --- */



/* Continuation of await/awaitany: returns what the resumer passed (the
   emitter passes the value and its arguments). */
static int awaitany_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  cu_event_unregister(L, 1, (int)ctx - 1, (int)ctx);
  return lua_gettop(L) - (int)ctx;
}

/* The same for a single value; frame: the value, serial; 'ctx' is the
   per-state record (saves an upvalue access). An emit already took our
   entry. */
static int awaitone_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  if (!cu_event_byemit(L)) cu_event_unregister(L, 1, 1, 2);
  return lua_gettop(L) - 2;
}

/* Waits on every value at 1..last; the frame is the arguments and then
   the serial, so the continuation knows its size. */
static int waitany (lua_State *L, int last) {
  cu_event_register(L, 1, last);
  return lua_yieldk(L, 0, (lua_KContext)lua_gettop(L), awaitany_k);
}

/* Raises "value expected" when no value among 1..top is non-nil. */
static void checkany (lua_State *L) {
  int i, top = lua_gettop(L);
  for (i = 1; i <= top; i++) {
    if (!lua_isnil(L, i)) {
      cu_event_checkvalue(L, i);
      return;
    }
  }
  luaL_argexpected(L, 0, 1, "value");
}

/* Checks every non-nil value at 1..top; turns repeats into nil. Returns
   how many distinct values are left. */
static int distinct (lua_State *L) {
  int i, j, n = 0, top = lua_gettop(L);
  for (i = 1; i <= top; i++) {
    if (lua_isnil(L, i)) continue;
    cu_event_checkvalue(L, i);
    for (j = 1; j < i; j++) {
      if (lua_rawequal(L, i, j)) {
        lua_pushnil(L);
        lua_replace(L, i);
        break;
      }
    }
    if (j == i) n++;
  }
  return n;
}

/* Waits on the value at 1 alone: the hot path of a hand-off, where the
   waiter awaits again the table an emit resumed it from, in the entry it
   was resumed from (see Emit). */
static inline CU_ALWAYS_INLINE int waitone (lua_State *L, int type) {
  Emit *em = emitting;
  Queue *q;
  uintptr_t serial;
  if (lua_gettop(L) != 1) lua_settop(L, 1);
  if (em != NULL && em->co == L && type == LUA_TTABLE &&
      em->slot == (q = em->q)->tail - 1 &&
      q->e[em->slot].serial == RESERVED &&
      lua_topointer(L, 1) == q->key) {  /* a hand-off */
    q->e[em->slot].serial = serial = ++q->st->serial;
    q->reserved--;
  }
  else {
    cu_Events *st = (cu_Events *)lua_touserdata(L, CU_EVENTS_UP);
    q = tailqueue(L, CU_WAITERS_UP, 1);
    serial = ++st->serial;
    lua_pushthread(L);
    commit(L, q, serial, L);
  }
  lua_pushlightuserdata(L, (void *)serial);
  return lua_yieldk(L, 0, 0, awaitone_k);
}

/* e, ... = event.await(e) */
static int event_await (lua_State *L) {
  int type = lua_type(L, 1);
  cu_checkyield(L);
  if (type != LUA_TTABLE) type = cu_event_checkvalue(L, 1);  /* the rest */
  return waitone(L, type);
}

/* e, ... = event.awaitany(e1, ...) */
static int event_awaitany (lua_State *L) {
  cu_checkyield(L);
  checkany(L);
  return waitany(L, lua_gettop(L));
}

/* Continuation of awaitall: an emit crosses its value off (the emitter
   dropped our entry for it); done when none is left. */
static int awaitall_k (lua_State *L, int status, lua_KContext ctx) {
  int i, nframe = (int)ctx, left = 0;
  (void)status;
  if (!cu_event_byemit(L)) {
    cu_event_unregister(L, 1, nframe - 1, nframe);
    return lua_gettop(L) - nframe;
  }
  for (i = 1; i < nframe; i++) {
    if (!lua_isnil(L, i) && lua_rawequal(L, i, nframe + 1)) {
      lua_pushnil(L);
      lua_replace(L, i);
    }
    else if (!lua_isnil(L, i)) left++;
  }
  lua_settop(L, nframe);
  if (left == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return lua_yieldk(L, 0, ctx, awaitall_k);
}

/* Waits for all distinct non-nil values at 1..top (at least one). */
static int waitall (lua_State *L) {
  cu_event_register(L, 1, lua_gettop(L));
  return lua_yieldk(L, 0, (lua_KContext)lua_gettop(L), awaitall_k);
}

/* true = event.awaitall([e1, ...]) */
static int event_awaitall (lua_State *L) {
  cu_checkyield(L);
  if (distinct(L) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return waitall(L);
}

/* Emits with the arguments 1..top; returns how many were resumed. */
static int emitargs (lua_State *L, int all) {
  int top = lua_gettop(L);
  if (top == 0) lua_settop(L, top = 1);  /* emitall(): the event is nil */
  return emit(L, top, 1, top, all);
}

/* b = event.emitall(e, ...) */
static int event_emitall (lua_State *L) {
  lua_pushboolean(L, emitargs(L, 1) > 0);
  return 1;
}

/* b = event.emitone(e, ...) */
static int event_emitone (lua_State *L) {
  lua_pushboolean(L, emitargs(L, 0) > 0);
  return 1;
}

/* b = event.pending(e) */
static int event_pending (lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, haswaiter(L, 1));
  return 1;
}

void cu_open_event (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"await", event_await},
    {"awaitall", event_awaitall},
    {"awaitany", event_awaitany},
    {"emitall", event_emitall},
    {"emitone", event_emitone},
    {"pending", event_pending},
    {NULL, NULL}
  };
  cu_event_pushstate(L);
  luaL_setfuncs(L, funcs, 2);
}

/* --- coutil.queued --- */

/* Upvalue #3: ephemeron value -> Queue of stored events, each a table
   {n, arg1, ..., argn} anchored by the queue (serial STORED). */
#define STORED_UP lua_upvalueindex(3)

static int hasstored (lua_State *L, int v) {
  Queue *q = getqueue(L, STORED_UP, v);
  if (q == NULL) return 0;
  lua_pop(L, 1);
  return q->head < q->tail;
}

/* Stores an event with the arguments 2..top on the value at 1. */
static void store (lua_State *L) {
  int i, n = lua_gettop(L) - 1;
  Queue *q = tailqueue(L, STORED_UP, 1);
  lua_createtable(L, n + 1, 0);
  lua_pushinteger(L, n);
  lua_rawseti(L, -2, 1);
  for (i = 1; i <= n; i++) {
    lua_pushvalue(L, i + 1);
    lua_rawseti(L, -2, i + 1);
  }
  commit(L, q, STORED, NULL);
}

/* Takes the oldest stored event on the value at 'v': pushes the value and
   the event's arguments and returns their count; 0 if there is none. */
static int consume (lua_State *L, int v) {
  int i, n;
  Queue *q = getqueue(L, STORED_UP, v);
  if (q == NULL) return 0;
  if (q->head == q->tail) {
    lua_pop(L, 1);
    return 0;
  }
  lua_getiuservalue(L, -1, ANCHORS);
  lua_rawgeti(L, -1, q->head + 1);  /* the stored event */
  lua_remove(L, -2);
  removeentry(L, q, lua_gettop(L) - 1, q->head);
  dropempty(L, q, STORED_UP, v);
  lua_remove(L, -2);
  lua_rawgeti(L, -1, 1);
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  cu_checkstack(L, n + 1);
  lua_pushvalue(L, v);
  for (i = 1; i <= n; i++) lua_rawgeti(L, -1 - i, i + 1);
  lua_remove(L, -2 - n);
  return n + 1;
}

/* e, ... = queued.await(e) */
static int queued_await (lua_State *L) {
  int n;
  cu_event_checkvalue(L, 1);
  lua_settop(L, 1);
  if ((n = consume(L, 1)) > 0) return n;
  cu_checkyield(L);
  return waitone(L, lua_type(L, 1));
}

/* e, ... = queued.awaitany(e1, ...) */
static int queued_awaitany (lua_State *L) {
  int i, n, top = lua_gettop(L);
  checkany(L);
  for (i = 1; i <= top; i++) {
    if (!lua_isnil(L, i)) {
      cu_event_checkvalue(L, i);
      if ((n = consume(L, i)) > 0) return n;
    }
  }
  cu_checkyield(L);
  return waitany(L, top);
}

/* true = queued.awaitall([e1, ...]) */
static int queued_awaitall (lua_State *L) {
  int i, left = distinct(L), top = lua_gettop(L);
  for (i = 1; i <= top; i++)  /* raise before consuming anything */
    if (!lua_isnil(L, i) && !hasstored(L, i)) cu_checkyield(L);
  for (i = 1; i <= top; i++) {
    if (!lua_isnil(L, i) && hasstored(L, i)) {
      consume(L, i);
      lua_settop(L, top);
      lua_pushnil(L);
      lua_replace(L, i);
      left--;
    }
  }
  if (left == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return waitall(L);
}

/* b = queued.emitall(e, ...) */
static int queued_emitall (lua_State *L) {
  int resumed = emitargs(L, 1);
  if (!resumed && cu_event_iskey(L, 1)) store(L);
  lua_pushboolean(L, resumed > 0);
  return 1;
}

/* b = queued.emitone(e, ...) */
static int queued_emitone (lua_State *L) {
  int resumed = emitargs(L, 0);
  if (!resumed && cu_event_iskey(L, 1)) store(L);
  lua_pushboolean(L, resumed > 0);
  return 1;
}

/* b = queued.isqueued(e) */
static int queued_isqueued (lua_State *L) {
  lua_settop(L, 1);
  lua_pushboolean(L, hasstored(L, 1));
  return 1;
}

void cu_open_queued (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"await", queued_await},
    {"awaitall", queued_awaitall},
    {"awaitany", queued_awaitany},
    {"emitall", queued_emitall},
    {"emitone", queued_emitone},
    {"isqueued", queued_isqueued},
    {"pending", event_pending},
    {NULL, NULL}
  };
  cu_event_pushstate(L);
  cu_event_pushweak(L, &stored_key);
  luaL_setfuncs(L, funcs, 3);
  lua_getfield(L, -1, "isqueued");
  lua_setfield(L, -2, "queued");  /* the original library's name */
}
