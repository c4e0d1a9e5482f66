/*
** channel.c: coutil.channel and system.awaitch (manual, "Channels" and
** "Thread Synchronization"). Channels live in a process-wide registry of
** named entries, refcounted by channel objects and queued waiters. A
** waiter of a loop is finished on that loop's thread only: a match made
** by another thread queues it on the loop's sync record and wakes the
** loop by writing to an eventfd the loop polls. No libuv function is ever
** called from another thread: libuv 1.44's uv_async_send makes the loop
** thread spin and sched_yield while a sender is inside the call, which
** doubled the context switches of a ping-pong on two cores.
*/
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "areas.h"
#include "await.h"
#include "channel.h"
#include "threads.h"

#define CLASS "coutil.channel"

const char cu_parkmark = 'P';

/* --- the registry ------------------------------------------------------- */

struct cu_Chan {
  cu_Chan *next;           /* registry list */
  int refs;                /* channel objects plus queued waiters */
  cu_Waiter *head, *tail;  /* waiters: all "in", all "out" or one "any" */
  size_t len;
  char name[1];            /* 'len' bytes and a '\0' */
};

static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t lock;
static cu_Chan *channels;

static void initlock (void) {
  if (uv_mutex_init(&lock) != 0) abort();
}

typedef struct LoopSync LoopSync;

/* A loop woken by a match made during the current hold of the lock:
   signalled by cu_chan_unlock, so no system call happens inside the lock.
   Set and taken only with the lock held, so plain variables do: no
   thread-local storage, whose dynamic blocks in a dlopen'ed library
   crash the leak checker of our sanitizer runtime. */
static LoopSync *tosignal;
static void signalloop (LoopSync *s);

/* Waiters to release once the current holder lets the lock go. */
static cu_Waiter *deferred;

void cu_chan_lock (void) {
  uv_once(&once, initlock);
  uv_mutex_lock(&lock);
}

void cu_chan_unlock (void) {
  LoopSync *s = tosignal;
  cu_Waiter *w = deferred;
  tosignal = NULL;
  deferred = NULL;
  uv_mutex_unlock(&lock);
  if (s) signalloop(s);
  while (w) {  /* a release may lock again: the list is ours already */
    cu_Waiter *next = w->next;
    w->release(w);
    w = next;
  }
}

void cu_chan_defer_chanlocked (cu_Waiter *w) {
  w->next = deferred;
  deferred = w;
}

int cu_chan_endpoint (const char *name) {
  if (name == NULL || strcmp(name, "any") == 0) return CU_EP_ANY;
  if (strcmp(name, "in") == 0) return CU_EP_IN;
  if (strcmp(name, "out") == 0) return CU_EP_OUT;
  return -1;
}

static cu_Chan *find_chanlocked (const char *name, size_t len) {
  cu_Chan *c;
  for (c = channels; c; c = c->next)
    if (c->len == len && memcmp(c->name, name, len) == 0) return c;
  return NULL;
}

/* The entry named 'name' with one more reference; NULL: no memory. */
static cu_Chan *ref_chanlocked (const char *name, size_t len) {
  cu_Chan *c = find_chanlocked(name, len);
  if (c == NULL) {
    c = malloc(sizeof(cu_Chan) + len);
    if (c == NULL) return NULL;
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    c->len = len;
    c->refs = 0;
    c->head = c->tail = NULL;
    c->next = channels;
    channels = c;
  }
  c->refs++;
  return c;
}

static void unref_chanlocked (cu_Chan *c) {
  if (--c->refs == 0) {
    cu_Chan **p = &channels;
    while (*p != c) p = &(*p)->next;
    *p = c->next;
    free(c);
  }
}

/* The queue invariant: no two queued waiters match each other, so it
   holds only "in" waiters, only "out" waiters, or a single "any" one, and
   a newcomer need only be compared with the head. */
static int matches (int a, int b) {
  return a == CU_EP_ANY || b == CU_EP_ANY || a != b;
}

static void enqueue_chanlocked (cu_Chan *c, cu_Waiter *w) {
  c->refs++;
  w->chan = c;
  w->next = NULL;
  w->prev = c->tail;
  if (c->tail) c->tail->next = w;
  else c->head = w;
  c->tail = w;
}

void cu_chan_unqueue_chanlocked (cu_Waiter *w) {
  cu_Chan *c = w->chan;
  if (c == NULL) return;
  if (w->prev) w->prev->next = w->next;
  else c->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else c->tail = w->prev;
  w->next = w->prev = NULL;
  w->chan = NULL;
  unref_chanlocked(c);
}

