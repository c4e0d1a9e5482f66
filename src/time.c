/*
** time.c: system.nanosecs, system.time and system.suspend (manual, "Time
** Measure"). suspend(0) does not use a libuv timer: its callers join the
** loop's ready list, woken newest first by an idle handle once per loop
** iteration.
*/
#include <math.h>
#include <stdlib.h>
#include "areas.h"
#include "await.h"
#include "time.h"

/* system.nanosecs() */
static int system_nanosecs (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)uv_hrtime());
  return 1;
}

/* system.time([mode]) */
static int system_time (lua_State *L) {
  static const char *const modes[] = {"cached", "updated", "epoch", NULL};
  uv_loop_t *uv = cu_loop(L);
  int mode = luaL_checkoption(L, 1, "cached", modes);
  if (mode < 2 && cu_loopof(L)->closing) return luaL_error(L, "closed");
  switch (mode) {
    case 1: uv_update_time(uv);  /* FALLTHROUGH */
    case 0: lua_pushnumber(L, (lua_Number)uv_now(uv) / 1000.0); break;
    default: {
      uv_timeval64_t tv;
      int err = uv_gettimeofday(&tv);
      if (err < 0) return cu_pushfail(L, err);
      lua_pushnumber(L, (lua_Number)tv.tv_sec + tv.tv_usec / 1e6);
    }
  }
  return 1;
}

/* --- suspend(0): the ready list ------------------------------------------ */

/* Callers of suspend(0) wait in loop->readyhead, newest first: they wake
   last-in first-out, as the original library's idle handles do (libuv
   runs the newest idle handle first). Each loop iteration moves that list
   to loop->drainhead and wakes it; callers that suspend(0) again while
   it drains join the new readyhead, for the next iteration, so a busy
   coroutine cannot starve I/O. A record's batch number tells the list it
   is in.
   One exception, also the original's behaviour: a coroutine resumed early
   from suspend(0) that calls it again before the current iteration ends
   (the original's handle is still closing then) waits in loop->latehead,
   which joins readyhead only at the end of that iteration (lateend, a
   check handle): it wakes one iteration later than the others, after the
   I/O of the current one. */

#define LATEGEN 0xffffffffu  /* the batch number of loop->latehead */

static void unlinkready (cu_Loop *loop, cu_Await *op) {
  cu_Await **head, **tail;
  if (op->gen == LATEGEN) {
    head = &loop->latehead;
    tail = &loop->latetail;
  }
  else if (op->gen == loop->readygen) {
    head = &loop->readyhead;
    tail = &loop->readytail;
  }
  else {
    head = &loop->drainhead;
    tail = NULL;  /* the drain list is only taken from its head */
  }
  if (op->prev) op->prev->next = op->next;
  else *head = op->next;
  if (op->next) op->next->prev = op->prev;
  else if (tail) *tail = op->prev;
  op->next = op->prev = NULL;
}

static int idleneeded (cu_Loop *loop) {
  return loop->readyhead || loop->drainhead || loop->latehead;
}

static void on_idle (uv_idle_t *idle) {
  cu_Loop *loop = cu_container_of(idle, cu_Loop, idle);
  cu_Await *op;
  loop->drainhead = loop->readyhead;
  loop->readyhead = loop->readytail = NULL;
  if (++loop->readygen == LATEGEN) loop->readygen = 0;
  while ((op = loop->drainhead) != NULL) {
    lua_State *co;
    unlinkready(loop, op);
    co = cu_await_waiter(op);
    if (co) lua_pushboolean(co, 1);
    cu_await_finish(op, co, co != NULL);
  }
  /* kept while late records wait: the poll must not block for them */
  if (!idleneeded(loop)) uv_idle_stop(idle);
}

static void pushready (cu_Loop *loop, cu_Await *op) {
  op->gen = loop->readygen;
  op->prev = NULL;
  op->next = loop->readyhead;
  if (loop->readyhead) loop->readyhead->prev = op;
  else loop->readytail = op;
  loop->readyhead = op;
}

