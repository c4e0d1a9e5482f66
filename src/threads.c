/*
** threads.c: coutil.threads, thread pools (manual, "Thread Pools"). A pool
** is C memory shared by its worker threads and the Lua objects that refer
** to it; its mutex guards the queue and the counters. A task is an
** independent state whose chunk runs in a coroutine: exactly one thread
** (a worker, or the pool's closer once no worker is left) touches it. The
** caller of dostring only compiles the chunk, in a state of its own, and
** queues the bytecode: the worker makes the task's state and loads it.
** A pool is freed only by its creator's state, by threads.close or, at
** lua_close, by the finalizer of that state's list of unclosed pools.
*/
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "areas.h"
#include "channel.h"
#include "state.h"
#include "threads.h"

#define CLASS "coutil.threads"

static const char TASKKEY = 'T';     /* registry: the task of a state */
static const char UNCLOSEDKEY = 'U'; /* registry: unclosed pools */

/* Idle workers build up to NSPARE fresh independent states ahead of time
   for the tasks to come. */
#define NSPARE 8

/* A pool keeps up to NFREE blocks of ended tasks for the next ones: made
   by the caller's thread and freed by a worker, each took glibc's lock of
   the caller's heap, against the caller's next malloc. None under
   AddressSanitizer, which then sees each task as a block of its own. */
#ifdef CU_ASAN
#define NFREE 0
#else
#define NFREE 32
#endif

typedef struct Pool Pool;
typedef struct Task Task;

/* A compiled chunk (lua_dump, not stripped), immutable once made: shared
   by the compiler's cache of the calling state and the tasks queued with
   it, whichever thread drops the last reference frees it. */
typedef struct Code {
  atomic_int refs;
  size_t len, size;     /* bytes used, bytes allocated */
  char bytes[];
} Code;

typedef struct Worker {
  uv_thread_t tid;
  Pool *pool;
  struct Worker *next;
} Worker;

struct Task {
  Pool *pool;
  lua_State *L;         /* the task's independent state */
  lua_State *co;        /* the coroutine running its chunk */
  Task *next;           /* queue of pending tasks */
  Task *allnext, *allprev;  /* every task of the pool */
  int nargs;            /* values on 'co' for its next resume */
  Code *code;           /* until the worker loaded it: */
  cu_Preloads *preloads;  /* the caller's, for the new state */
  cu_Values args;       /* the first arguments */
  int deliver;          /* push true + waiter.got before resuming */
  void *parkedon;       /* loop sync record while parked in system.run */
  cu_Waiter waiter;     /* "yield name, endpoint, ..." */
};

struct Pool {
  uv_mutex_t mutex;
  uv_cond_t work;       /* workers wait here for tasks */
  uv_cond_t changed;    /* close waits here for tasks or threads to end */
  Task *head, *tail;    /* pending tasks, FIFO */
  Task *all;
  Worker *workers, *exited;  /* running threads; threads to join */
  Pool *nextunclosed;   /* the creator state's list */
  struct PoolRef *ownerref;  /* threads.create's object, while alive */
  int ntasks, nrunning, npending, nsuspended;
  int expected, actual;
  int nidle;            /* workers waiting on 'work' (to signal) */
  cu_StateOrigin origin;  /* of the creator: for the tasks' states */
  cu_Regions regions;   /* blocks of closed states for new ones */
  int nspare;
  lua_State *spare[NSPARE];  /* fresh states made by idle workers */
  int nfree;
  Task *free;           /* blocks of ended tasks, linked by 'next' */
};

/* The userdata (full or light) in L's registry at 'key'; NULL if none. */
static void *registryptr (lua_State *L, const void *key) {
  void *p;
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  p = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return p;
}

/* A pool object. The owner's (threads.create(size)) points at its pool,
   and the pool back at it, so that a pool shut at lua_close (the unclosed
   list's finalizer) closes the object too: a finalizer that runs later
   finds it closed. A task's own (threads.create()) finds its pool through
   the task each time: an orphan task's pool is gone (keeporphans). */
typedef struct PoolRef {
  Pool *pool;           /* the owner's; NULL once closed */
  int owner;            /* made by threads.create(size) in this state */
  int closed;           /* a task's own, closed */
} PoolRef;

/* --- workers ---------------------------------------------------------- */

static void workermain (void *arg);

/* Starts one more worker; returns a libuv error code. */
static int spawn_poollocked (Pool *pool) {
  Worker *wk = (Worker *)malloc(sizeof(Worker));
  int err;
  if (wk == NULL) return UV_ENOMEM;
  wk->pool = pool;
  err = uv_thread_create(&wk->tid, workermain, wk);
  if (err < 0) {
    free(wk);
    return err;
  }
  wk->next = pool->workers;
  pool->workers = wk;
  pool->actual++;
  return 0;
}

/* Pending tasks no free thread will take: threads that run no task
   (waiting, or making spare states) take the others. */
static int unserved_poollocked (Pool *pool) {
  return pool->npending - (pool->actual - pool->nrunning);
}