/* Takes the first waiter of 'c' that matches 'endpoint', hands it the
   values 'mine' and wakes it; its own values go to 'theirs'. Returns 0
   when no waiter matches. */
static int exchange_chanlocked (cu_Chan *c, int endpoint, cu_Values *mine,
                            cu_Values *theirs) {
  cu_Waiter *w = c->head;
  if (w == NULL || !matches(w->endpoint, endpoint)) return 0;
  cu_values_move(theirs, &w->sent);
  cu_values_move(&w->got, mine);
  cu_chan_unqueue_chanlocked(w);  /* 'c' survives: the caller has a ref */
  w->wake(w);
  return 1;
}

int cu_chan_await_chanlocked (cu_Waiter *w, const char *name, size_t len) {
  cu_Chan *c = ref_chanlocked(name, len);
  int matched;
  if (c == NULL) return -1;
  matched = exchange_chanlocked(c, w->endpoint, &w->sent, &w->got);
  if (!matched) enqueue_chanlocked(c, w);
  unref_chanlocked(c);
  return matched;
}

/* --- loops: waiters of system.awaitch ------------------------------------ */

typedef struct ChanObj ChanObj;

typedef struct LoopWaiter {
  cu_Waiter w;
  LoopSync *sync;
  cu_Await *op;
  ChanObj *obj;                      /* the channel object it uses */
  struct LoopWaiter *donenext;       /* sync->done list (locked) */
  struct LoopWaiter *allnext, *allprev;  /* sync->all (loop thread) */
} LoopWaiter;

/* Registered with the loop (synchooks): what other threads need to wake
   it. */
struct LoopSync {
  uv_poll_t wakeup;     /* polls 'efd'; ref'd only while awaitch waits */
  int efd;              /* eventfd other threads write to wake the loop */
  atomic_int signaled;  /* 'efd' was written and not read yet */
  cu_Loop *loop;
  LoopWaiter *done, *donetail;  /* matched, to be resumed (locked) */
  void *parked;         /* task parked in system.run (locked) */
  int unsignaled;       /* 'done' got waiters without a write to 'efd',
                           for the parked task (locked) */
  LoopWaiter *all;      /* every live waiter (loop thread) */
  LoopWaiter *spare;    /* released waiters for reuse (loop thread) */
  int pending;          /* live waiters (loop thread) */
  int parkmode;         /* a task's system.run("loop") may park */
  atomic_int senders;   /* threads about to write to 'efd' */
};

struct ChanObj {
  cu_Chan *chan;        /* NULL when closed */
  LoopWaiter *waiter;   /* the coroutine awaiting on this object */
};

/* The wake-up handle keeps system.run going only while some awaitch
   waits, and never in a task that can park instead. */
static void updateref (LoopSync *s) {
  if (s->pending > 0 && !s->parkmode) uv_ref((uv_handle_t *)&s->wakeup);
  else uv_unref((uv_handle_t *)&s->wakeup);
}

/* Any thread: makes 'efd' readable, once until the loop reads it. */
static void poke (LoopSync *s) {
  if (!atomic_exchange(&s->signaled, 1)) {
    uint64_t one = 1;
    while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR) {}
  }
}

static void freewaiter (LoopWaiter *lw) {
  LoopSync *s = lw->sync;
  if (lw->allprev) lw->allprev->allnext = lw->allnext;
  else s->all = lw->allnext;
  if (lw->allnext) lw->allnext->allprev = lw->allprev;
  cu_values_free(&lw->w.sent);
  cu_values_free(&lw->w.got);
  lw->allnext = s->spare;
  s->spare = lw;
  s->pending--;
  updateref(s);
}

/* What the waiter gets: true and the values of the matching call (copies
   of strings, so protected: see cu_await_pushp). */
static int pushgot_p (lua_State *L, void *data) {
  LoopWaiter *lw = (LoopWaiter *)data;
  luaL_checkstack(L, lw->w.got.n + 1, NULL);
  lua_pushboolean(L, 1);
  return 1 + cu_values_push(&lw->w.got, L);
}

/* Resumes the coroutine of a matched waiter with true and the values of
   the matching call (nothing when it was resumed early or closed); with
   false and "stack overflow" when its stack cannot take them, as a task
   that awaits by yielding gets (threads.c): the values are lost, but the
   coroutine does not wait for ever. */