static void appendlate (cu_Loop *loop, cu_Await *op) {
  op->gen = LATEGEN;
  op->next = NULL;
  op->prev = loop->latetail;
  if (loop->latetail) loop->latetail->next = op;
  else loop->latehead = op;
  loop->latetail = op;
}

/* The iteration ends: late records join the ready list in the order the
   original's handles would have finished closing. */
static void on_lateend (uv_check_t *check) {
  cu_Loop *loop = cu_container_of(check, cu_Loop, lateend);
  cu_Await *op;
  loop->earlywoken = NULL;
  while ((op = loop->latehead) != NULL) {
    unlinkready(loop, op);
    pushready(loop, op);
  }
  uv_check_stop(check);
}

static int cancelready (cu_Await *op) {
  cu_Loop *loop = op->loop;
  unlinkready(loop, op);
  loop->earlywoken = (lua_State *)op->data;  /* only compared, never used */
  uv_check_start(&loop->lateend, on_lateend);
  if (!idleneeded(loop)) uv_idle_stop(&loop->idle);
  return 1;  /* libuv never saw it */
}

int cu_time_yieldready (lua_State *L) {
  return cu_time_yieldreadyk(L, NULL, 0);
}

int cu_time_yieldreadyk (lua_State *L, lua_KFunction k, lua_KContext ctx) {
  cu_Await *op = cu_await_beginbare(L);
  cu_Loop *loop = op->loop;
  op->cancel = cancelready;
  op->unguarded = 1;  /* the next loop iteration ends the wait anyway */
  op->data = L;
  if (!idleneeded(loop)) uv_idle_start(&loop->idle, on_idle);
  if (loop->earlywoken == L) {
    loop->earlywoken = NULL;
    appendlate(loop, op);
  }
  else pushready(loop, op);
  if (k) return cu_await_yieldk(L, op, 0, k, ctx);
  return cu_await_yield(L, op, 0);
}

/* --- suspend(seconds): the loop's calendar of sleepers -----------------
** Coroutines in suspend(seconds > 0) wait in buckets, one per deadline
** (a uv_now millisecond): a bucket lists its sleepers in the order they
** started, the order they wake in, as libuv orders its own timers. A
** hash table finds the bucket of a deadline, and a binary heap of the
** buckets the earliest, for which one libuv timer per loop
** (loop->sleeper) is set. Sleepers mostly share deadlines (there is one
** per millisecond), so starting, stopping and waking one costs a bucket
** look-up and a list link: O(1), with no sift over a heap of sleepers
** spread over memory, and no uv_timer_t of its own (152 bytes).
*/
struct cu_Bucket {
  uint64_t due;              /* the deadline of its sleepers */
  cu_Await *head, *tail;     /* its sleepers, oldest first (next, prev) */
  size_t at;                 /* its index in the heap */
  struct cu_Bucket *nextfree;
};

typedef struct cu_Bucket Bucket;

/* the hash table: open addressing, linear probing, at most half full */
static size_t slotof (const cu_Loop *loop, uint64_t due) {
  return (size_t)((due * UINT64_C(0x9e3779b97f4a7c15)) >> 32) &
         (loop->nslots - 1);
}

static Bucket *findbucket (const cu_Loop *loop, uint64_t due) {
  size_t i;
  Bucket *b;
  if (loop->nslots == 0) return NULL;
  for (i = slotof(loop, due); (b = loop->slots[i]) != NULL;
       i = (i + 1) & (loop->nslots - 1))
    if (b->due == due) return b;
  return NULL;
}

static void putslot (cu_Loop *loop, Bucket *b) {
  size_t i = slotof(loop, b->due);
  while (loop->slots[i] != NULL) i = (i + 1) & (loop->nslots - 1);
  loop->slots[i] = b;
}