/* A task became pending: wake an idle worker or, if none is free and the
   pool may grow, start one (threads are created on demand). */
static void push_poollocked (Pool *pool, Task *t) {
  t->next = NULL;
  if (pool->tail) pool->tail->next = t;
  else pool->head = t;
  pool->tail = t;
  pool->npending++;
  if (unserved_poollocked(pool) > 0 && pool->actual < pool->expected)
    spawn_poollocked(pool);  /* on failure the existing threads carry on */
  if (pool->nidle > 0) uv_cond_signal(&pool->work);
}

void cu_threads_wake_chanlocked (void *task) {
  Task *t = (Task *)task;
  Pool *pool = t->pool;
  t->parkedon = NULL;
  uv_mutex_lock(&pool->mutex);
  pool->nsuspended--;
  push_poollocked(pool, t);
  uv_mutex_unlock(&pool->mutex);
}

/* cu_Wake of a task suspended by "yield name, endpoint, ...". */
static void waketask (cu_Waiter *w) {
  cu_threads_wake_chanlocked(cu_container_of(w, Task, waiter));
}

/* Channel lock held: the running task 't' stops running and waits. */
static void suspend_chanlocked (Task *t) {
  Pool *pool = t->pool;
  uv_mutex_lock(&pool->mutex);
  pool->nrunning--;
  pool->nsuspended++;
  uv_mutex_unlock(&pool->mutex);
}

enum { FINISHED, RESCHEDULE, SUSPENDED };

#define WARNPREFIX "[coutil] threads: "  /* the original's */

/* The message on top of 'co' replaces the 'nres' yielded values with
   false and that message: what the yield returns on misuse. */
static int failyield (Task *t, int nres) {
  lua_State *co = t->co;
  int base = lua_gettop(co) - nres - 1;
  lua_pushboolean(co, 0);
  lua_insert(co, -2);
  lua_rotate(co, base + 1, 2);
  lua_settop(co, base + 2);
  return 2;
}

/* The chunk yielded a channel name: the same as system.awaitch on it.
   Returns SUSPENDED, or RESCHEDULE with t->nargs or t->deliver set. */
static int awaitchannel (Task *t, int nres) {
  lua_State *co = t->co;
  int base = lua_gettop(co) - nres;
  size_t len;
  const char *name = lua_tolstring(co, base + 1, &len);
  int bad, res;
  t->waiter.endpoint = CU_EP_ANY;
  if (nres >= 2 && !lua_isnil(co, base + 2)) {
    const char *ep = lua_tostring(co, base + 2);
    if (lua_type(co, base + 2) != LUA_TSTRING ||
        (t->waiter.endpoint = cu_chan_endpoint(ep)) < 0) {
      lua_pushfstring(co, CU_BADENDPOINT, 2,
                      ep ? ep : luaL_typename(co, base + 2));
      t->nargs = failyield(t, nres);
      return RESCHEDULE;
    }
  }
  bad = cu_values_save(&t->waiter.sent, co, base + 3, lua_gettop(co));
  if (bad != 0) {
    if (bad > 0)
      cu_values_pusherror(co, "argument", bad - base,
                           luaL_typename(co, bad));
    else lua_pushliteral(co, "not enough memory");
    t->nargs = failyield(t, nres);
    return RESCHEDULE;
  }
  cu_chan_lock();
  res = cu_chan_await_chanlocked(&t->waiter, name, len);
  lua_settop(co, base);  /* before anyone else may resume it */
  if (res == 0) {
    t->deliver = 1;
    suspend_chanlocked(t);
    cu_chan_unlock();
    return SUSPENDED;
  }
  cu_chan_unlock();
  if (res > 0) t->deliver = 1;
  else {
    lua_pushliteral(co, "not enough memory");
    t->nargs = failyield(t, 0);
  }
  return RESCHEDULE;
}

/* Runs 't' until it ends, yields or waits. Outside the pool's lock. */
static int runtask (Task *t) {
  lua_State *co = t->co;
  for (;;) {
    int nres, status;
    if (t->deliver) {  /* a channel matched: awaitch's results */
      t->deliver = 0;
      if (lua_checkstack(co, t->waiter.got.n + 1)) {
        lua_pushboolean(co, 1);
        t->nargs = 1 + cu_values_push(&t->waiter.got, co);
      }
      else {
        lua_pushliteral(co, "stack overflow");
        t->nargs = failyield(t, 0);
      }
      cu_values_free(&t->waiter.got);
    }
    status = lua_resume(co, NULL, t->nargs, &nres);
    t->nargs = 0;
    if (status == LUA_OK) return FINISHED;
    if (status != LUA_YIELD) {  /* the manual: errors become warnings */
      cu_warnerrorwith(co, co, WARNPREFIX);
      return FINISHED;
    }
    if (nres == 2 && lua_touserdata(co, -2) == CU_PARKMARK) {
      void *sync = lua_touserdata(co, -1);
      int parked;
      lua_pop(co, 2);
      cu_chan_lock();
      parked = cu_chan_parktask_chanlocked(sync, t);
      if (parked) {
        t->parkedon = sync;
        suspend_chanlocked(t);
      }
      cu_chan_unlock();
      if (parked) return SUSPENDED;
      continue;  /* a match came meanwhile: run its loop again */
    }
    if (nres >= 1 && lua_type(co, -nres) == LUA_TSTRING) {
      int res = awaitchannel(t, nres);
      if (res == SUSPENDED) return res;
      if (t->deliver || t->nargs) continue;  /* matched at once */
      return res;
    }
    lua_pop(co, nres);  /* a plain yield: back to the queue */
    return RESCHEDULE;
  }
}