static void finishwaiter (LoopWaiter *lw) {
  cu_Await *op = lw->op;
  lua_State *co = cu_await_waiter(op);
  int n = 0;
  if (lw->obj) {
    lw->obj->waiter = NULL;
    lw->obj = NULL;
  }
  if (co && lua_checkstack(co, lw->w.got.n + 1))
    n = cu_await_pushp(op, co, pushgot_p, lw);
  else if (co) n = cu_await_pushfailure(op, co, "stack overflow");
  freewaiter(lw);
  cu_await_finish(op, co, n);
}

static void drain (LoopSync *s) {
  LoopWaiter *lw;
  cu_chan_lock();
  lw = s->done;
  s->done = s->donetail = NULL;
  cu_chan_unlock();
  while (lw) {
    LoopWaiter *next = lw->donenext;
    finishwaiter(lw);
    lw = next;
  }
}

static void on_wakeup (uv_poll_t *poll, int status, int events) {
  LoopSync *s = cu_container_of(poll, LoopSync, wakeup);
  uint64_t count;
  (void)status; (void)events;
  /* reset first: a match appended after the drain below writes again */
  while (read(s->efd, &count, sizeof(count)) < 0 && errno == EINTR) {}
  atomic_store(&s->signaled, 0);
  if (!s->loop->closing) drain(s);
}

static void appenddone_chanlocked (LoopSync *s, LoopWaiter *lw) {
  lw->donenext = NULL;
  if (s->donetail) s->donetail->donenext = lw;
  else s->done = lw;
  s->donetail = lw;
}

/* After the lock is released: teardown waits for 'senders' to drop to
   zero before it closes the handle, so 's' is still there. */
static void signalloop (LoopSync *s) {
  poke(s);
  atomic_fetch_sub(&s->senders, 1);
}

/* cu_Wake of loop waiters: any thread, channel lock held. */
static void wakeloop (cu_Waiter *w) {
  LoopWaiter *lw = (LoopWaiter *)w;
  LoopSync *s = lw->sync;
  appenddone_chanlocked(s, lw);
  if (s->parked) {  /* its task resumes and drains: no need to signal */
    void *task = s->parked;
    s->parked = NULL;
    s->unsignaled = 1;
    cu_threads_wake_chanlocked(task);
  }
  else {  /* one match per hold of the lock: one loop to signal at most */
    if (tosignal) signalloop(tosignal);  /* never happens; to be safe */
    atomic_fetch_add(&s->senders, 1);
    tosignal = s;
  }
}

static void on_syncclosed (uv_handle_t *h);

static const cu_LoopHooks synchooks;

static LoopSync *getsync (lua_State *L, cu_Loop *loop) {
  LoopSync *s = (LoopSync *)cu_loop_hookdata(loop, &synchooks);
  int efd;
  if (s != NULL) return s;
  efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    luaL_error(L, "unable to create eventfd: %s", strerror(errno));
    return NULL;
  }
  s = malloc(sizeof(LoopSync));
  if (s == NULL || uv_poll_init(&loop->uv, &s->wakeup, efd) < 0) {
    close(efd);
    free(s);  /* a failed uv_poll_init leaves no handle behind */
    luaL_error(L, "unable to poll eventfd");
    return NULL;
  }
  memset((char *)s + sizeof(uv_poll_t), 0,
         sizeof(LoopSync) - sizeof(uv_poll_t));
  s->efd = efd;
  s->loop = loop;
  atomic_init(&s->signaled, 0);
  atomic_init(&s->senders, 0);
  if (uv_poll_start(&s->wakeup, UV_READABLE, on_wakeup) < 0) {
    uv_close((uv_handle_t *)&s->wakeup, on_syncclosed);
    luaL_error(L, "unable to poll eventfd");
    return NULL;
  }
  uv_unref((uv_handle_t *)&s->wakeup);
  cu_loop_hook(loop, &synchooks, s);
  return s;
}

static LoopWaiter *newwaiter (lua_State *L, LoopSync *s) {
  LoopWaiter *lw = s->spare;
  if (lw) s->spare = lw->allnext;
  else {
    lw = malloc(sizeof(LoopWaiter));
    if (lw == NULL) luaL_error(L, "not enough memory");
  }
  memset(lw, 0, offsetof(LoopWaiter, w.sent));
  lw->sync = s;
  lw->w.wake = wakeloop;
  cu_values_init(&lw->w.sent);
  cu_values_init(&lw->w.got);
  lw->obj = NULL;
  lw->op = NULL;
  lw->allprev = NULL;
  lw->allnext = s->all;
  if (s->all) s->all->allprev = lw;
  s->all = lw;
  s->pending++;
  return lw;
}