static int growslots (cu_Loop *loop) {
  size_t i, oldn = loop->nslots, n = oldn ? 2 * oldn : 64;
  Bucket **old = loop->slots, **slots = calloc(n, sizeof(Bucket *));
  if (slots == NULL) return UV_ENOMEM;
  loop->slots = slots;
  loop->nslots = n;
  for (i = 0; i < oldn; i++)
    if (old[i] != NULL) putslot(loop, old[i]);
  free(old);
  return 0;
}

/* Deletion that keeps every probe sequence whole: the entries after the
   gap that would no longer be found move back into it. */
static void dropslot (cu_Loop *loop, const Bucket *b) {
  size_t mask = loop->nslots - 1, i = slotof(loop, b->due), j;
  while (loop->slots[i] != b) i = (i + 1) & mask;
  loop->slots[i] = NULL;
  for (j = (i + 1) & mask; loop->slots[j] != NULL; j = (j + 1) & mask) {
    size_t home = slotof(loop, loop->slots[j]->due);
    /* it stays unless the gap lies between its home and it */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      loop->slots[i] = loop->slots[j];
      loop->slots[j] = NULL;
      i = j;
    }
  }
}

/* the heap of buckets, earliest deadline first */
static void place (cu_Loop *loop, Bucket *b, size_t i) {
  loop->heap[i] = b;
  b->at = i;
}

static void siftup (cu_Loop *loop, size_t i) {
  Bucket *b = loop->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (loop->heap[parent]->due <= b->due) break;
    place(loop, loop->heap[parent], i);
    i = parent;
  }
  place(loop, b, i);
}

static void siftdown (cu_Loop *loop, size_t i) {
  Bucket *b = loop->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= loop->nheap) break;
    if (c + 1 < loop->nheap && loop->heap[c + 1]->due < loop->heap[c]->due)
      c++;
    if (b->due <= loop->heap[c]->due) break;
    place(loop, loop->heap[c], i);
    i = c;
  }
  place(loop, b, i);
}

static void on_sleeper (uv_timer_t *timer);

/* The sleeper set for the earliest deadline, or stopped when none waits
   (so that system.run can return). */
static void arm (cu_Loop *loop) {
  if (loop->nheap == 0) uv_timer_stop(&loop->sleeper);
  else {
    uint64_t now = uv_now(&loop->uv), due = loop->heap[0]->due;
    uv_timer_start(&loop->sleeper, on_sleeper, due > now ? due - now : 0, 0);
  }
}

/* The bucket of 'due', made when there is none: NULL when out of memory. */
static Bucket *bucketof (cu_Loop *loop, uint64_t due) {
  Bucket *b = findbucket(loop, due);
  if (b != NULL) return b;
  if (2 * (loop->nheap + 1) > loop->nslots && growslots(loop) < 0)
    return NULL;
  if (loop->nheap == loop->capheap) {
    size_t cap = loop->capheap ? 2 * loop->capheap : 64;
    Bucket **heap = realloc(loop->heap, cap * sizeof(Bucket *));
    if (heap == NULL) return NULL;
    loop->heap = heap;
    loop->capheap = cap;
  }
  if ((b = loop->freebuckets) != NULL) loop->freebuckets = b->nextfree;
  else if ((b = malloc(sizeof(Bucket))) == NULL) return NULL;
  b->due = due;
  b->head = b->tail = NULL;
  putslot(loop, b);
  place(loop, b, loop->nheap++);
  siftup(loop, loop->nheap - 1);
  if (loop->heap[0] == b) arm(loop);
  return b;
}

/* An empty bucket goes; the sleeper stays set for a deadline that may be
   gone: it then finds nothing due and sets itself again. */
static void dropbucket (cu_Loop *loop, Bucket *b) {
  size_t i = b->at;
  Bucket *last = loop->heap[--loop->nheap];
  dropslot(loop, b);
  if (i < loop->nheap) {
    place(loop, last, i);
    siftdown(loop, i);
    siftup(loop, last->at);
  }
  b->nextfree = loop->freebuckets;
  loop->freebuckets = b;
  if (loop->nheap == 0) uv_timer_stop(&loop->sleeper);
}