static void releasecode (Code *code) {
  if (code != NULL && atomic_fetch_sub(&code->refs, 1) == 1) free(code);
}

/* Drops what only the making of the task's state needs. */
static void dropsetup (Task *t) {
  releasecode(t->code);
  t->code = NULL;
  cu_preloads_free(t->preloads);
  t->preloads = NULL;
  cu_values_free(&t->args);
}

/* Releases all the task holds but its block. */
static void endtask (Task *t) {
  /* lua_close may wait for pools the task itself created */
  if (t->L != NULL) lua_close(t->L);  /* NULL: it never started */
  dropsetup(t);
  cu_values_free(&t->waiter.sent);
  cu_values_free(&t->waiter.got);
}

static void freetask (Task *t) {
  endtask(t);
  free(t);
}

/* Keeps the block of ended task 't' for a next one if there is room;
   else returns it, to be freed outside the lock. */
static Task *keepblock_poollocked (Pool *pool, Task *t) {
  if (pool->nfree >= NFREE) return t;
  t->next = pool->free;
  pool->free = t;
  pool->nfree++;
  return NULL;
}

static void unlinktask_poollocked (Pool *pool, Task *t) {
  if (t->allprev) t->allprev->allnext = t->allnext;
  else pool->all = t->allnext;
  if (t->allnext) t->allnext->allprev = t->allprev;
  /* close waits for no task (or no thread) left: waking it at each end
     made it take the lock once per task, against the workers */
  if (--pool->ntasks == 0) uv_cond_broadcast(&pool->changed);
}

/* Keeps NL, built without the lock, as a spare state if there is room. */
static void keepspare_poollocked (Pool *pool, lua_State *NL) {
  if (pool->nspare < NSPARE) pool->spare[pool->nspare++] = NL;
  else {
    uv_mutex_unlock(&pool->mutex);
    lua_close(NL);
    uv_mutex_lock(&pool->mutex);
  }
}

/* Makes spare states up to 'upto', unless a task comes. Called and
   returns with the lock held; builds each state without it. */
static void makespares_poollocked (Pool *pool, int upto) {
  while (pool->nspare < upto) {
    lua_State *NL;
    uv_mutex_unlock(&pool->mutex);
    NL = cu_state_newbare(&pool->origin);
    uv_mutex_lock(&pool->mutex);
    if (NL == NULL) break;
    keepspare_poollocked(pool, NL);
    if (pool->head) break;  /* tasks first */
  }
}

/* The first pending task, now running, for a worker; NULL when there is
   none or the worker must leave (the pool was resized down). */
static Task *take_poollocked (Pool *pool) {
  Task *t = pool->head;
  if (t == NULL || pool->actual > pool->expected) return NULL;
  pool->head = t->next;
  if (pool->head == NULL) pool->tail = NULL;
  pool->npending--;
  pool->nrunning++;
  return t;
}

/* Counts the end of a run of 't' that returned 'res'. Returns 't' when it
   finished, to be freed outside the lock; else NULL. */
static Task *settle_poollocked (Pool *pool, Task *t, int res) {
  switch (res) {
    case FINISHED:
      pool->nrunning--;
      unlinktask_poollocked(pool, t);
      return t;
    case RESCHEDULE:
      pool->nrunning--;
      push_poollocked(pool, t);
      return NULL;
    default: return NULL;  /* SUSPENDED: counted by suspend_chanlocked */
  }
}

/* Run in NL, protected (the task as a light userdata): the caller's
   preloads and the chunk loaded; the task's thread, anchored in NL's
   registry, with the chunk and the arguments on it; the task in NL's
   registry. */
static int setuptask (lua_State *NL) {
  Task *t = (Task *)lua_touserdata(NL, 1);
  cu_preloads_add(NL, t->preloads);
  /* compiled by dostring from what it was given, so "b" refuses nothing
     that was not refused there */
  if (luaL_loadbufferx(NL, t->code->bytes, t->code->len, "=(task)", "b") !=
      LUA_OK)
    return lua_error(NL);
  t->co = lua_newthread(NL);
  lua_pushlightuserdata(NL, t);
  lua_rawsetp(NL, LUA_REGISTRYINDEX, &TASKKEY);
  lua_pushvalue(NL, 2);
  lua_xmove(NL, t->co, 1);  /* the chunk */
  if (!lua_checkstack(t->co, t->args.n + 1))
    return luaL_error(NL, "too many arguments");
  t->nargs = cu_values_push(&t->args, t->co);
  lua_rawsetp(NL, LUA_REGISTRYINDEX, t);  /* the thread */
  return 0;
}