/* cu_Cancel: the coroutine was resumed early by coroutine.resume. */
static int cancelwait (cu_Await *op) {
  LoopWaiter *lw = (LoopWaiter *)op->data;
  int queued;
  cu_chan_lock();
  queued = lw->w.chan != NULL;
  cu_chan_unqueue_chanlocked(&lw->w);
  cu_chan_unlock();
  if (lw->obj) {
    lw->obj->waiter = NULL;
    lw->obj = NULL;
  }
  if (!queued) return 0;  /* matched already: drain() finishes 'op' */
  freewaiter(lw);
  return 1;
}

/* The channel object's coroutine will never wake (it was closed, or the
   state is closing): a waiter still queued is moved to the done list, so
   the loop finishes its record. */
static void detach (ChanObj *obj) {
  LoopWaiter *lw = obj->waiter;
  LoopSync *s = lw->sync;
  obj->waiter = NULL;
  lw->obj = NULL;
  cu_chan_lock();
  if (lw->w.chan) {
    cu_chan_unqueue_chanlocked(&lw->w);
    appenddone_chanlocked(s, lw);
    poke(s);
  }
  cu_chan_unlock();
}

/* --- hooks of system.run and loop teardown ------------------------------- */

/* Matches that were signalled through 'efd' wait for the loop's poll
   phase, as any I/O does (the original's order: a coroutine awaiting
   suspend() resumes first in an iteration); only those a parked task
   got without a signal are resumed here, or none would resume them. */
static void beforerun (lua_State *L, cu_Loop *loop, void *data,
                       int loopmode) {
  LoopSync *s = (LoopSync *)data;
  int unsignaled;
  s->parkmode = loopmode && lua_isyieldable(L) &&
                cu_threads_current(L) != NULL;
  updateref(s);
  cu_chan_lock();
  unsignaled = s->unsignaled;
  s->unsignaled = 0;
  cu_chan_unlock();
  if (unsignaled) drain(s);
}

/* Frees what a sync record keeps for reuse and closes its handle; the
   memory and the eventfd go in on_syncclosed. 's' must have no live
   waiter; a thread that matched one may still be about to poke it. */
static void closesync (cu_Loop *loop, LoopSync *s) {
  LoopWaiter *lw;
  while (atomic_load(&s->senders) > 0) sched_yield();  /* a moment */
  while ((lw = s->spare) != NULL) {
    s->spare = lw->allnext;
    free(lw);
  }
  cu_loop_unhook(loop, &synchooks);
  uv_close((uv_handle_t *)&s->wakeup, on_syncclosed);
}

/* After uv_run: 2 when a task must park (the values to yield pushed). */
static int afterrun (lua_State *L, cu_Loop *loop, void *data) {
  LoopSync *s = (LoopSync *)data;
  int park = 0;
  if (s->parkmode) {
    for (;;) {  /* drain what came while the loop ran, then run again */
      int more;
      if (loop->halted) break;
      cu_chan_lock();
      more = s->done != NULL;
      cu_chan_unlock();
      if (!more) {
        park = s->pending > 0;
        break;
      }
      drain(s);
      uv_run(&loop->uv, UV_RUN_DEFAULT);
    }
    s->parkmode = 0;
    updateref(s);
  }
  if (park) {
    lua_pushlightuserdata(L, CU_PARKMARK);
    lua_pushlightuserdata(L, s);
  }
  else if (s->pending == 0 && !uv_loop_alive(&loop->uv)) {
    /* system.run returns false: nothing may stay behind, the eventfd
       included (a later awaitch makes a new one); one more iteration,
       where nothing else is due, runs on_syncclosed */
    closesync(loop, s);
    uv_run(&loop->uv, UV_RUN_NOWAIT);
  }
  return park ? 2 : 0;
}

int cu_chan_parktask_chanlocked (void *sync, void *task) {
  LoopSync *s = (LoopSync *)sync;
  if (s->done != NULL) return 0;
  s->parked = task;
  return 1;
}

void cu_chan_unpark_chanlocked (void *sync) {
  ((LoopSync *)sync)->parked = NULL;
}

static void on_syncclosed (uv_handle_t *h) {
  LoopSync *s = cu_container_of(h, LoopSync, wakeup);
  close(s->efd);
  free(s);
}

/* Loop teardown (loop->closing set): forgets every awaitch of the loop
   and closes its handle. */