static int addsleeper (cu_Loop *loop, cu_Await *op, uint64_t due) {
  Bucket *b = bucketof(loop, due);
  if (b == NULL) return UV_ENOMEM;
  op->sleep.bucket = b;
  op->next = NULL;
  op->prev = b->tail;
  if (b->tail) b->tail->next = op;
  else b->head = op;
  b->tail = op;
  return 0;
}

static void takesleeper (cu_Loop *loop, cu_Await *op) {
  Bucket *b = op->sleep.bucket;
  if (op->prev) op->prev->next = op->next;
  else b->head = op->next;
  if (op->next) op->next->prev = op->prev;
  else b->tail = op->prev;
  op->next = op->prev = NULL;
  if (b->head == NULL) dropbucket(loop, b);
}

/* Wakes every sleeper due by the loop's time, earliest first; those they
   start meanwhile are due later (one millisecond at least). Each round
   looks again: a woken coroutine may stop other sleepers. */
static void on_sleeper (uv_timer_t *timer) {
  cu_Loop *loop = cu_container_of(timer, cu_Loop, sleeper);
  uint64_t now = uv_now(&loop->uv);
  while (loop->nheap > 0 && loop->heap[0]->due <= now) {
    cu_Await *op = loop->heap[0]->head;
    lua_State *co;
    takesleeper(loop, op);
    co = cu_await_waiter(op);
    if (co) lua_pushboolean(co, 1);
    cu_await_finish(op, co, co != NULL);
  }
  arm(loop);
}

static int canceltimer (cu_Await *op) {
  takesleeper(op->loop, op);
  return 1;  /* it will not be woken */
}

void cu_time_teardown (cu_Loop *loop) {
  Bucket *b;
  while (loop->nheap > 0) free(loop->heap[--loop->nheap]);
  while ((b = loop->freebuckets) != NULL) {
    loop->freebuckets = b->nextfree;
    free(b);
  }
  free(loop->heap);
  free(loop->slots);
  loop->heap = NULL;
  loop->slots = NULL;
  loop->capheap = loop->nslots = 0;
}

/* Milliseconds in 'seconds' at 'arg'; nil or negative is zero. Rounds up
   (see system_suspend for the rest of "never less than asked"). */
static uint64_t checkmillisecs (lua_State *L, int arg) {
  lua_Number s = luaL_optnumber(L, arg, 0);
  lua_Number ms;
  if (s <= 0) return 0;
  ms = ceil(s * 1000);
  luaL_argcheck(L, ms < 18446744073709551616.0, arg, "out of range");
  return (uint64_t)ms;
}

static void sleepnow (uint64_t ms) {
  while (ms > 0) {
    unsigned int chunk = ms > 0x7fffffffu ? 0x7fffffffu : (unsigned int)ms;
    uv_sleep(chunk);
    ms -= chunk;
  }
}

/* system.suspend([seconds [, mode]]) */
static int system_suspend (lua_State *L) {
  uint64_t ms = checkmillisecs(L, 1);
  const char *mode = cu_checkmode(L, 2, "~");
  cu_Await *op;
  uint64_t now;
  int err;
  if (cu_blocking(mode)) {
    sleepnow(ms);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (ms == 0) return cu_time_yieldready(L);
  op = cu_await_begintimer(L);
  op->cancel = canceltimer;
  /* The cached time is the real time at its update rounded down to the
     millisecond: a sleeper due at now + ms could wake up to 1 ms short of
     'ms' after that update (when the loop's next update is the first
     past the millisecond boundary), so one more. The suite measures it. */
  now = uv_now(&op->loop->uv);
  err = addsleeper(op->loop, op,
                   ms >= UINT64_MAX - now ? UINT64_MAX : now + ms + 1);
  if (err < 0) return cu_await_fail(L, op, err);
  return cu_await_yield(L, op, 0);
}

void cu_open_time (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"nanosecs", system_nanosecs},
    {"time", system_time},
    {"suspend", system_suspend},
    {NULL, NULL}
  };
  cu_loop_setfuncs(L, funcs);
}