/* The first run of 't', on its worker: makes the task's state (or takes
   NL, a spare one), loads the chunk and pushes the arguments there, then
   runs it. A failure (no memory) ends the task with a warning, as an
   error of its chunk would: dostring has returned long ago. */
static int starttask (Task *t, lua_State *NL) {
  Pool *pool = t->pool;
  int status;
  if (NL == NULL && (NL = cu_state_newbare(&pool->origin)) == NULL) {
    dropsetup(t);
    cu_state_warnorigin(&pool->origin, WARNPREFIX, "not enough memory");
    return FINISHED;
  }
  t->L = NL;
  lua_pushcfunction(NL, setuptask);
  lua_pushlightuserdata(NL, t);
  status = lua_pcall(NL, 1, 0, 0);
  dropsetup(t);
  if (status != LUA_OK) {
    t->co = NULL;
    cu_warnerrorwith(NL, NL, WARNPREFIX);
    return FINISHED;
  }
  return runtask(t);
}

static void workermain (void *arg) {
  Worker *wk = (Worker *)arg;
  Pool *pool = wk->pool;
  Worker **p;
  Task *t = NULL;
  uv_mutex_lock(&pool->mutex);
  for (;;) {
    Task *ended;
    lua_State *NL = NULL;
    int res;
    if (t == NULL) {
      if (pool->head == NULL && pool->actual <= pool->expected)
        makespares_poollocked(pool, NSPARE);
      while (pool->head == NULL && pool->actual <= pool->expected) {
        pool->nidle++;
        uv_cond_wait(&pool->work, &pool->mutex);
        pool->nidle--;
      }
      if ((t = take_poollocked(pool)) == NULL) break;  /* resized down */
    }
    if (t->L == NULL && pool->nspare > 0) NL = pool->spare[--pool->nspare];
    uv_mutex_unlock(&pool->mutex);
    /* a new task's state is made here, on the thread that runs it: the
       caller's core never touches it, and while the tasks come faster
       than they end its region is the one the last task of this thread
       gave back (the pool's cache is a stack) */
    res = t->L == NULL ? starttask(t, NL) : runtask(t);
    /* A task ends when its state is closed, outside the lock: lua_close
       may wait for the pools the task made, and threads.count shows the
       task running until then (the suite's "nested pool" counts so). */
    if (res == FINISHED) endtask(t);
    uv_mutex_lock(&pool->mutex);
    /* the next task is taken in the same hold of the lock: threads.count
       never sees this thread run nothing between two tasks */
    ended = settle_poollocked(pool, t, res);
    t = take_poollocked(pool);
    if (ended && (ended = keepblock_poollocked(pool, ended)) != NULL) {
      uv_mutex_unlock(&pool->mutex);
      free(ended);
      uv_mutex_lock(&pool->mutex);
    }
  }
  pool->actual--;
  for (p = &pool->workers; *p != wk; p = &(*p)->next) ;
  *p = wk->next;
  wk->next = pool->exited;  /* joined by whoever holds the lock next */
  pool->exited = wk;
  uv_cond_broadcast(&pool->changed);
  uv_mutex_unlock(&pool->mutex);
}

/* --- pool lifetime ------------------------------------------------------- */

/* Joins the threads that left the pool. */
static void reap (Pool *pool) {
  Worker *wk;
  uv_mutex_lock(&pool->mutex);
  wk = pool->exited;
  pool->exited = NULL;
  uv_mutex_unlock(&pool->mutex);
  while (wk) {
    Worker *next = wk->next;
    uv_thread_join(&wk->tid);
    free(wk);
    wk = next;
  }
}

static Pool *newpool (void) {
  Pool *pool = (Pool *)malloc(sizeof(Pool));
  if (pool == NULL) return NULL;
  memset(pool, 0, sizeof(Pool));
  if (uv_mutex_init(&pool->mutex) != 0) goto nomutex;
  if (uv_cond_init(&pool->work) != 0) goto nowork;
  if (uv_cond_init(&pool->changed) != 0) goto nochanged;
  if (cu_regions_init(&pool->regions) != 0) goto noregions;
  return pool;
noregions:
  uv_cond_destroy(&pool->changed);
nochanged:
  uv_cond_destroy(&pool->work);
nowork:
  uv_mutex_destroy(&pool->mutex);
nomutex:
  free(pool);
  return NULL;
}

/* A task of a freed pool still queued on a channel was matched: the other
   side got its values; it will never run again, and is closed once the
   matching thread releases the channel lock (lua_close may take it). */
static void releaseorphan (cu_Waiter *w) {
  freetask(cu_container_of(w, Task, waiter));
}