static void teardown (cu_Loop *loop, void *data) {
  LoopSync *s = (LoopSync *)data;
  LoopWaiter *lw;
  cu_chan_lock();
  for (lw = s->all; lw; lw = lw->allnext) cu_chan_unqueue_chanlocked(&lw->w);
  s->done = s->donetail = NULL;
  s->parked = NULL;
  cu_chan_unlock();
  while ((lw = s->all) != NULL) {
    cu_Await *op = lw->op;
    if (lw->obj) lw->obj->waiter = NULL;
    freewaiter(lw);
    if (op) cu_await_finish(op, NULL, 0);  /* closing: releases it */
  }
  closesync(loop, s);
}

static const cu_LoopHooks synchooks = {beforerun, afterrun, teardown};

/* --- coutil.channel ------------------------------------------------------ */

static ChanObj *checkchan (lua_State *L, int arg) {
  return (ChanObj *)luaL_checkudata(L, arg, CLASS);
}

/* An open channel or raises "closed channel". */
static cu_Chan *checkopen (lua_State *L, int arg) {
  ChanObj *obj = checkchan(L, arg);
  if (obj->chan == NULL) luaL_error(L, "closed channel");
  return obj->chan;
}

static int checkendpoint (lua_State *L, int arg) {
  int endpoint;
  if (lua_isnoneornil(L, arg)) return CU_EP_ANY;
  endpoint = cu_chan_endpoint(luaL_checkstring(L, arg));
  if (endpoint < 0)
    luaL_error(L, CU_BADENDPOINT, arg, lua_tostring(L, arg));
  return endpoint;
}

/* channel.create(name) */
static int channel_create (lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  ChanObj *obj = (ChanObj *)lua_newuserdatauv(L, sizeof(ChanObj), 0);
  obj->chan = NULL;  /* closed until the entry is ours */
  obj->waiter = NULL;
  luaL_setmetatable(L, CLASS);
  cu_chan_lock();
  obj->chan = ref_chanlocked(name, len);
  cu_chan_unlock();
  if (obj->chan == NULL) return luaL_error(L, "not enough memory");
  return 1;
}

/* channel.close(ch); also __gc and __close */
static int channel_close (lua_State *L) {
  ChanObj *obj = checkchan(L, 1);
  if (obj->waiter) {
    if (lua_toboolean(L, lua_upvalueindex(1)))  /* collected */
      detach(obj);
    else
      return luaL_error(L, "in use");
  }
  if (obj->chan == NULL) {  /* closed already: conventions.md */
    lua_pushboolean(L, 0);
    return 1;
  }
  cu_chan_lock();
  unref_chanlocked(obj->chan);
  cu_chan_unlock();
  obj->chan = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

/* channel.getname(ch) */
static int channel_getname (lua_State *L) {
  cu_Chan *c = checkopen(L, 1);
  lua_pushlstring(L, c->name, c->len);  /* our ref keeps 'c' alive */
  return 1;
}

/* Pushes a table of every channel name. Names are copied out under the
   lock first: Lua may raise (memory) and must never run with it held. */
static int allnames (lua_State *L) {
  size_t total = 0, pos = 0;
  int count = 0;
  cu_Chan *c;
  char *mem;
  for (;;) {
    size_t need = 0;
    cu_chan_lock();
    for (c = channels; c; c = c->next) need += sizeof(size_t) + c->len;
    if (need <= total) {
      mem = total ? (char *)lua_touserdata(L, -1) : NULL;
      for (c = channels; c; c = c->next) {
        memcpy(mem + pos, &c->len, sizeof(size_t));
        memcpy(mem + pos + sizeof(size_t), c->name, c->len);
        pos += sizeof(size_t) + c->len;
        count++;
      }
      cu_chan_unlock();
      break;
    }
    cu_chan_unlock();
    if (total) lua_pop(L, 1);
    total = need + 64;  /* room for channels created meanwhile */
    lua_newuserdatauv(L, total, 0);
  }
  lua_createtable(L, 0, count);
  for (total = 0; total < pos; ) {
    size_t len;
    memcpy(&len, mem + total, sizeof(size_t));
    lua_pushlstring(L, mem + total + sizeof(size_t), len);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    total += sizeof(size_t) + len;
  }
  return 1;
}

/* channel.getnames([names]) */
static int channel_getnames (lua_State *L) {
  if (lua_isnoneornil(L, 1)) return allnames(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
      size_t len;
      const char *name = lua_tolstring(L, 2, &len);
      int exists;
      cu_chan_lock();
      exists = find_chanlocked(name, len) != NULL;
      cu_chan_unlock();
      lua_pushvalue(L, 2);
      if (exists) lua_pushboolean(L, 1);
      else lua_pushnil(L);  /* clearing a field is fine during next */
      lua_rawset(L, 1);
    }
  }
  return 1;
}