static void wakeorphan (cu_Waiter *w) {
  cu_chan_defer_chanlocked(w);
}

/* Channel lock held: takes the tasks waiting on a channel through the
   bare yield out of the list 'all' and leaves them queued without their
   pool, so that a later match still finds them (as in the original). */
static Task *keeporphans_chanlocked (Task *all) {
  Task **p = &all;
  while (*p) {
    Task *t = *p;
    if (t->waiter.chan) {
      *p = t->allnext;
      t->pool = NULL;
      cu_state_uncache(t->L);  /* the pool's cache goes with it */
      t->waiter.wake = wakeorphan;
      t->waiter.release = releaseorphan;
    }
    else {
      if (t->parkedon) cu_chan_unpark_chanlocked(t->parkedon);
      p = &t->allnext;
    }
  }
  return all;
}

/* Waits until the pool has no tasks or no threads, stops every thread,
   discards the pending tasks and those parked in system.run, keeps those
   waiting on a channel as orphans (above), then frees the pool. Only the
   creator's state calls it, once. */
static void shutpool (Pool *pool) {
  Task *t, *left;
  uv_mutex_lock(&pool->mutex);
  while (pool->ntasks > 0 && pool->actual > 0)
    uv_cond_wait(&pool->changed, &pool->mutex);
  pool->expected = 0;
  uv_cond_broadcast(&pool->work);
  while (pool->actual > 0) uv_cond_wait(&pool->changed, &pool->mutex);
  uv_mutex_unlock(&pool->mutex);
  reap(pool);
  /* no thread runs a task now */
  cu_chan_lock();
  uv_mutex_lock(&pool->mutex);
  left = keeporphans_chanlocked(pool->all);
  pool->all = pool->head = pool->tail = NULL;
  pool->ntasks = pool->npending = pool->nsuspended = 0;
  uv_mutex_unlock(&pool->mutex);
  cu_chan_unlock();
  while ((t = left) != NULL) {
    left = t->allnext;
    freetask(t);
  }
  while (pool->nspare > 0) lua_close(pool->spare[--pool->nspare]);
  while ((t = pool->free) != NULL) {
    pool->free = t->next;
    free(t);
  }
  cu_regions_free(&pool->regions, &pool->origin);
  uv_cond_destroy(&pool->changed);
  uv_cond_destroy(&pool->work);
  uv_mutex_destroy(&pool->mutex);
  free(pool);
}

/* The list of pools the state created and did not close yet: a userdata
   whose finalizer, at lua_close, waits for each (manual, threads.close). */
static Pool **unclosedlist (lua_State *L) {
  return (Pool **)registryptr(L, &UNCLOSEDKEY);
}

static int unclosed_gc (lua_State *L) {
  Pool **list = (Pool **)lua_touserdata(L, 1);
  Pool *pool;
  while ((pool = *list) != NULL) {
    *list = pool->nextunclosed;
    if (pool->ownerref) pool->ownerref->pool = NULL;
    shutpool(pool);
  }
  return 0;
}

static void forget (lua_State *L, Pool *pool) {
  Pool **p = unclosedlist(L);
  while (*p != pool) p = &(*p)->nextunclosed;
  *p = pool->nextunclosed;
}

/* --- coutil.threads ------------------------------------------------------ */

static Task *taskof (lua_State *L) {
  return (Task *)registryptr(L, &TASKKEY);
}

void *cu_threads_current (lua_State *L) {
  Task *t = taskof(L);
  return t && t->co == L ? t : NULL;
}

static PoolRef *newref (lua_State *L) {
  PoolRef *ref = (PoolRef *)lua_newuserdatauv(L, sizeof(PoolRef), 0);
  ref->pool = NULL;
  ref->owner = ref->closed = 0;
  luaL_setmetatable(L, CLASS);
  return ref;
}

/* __gc: a collected owner's pool lives on until lua_close (the manual),
   no longer linked to the object, which is freed later; the object is
   closed meanwhile (another finalizer may still reach it). */
static int ref_gc (lua_State *L) {
  PoolRef *ref = (PoolRef *)lua_touserdata(L, 1);
  if (ref->owner && ref->pool) {
    ref->pool->ownerref = NULL;
    ref->pool = NULL;
  }
  return 0;
}

/* The pool of the object at 1; NULL when closed. */
static Pool *poolof (lua_State *L, PoolRef *ref) {
  Task *t;
  if (ref->owner) return ref->pool;
  return !ref->closed && (t = taskof(L)) != NULL ? t->pool : NULL;
}

static Pool *checkpool (lua_State *L) {
  PoolRef *ref = (PoolRef *)luaL_checkudata(L, 1, CLASS);
  Pool *pool = poolof(L, ref);
  if (pool == NULL) luaL_error(L, "closed object");
  return pool;
}

/* A number of threads: a negative one means none, as in the original. */
static int checksize (lua_State *L, int arg) {
  lua_Integer size = luaL_checkinteger(L, arg);
  luaL_argcheck(L, size <= 0xffff, arg, "out of range");
  return size < 0 ? 0 : (int)size;
}