/* Pushes true and the values of the matching call. */
static int pushmatch (lua_State *L, cu_Values *theirs) {
  cu_checkstack(L, theirs->n + 1);
  lua_pushboolean(L, 1);
  return 1 + cu_values_push(theirs, L);
}

/* channel.sync(ch, endpoint, ...) */
static int channel_sync (lua_State *L) {
  cu_Chan *c = checkopen(L, 1);
  int endpoint = checkendpoint(L, 2);
  cu_Values mine, theirs;
  int matched, n;
  cu_values_init(&mine);
  cu_values_init(&theirs);
  cu_values_checksave(&mine, L, 3, lua_gettop(L), 0);
  cu_chan_lock();
  matched = exchange_chanlocked(c, endpoint, &mine, &theirs);
  cu_chan_unlock();
  cu_values_free(&mine);
  if (!matched) {  /* false, not nil: conventions.md */
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "empty");
    return 2;
  }
  n = pushmatch(L, &theirs);
  cu_values_free(&theirs);
  return n;
}

/* --- system.awaitch ------------------------------------------------------ */

/* system.awaitch(ch, endpoint, ...) */
static int system_awaitch (lua_State *L) {
  cu_Loop *loop = cu_loopof(L);
  ChanObj *obj;
  cu_Chan *c = checkopen(L, 1);
  int endpoint = checkendpoint(L, 2);
  LoopSync *s;
  LoopWaiter *lw;
  cu_Await *op;
  int bad, matched;
  obj = checkchan(L, 1);
  if (loop->closing) return luaL_error(L, "closed");  /* see loop_gc */
  if (obj->waiter) return luaL_error(L, "in use");
  cu_checkyield(L);
  s = getsync(L, loop);
  lw = newwaiter(L, s);
  bad = cu_values_save(&lw->w.sent, L, 3, lua_gettop(L));
  if (bad != 0) {
    freewaiter(lw);
    if (bad < 0) return luaL_error(L, "not enough memory");
    cu_values_pusherror(L, "argument", bad, luaL_typename(L, bad));
    return lua_error(L);
  }
  lw->w.endpoint = endpoint;
  op = cu_await_beginbare(L);  /* may raise: nothing is queued yet */
  cu_chan_lock();
  matched = exchange_chanlocked(c, endpoint, &lw->w.sent, &lw->w.got);
  if (!matched) enqueue_chanlocked(c, &lw->w);
  cu_chan_unlock();
  if (matched) {  /* no need to wait: drop the record, return at once */
    int n;
    cu_await_drop(op);
    lua_settop(L, 0);
    n = pushmatch(L, &lw->w.got);
    freewaiter(lw);
    return n;
  }
  op->data = lw;
  op->cancel = cancelwait;
  lw->op = op;
  lw->obj = obj;
  obj->waiter = lw;
  updateref(s);
  return cu_await_yield(L, op, 0);
}

void cu_open_awaitch (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"awaitch", system_awaitch},
    {NULL, NULL}
  };
  cu_loop_setfuncs(L, funcs);
}

void cu_open_channel (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"create", channel_create},
    {"close", channel_close},
    {"getname", channel_getname},
    {"getnames", channel_getnames},
    {"sync", channel_sync},
    {NULL, NULL}
  };
  static const luaL_Reg metas[] = {
    {"__gc", channel_close},
    {NULL, NULL}
  };
  lua_pushboolean(L, 0);  /* upvalue: false for the module's 'close' */
  cu_newclass(L, CLASS, funcs, NULL, 1);
  lua_pushboolean(L, 1);  /* true for __gc: a collected channel detaches */
  luaL_setfuncs(L, metas, 1);
  lua_pushboolean(L, 0);  /* __close behaves like close */
  lua_pushcclosure(L, channel_close, 1);
  lua_setfield(L, -2, "__close");
  cu_classmodule(L);  /* the module is the method table */
  {
    /* A state whose loop exists (coutil.system came first) gets the
       loop's channel wake-up now, not on its first awaitch: that one then
       is as quick as the others, and one a program announced (by writing
       a file, say) is waiting by the time the other side acts on it. */
    cu_Loop *loop = cu_loop_peek(L);
    if (loop && !loop->closing) getsync(L, loop);
  }
}