/* Starts threads until 'size' run; 0 or a libuv error. */
static int grow (Pool *pool, int size) {
  int err = 0;
  uv_mutex_lock(&pool->mutex);
  while (pool->actual < size && err == 0) err = spawn_poollocked(pool);
  uv_mutex_unlock(&pool->mutex);
  return err;
}

/* threads.create([size]) */
static int threads_create (lua_State *L) {
  PoolRef *ref;
  Pool *pool;
  Pool **list;
  int size, err;
  if (lua_isnoneornil(L, 1)) {
    Task *t = taskof(L);
    if (t == NULL) {
      lua_pushnil(L);
      return 1;
    }
    newref(L);  /* its pool: the task's (poolof) */
    return 1;
  }
  size = checksize(L, 1);
  list = unclosedlist(L);
  ref = newref(L);
  pool = newpool();
  if (pool == NULL) return luaL_error(L, "not enough memory");
  cu_state_origin(L, &pool->origin);
  pool->origin.cache = &pool->regions;
  pool->expected = size;
  err = grow(pool, size);
  ref->pool = pool;
  ref->owner = 1;
  pool->ownerref = ref;
  pool->nextunclosed = *list;
  *list = pool;
  if (err < 0) {  /* undo: no task can be there yet */
    forget(L, pool);
    ref->pool = NULL;
    shutpool(pool);
    return cu_pushfail(L, err);
  }
  return 1;
}

/* threads.resize(pool, size [, create]) */
static int threads_resize (lua_State *L) {
  Pool *pool = checkpool(L);
  int size = checksize(L, 2);
  int err = 0;
  uv_mutex_lock(&pool->mutex);
  pool->expected = size;
  if (pool->actual > size) uv_cond_broadcast(&pool->work);
  else {  /* on demand: one thread per pending task no thread takes */
    while (pool->actual < size && unserved_poollocked(pool) > 0 &&
           spawn_poollocked(pool) == 0) {}
  }
  uv_mutex_unlock(&pool->mutex);
  if (lua_toboolean(L, 3)) err = grow(pool, size);
  reap(pool);
  return cu_pushresult(L, err);
}

/* threads.count(pool, options) */
static int threads_count (lua_State *L) {
  Pool *pool = checkpool(L);
  size_t len;
  const char *opts = luaL_checklstring(L, 2, &len);
  const char *c;
  int n = 0;
  for (c = opts; c < opts + len; c++) {  /* the original's words */
    if (*c == '\0' || strchr("nrpsea", *c) == NULL) {
      lua_pushfstring(L, "bad option (got '%c')", *c);
      return luaL_argerror(L, 2, lua_tostring(L, -1));
    }
  }
  cu_checkstack(L, (int)len);
  uv_mutex_lock(&pool->mutex);
  for (; *opts; opts++, n++) {
    int v = 0;
    switch (*opts) {
      case 'n': v = pool->ntasks; break;
      case 'r': v = pool->nrunning; break;
      case 'p': v = pool->npending; break;
      case 's': v = pool->nsuspended; break;
      case 'e': v = pool->expected; break;
      case 'a': v = pool->actual; break;
    }
    lua_pushinteger(L, v);
  }
  uv_mutex_unlock(&pool->mutex);
  /* counts are polled in loops: a poller that takes the lock again at
     once can keep the pool's threads from ever getting it (the mutex is
     not fair), on a busy machine for minutes */
  sched_yield();
  return n;
}

/* --- compiling on the caller ------------------------------------------
** dostring must return load errors, so the caller compiles the chunk, but
** in a state of its own (warm in its core's cache, and as fresh as a
** task's: nothing nests above a load there) and hands the worker the
** bytecode (lua_dump, not stripped: names and lines stay for messages).
** The last NCACHED chunks compiled by dostring are kept by chunk, name and
** mode: the same call again compiles nothing. dofile compiles every time,
** since a file may change between two calls.
*/

#define NCACHED 8               /* chunks a calling state keeps compiled */
#define CACHEDMAX (32 * 1024)   /* bytes of one: its key and code */

typedef struct Cached {
  Code *code;           /* NULL: a free slot */
  char *key;            /* the chunk, the name and the mode, each + '\0' */
  size_t chunklen, keylen;
  unsigned long used;   /* when last found, to replace the oldest */
} Cached;

typedef struct Compiler {
  lua_State *S;         /* where chunks are compiled; made on first use */
  int closed;           /* by lua_close: finalizers may still compile */
  Task *spare;          /* a task's block for the next call */
  unsigned long clock;
  Cached cached[NCACHED];
} Compiler;

static const char COMPILERKEY = 'C';  /* registry: the state's Compiler */

static Compiler *compilerof (lua_State *L) {
  return (Compiler *)registryptr(L, &COMPILERKEY);
}

static void dropcached (Cached *e) {
  releasecode(e->code);
  free(e->key);
  memset(e, 0, sizeof(Cached));
}

static int compiler_gc (lua_State *L) {
  Compiler *c = (Compiler *)lua_touserdata(L, 1);
  int i;
  for (i = 0; i < NCACHED; i++) dropcached(&c->cached[i]);
  if (c->S != NULL) lua_close(c->S);
  c->S = NULL;
  c->closed = 1;
  free(c->spare);
  c->spare = NULL;
  return 0;
}

/* lua_Writer of lua_dump: appends to the code (the block may move); 1,
   an error for lua_dump, when out of memory. */
static int codewriter (lua_State *S, const void *p, size_t sz, void *ud) {
  Code **pc = (Code **)ud;
  Code *code = *pc;
  (void)S;
  if (code->len + sz > code->size) {
    size_t size = code->size * 2;
    while (size < code->len + sz) size *= 2;
    if ((code = (Code *)realloc(code, sizeof(Code) + size)) == NULL)
      return 1;
    code->size = size;
    *pc = code;
  }
  memcpy(code->bytes + code->len, p, sz);
  code->len += sz;
  return 0;
}

/* Dumps the function that 'status' loaded onto S into *out, with one
   reference. Returns 'status' (the load error is then on top of S), or
   -1 when out of memory otherwise. */
static int dumpcode (lua_State *S, int status, Code **out) {
  Code *code;
  *out = NULL;
  if (status != LUA_OK) return status;
  code = (Code *)malloc(sizeof(Code) + 256);
  if (code != NULL) {
    code->len = 0;
    code->size = 256;
    if (lua_dump(S, codewriter, &code, 0) != 0) {
      free(code);
      code = NULL;
    }
  }
  lua_settop(S, 0);
  if (code == NULL) return -1;
  atomic_init(&code->refs, 1);
  *out = code;
  return LUA_OK;
}

/* The compiler's state, made on first use with L's allocator; NULL when
   out of memory. */
static lua_State *compilestate (Compiler *c, lua_State *L) {
  if (c->S == NULL) {
    cu_StateOrigin o;
    cu_state_origin(L, &o);
    c->S = cu_state_newplain(&o);
  }
  if (c->S != NULL) lua_settop(c->S, 0);  /* an error message left there */
  return c->S;
}

/* Keeps 'code', just compiled, in the slot of the oldest chunk. */
static void keepcode (Compiler *c, Code *code, const char *chunk,
                      size_t len, const char *name, const char *mode) {
  size_t nlen = strlen(name) + 1, mlen = strlen(mode) + 1;
  size_t keylen = len + nlen + mlen;
  Cached *e = &c->cached[0];
  int i;
  if (keylen + code->len > CACHEDMAX || c->closed) return;
  for (i = 1; i < NCACHED && e->code != NULL; i++) {
    if (c->cached[i].code == NULL || c->cached[i].used < e->used)
      e = &c->cached[i];
  }
  dropcached(e);
  if ((e->key = (char *)malloc(keylen)) == NULL) return;  /* not kept */
  memcpy(e->key, chunk, len);
  memcpy(e->key + len, name, nlen);
  memcpy(e->key + len + nlen, mode, mlen);
  e->chunklen = len;
  e->keylen = keylen;
  e->used = ++c->clock;
  atomic_fetch_add(&code->refs, 1);
  e->code = code;
}

/* dostring's chunk compiled into *out (one reference for the task): a
   lua status, the load error then on top of the compiler's state, or -1
   when out of memory otherwise. */
static int compilestring (Compiler *c, lua_State *L, const char *chunk,
                          size_t len, const char *name, const char *mode,
                          Code **out) {
  size_t nlen = strlen(name) + 1, mlen = strlen(mode) + 1;
  lua_State *S;
  int i, status;
  for (i = 0; i < NCACHED; i++) {
    Cached *e = &c->cached[i];
    if (e->code != NULL && e->chunklen == len &&
        e->keylen == len + nlen + mlen &&
        memcmp(e->key, chunk, len) == 0 &&
        memcmp(e->key + len, name, nlen) == 0 &&
        memcmp(e->key + len + nlen, mode, mlen) == 0) {
      e->used = ++c->clock;
      atomic_fetch_add(&e->code->refs, 1);
      *out = e->code;
      return LUA_OK;
    }
  }
  if ((S = compilestate(c, L)) == NULL) return -1;
  status = dumpcode(S, luaL_loadbufferx(S, chunk, len, name, mode), out);
  if (status == LUA_OK) keepcode(c, *out, chunk, len, name, mode);
  return status;
}

/* dofile's chunk, as compilestring. */
static int compilefile (Compiler *c, lua_State *L, const char *path,
                        const char *mode, Code **out) {
  lua_State *S = compilestate(c, L);
  if (S == NULL) return -1;
  return dumpcode(S, luaL_loadfilex(S, path, mode), out);
}

/* --- tasks --------------------------------------------------------------- */

/* A new task of 'pool' with the values from 'first' on as arguments and
   L's preloads; NULL, before any side effect, when an argument cannot be
   transferred: false and the message are then pushed (conventions.md:
   returned, not raised). Raises when out of memory. */
static Task *newtask (lua_State *L, Pool *pool, Compiler *c, int first) {
  Task *t = c->spare != NULL ? c->spare : (Task *)malloc(sizeof(Task));
  int bad;
  if (t == NULL) luaL_error(L, "not enough memory");
  c->spare = NULL;
  memset(t, 0, sizeof(Task));
  cu_values_init(&t->args);
  cu_values_init(&t->waiter.sent);
  cu_values_init(&t->waiter.got);
  t->waiter.wake = waketask;
  t->pool = pool;
  bad = cu_values_save(&t->args, L, first, lua_gettop(L));
  if (bad == 0) bad = cu_preloads_save(L, &t->preloads);
  if (bad != 0) {
    freetask(t);
    if (bad < 0) luaL_error(L, "not enough memory");
    lua_pushboolean(L, 0);
    cu_values_pusherror(L, "argument", bad, cu_values_typename(L, bad));
    return NULL;
  }
  return t;
}

/* Queues 't' once its chunk compiled with 'status'; returns what
   dostring/dofile return. */
static int addtask (lua_State *L, Task *t, Compiler *c, int status) {
  Pool *pool = t->pool;
  if (status != LUA_OK) freetask(t);
  if (status > 0) {  /* the load error */
    lua_pushboolean(L, 0);  /* false, never nil: conventions.md */
    lua_pushstring(L, lua_tostring(c->S, -1));
    lua_settop(c->S, 0);
  }
  if (c->closed && c->S != NULL) {  /* no finalizer will close it now */
    lua_close(c->S);
    c->S = NULL;
  }
  if (status < 0) return luaL_error(L, "not enough memory");
  if (status > 0) return 2;
  uv_mutex_lock(&pool->mutex);
  t->allnext = pool->all;
  if (pool->all) pool->all->allprev = t;
  pool->all = t;
  pool->ntasks++;
  push_poollocked(pool, t);
  if (c->spare == NULL && pool->free != NULL && !c->closed) {  /* next call */
    c->spare = pool->free;
    pool->free = c->spare->next;
    pool->nfree--;
  }
  uv_mutex_unlock(&pool->mutex);
  lua_pushboolean(L, 1);
  return 1;
}

/* threads.dostring(pool, chunk [, chunkname [, mode, ...]]) */
static int threads_dostring (lua_State *L) {
  Pool *pool = checkpool(L);
  size_t len;
  const char *chunk = luaL_checklstring(L, 2, &len);
  const char *name = luaL_optstring(L, 3, chunk);
  const char *mode = luaL_optstring(L, 4, "bt");
  Compiler *c = compilerof(L);
  Task *t = newtask(L, pool, c, 5);
  if (t == NULL) return 2;
  return addtask(L, t, c,
                 compilestring(c, L, chunk, len, name, mode, &t->code));
}

/* threads.dofile(pool, filepath [, mode, ...]) */
static int threads_dofile (lua_State *L) {
  Pool *pool = checkpool(L);
  const char *path = luaL_optstring(L, 2, NULL);
  const char *mode = luaL_optstring(L, 3, "bt");
  Compiler *c = compilerof(L);
  Task *t = newtask(L, pool, c, 4);
  if (t == NULL) return 2;
  return addtask(L, t, c, compilefile(c, L, path, mode, &t->code));
}

/* threads.close(pool); also __close */
static int threads_close (lua_State *L) {
  PoolRef *ref = (PoolRef *)luaL_checkudata(L, 1, CLASS);
  Pool *pool = poolof(L, ref);
  if (pool == NULL) {  /* closed already: conventions.md */
    lua_pushboolean(L, 0);
    return 1;
  }
  ref->pool = NULL;
  ref->closed = 1;
  if (ref->owner) {
    forget(L, pool);
    shutpool(pool);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* A zeroed block of 'size' bytes in L's registry at 'key', whose 'gc'
   runs at lua_close; made once per state, whatever opens the module. */
static void registryblock (lua_State *L, const void *key, size_t size,
                           lua_CFunction gc) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TNIL) {
    memset(lua_newuserdatauv(L, size, 0), 0, size);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  }
  lua_pop(L, 1);
}

void cu_open_threads (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"create", threads_create},
    {"resize", threads_resize},
    {"count", threads_count},
    {"dostring", threads_dostring},
    {"dofile", threads_dofile},
    {"close", threads_close},
    {NULL, NULL}
  };
  registryblock(L, &UNCLOSEDKEY, sizeof(Pool *), unclosed_gc);
  registryblock(L, &COMPILERKEY, sizeof(Compiler), compiler_gc);
  static const luaL_Reg metas[] = {
    {"__close", threads_close},
    {"__gc", ref_gc},
    {NULL, NULL}
  };
  cu_newclass(L, CLASS, funcs, metas, 0);
  cu_classmodule(L);
}
