/*
** await.c: the await core. An await function starts a libuv operation
** with a record (cu_Await), anchors its coroutine in the record's
** registry slot and yields; the operation's callback resumes the coroutine via
** cu_await_finish. Ownership of the record is shared between libuv
** ('busy') and the waiting coroutine ('co'); the last one releases it.
** docs/design.md tells the whole story.
*/
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "await.h"
#include "memory.h"

/* --- anchors -------------------------------------------------------------
** Registry slots keep alive what libuv points at but the collector cannot
** see: the waiting coroutine and a kept value (a buffer being written).
** A record takes its slots (luaL_ref) on its first use and keeps them, so
** an await stores into and clears slots of the registry's array part,
** with no table to push first and never a rehash.
*/
static void setanchor (lua_State *L, int ref) {  /* pops the value */
  lua_rawseti(L, LUA_REGISTRYINDEX, ref);
}

/* Clears with false, never nil: luaL_ref hands out the slot after the
   registry's border, and a nil in our slots could put the border below
   them, so that another luaL_ref (ours too) would get a slot in use. */
static void clearanchor (lua_State *L, int ref) {
  lua_pushboolean(L, 0);
  lua_rawseti(L, LUA_REGISTRYINDEX, ref);
}

static int newslot (lua_State *L) {
  lua_pushboolean(L, 0);
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* --- records ------------------------------------------------------------
** Records live in slabs, each of records of one kind, made when a kind's
** free list is empty and freed only at the loop's teardown (libuv may
** point at a record until its callback came). A record's id is its slab
** and place: a waiting frame holds the id, never the address (below).
** Under a sanitizer or valgrind every slab holds one record, so that
** they see each record as an allocation of its own.
*/
struct cu_Slab {
  char *base;            /* its records, one after another */
  unsigned short count;  /* how many */
  unsigned char kind;
};

#define SLABSHIFT 8  /* an id is (slab << SLABSHIFT) | place */

#if !defined(CU_SLAB_BYTES) && (defined(CU_ASAN) || defined(CU_TSAN))
#define CU_SLAB_BYTES 0
#endif
#ifndef CU_SLAB_BYTES
#define CU_SLAB_BYTES 16384
#endif
/* A loop's first slab of a kind is small: most states (a pool's tasks,
   state coroutines) await a few times at most, and their first await is
   then a small malloc, not 16 KiB to allocate and touch (page faults:
   tens of microseconds under gVisor, inside the await that a program
   announced to another thread as imminent; docs/design.md, "Channels") */
#define CU_SLAB_FIRST (CU_SLAB_BYTES / 16)

/* Every request but getnameinfo fits a CU_AWAIT_REQ record. */
#define FITS(T) _Static_assert(sizeof(T) <= sizeof(((cu_Await *)0)->u.fsx), \
                               #T " must fit a request record")
FITS(uv_fs_t);
FITS(uv_write_t);
FITS(uv_connect_t);
FITS(uv_shutdown_t);
FITS(uv_udp_send_t);
FITS(uv_getaddrinfo_t);
FITS(uv_work_t);
FITS(uv_random_t);

#define ALIGNED(n) (((n) + _Alignof(cu_Await) - 1) & ~(_Alignof(cu_Await) - 1))

/* What a record of 'kind' needs: the header and its part of the union. */
static size_t recordsize (int kind) {
  switch (kind) {
    case CU_AWAIT_BARE: return ALIGNED(offsetof(cu_Await, sleep));
    case CU_AWAIT_TIMER:
      return ALIGNED(offsetof(cu_Await, sleep) +
                     sizeof(((cu_Await *)0)->sleep));
    case CU_AWAIT_BIG: return sizeof(cu_Await);
    default: return ALIGNED(offsetof(cu_Await, u) +
                            sizeof(((cu_Await *)0)->u.fsx));
  }
}

/* Only request records have 'pin', 'start' and 'u'. */
#define hasrequest(op) ((op)->kind == CU_AWAIT_REQ || \
                        (op)->kind == CU_AWAIT_BIG)

_Static_assert(CU_AWAIT_KINDS == sizeof(((cu_Loop *)0)->freed) /
               sizeof(cu_Await *), "one free list per kind");

static unsigned slabcount (size_t bytes, size_t size) {
  size_t n = bytes / size;
  return n < 1 ? 1 : n > (1u << SLABSHIFT) ? 1u << SLABSHIFT : (unsigned)n;
}

/* Fills the free list of 'kind' with the records of a new slab. */
static void newslab (lua_State *L, cu_Loop *loop, int kind) {
  size_t size = recordsize(kind);
  int first = !(loop->slabbed & (1u << kind));
  unsigned i, n = slabcount(first ? CU_SLAB_FIRST : CU_SLAB_BYTES, size);
  struct cu_Slab *slab;
  char *base;
  if (loop->nslabs == loop->capslabs) {
    unsigned cap = loop->capslabs ? 2 * loop->capslabs : 16;
    struct cu_Slab *slabs = NULL;
    if (cap <= UINT_MAX >> SLABSHIFT)  /* ids stay unsigned */
      slabs = realloc(loop->slabs, cap * sizeof(struct cu_Slab));
    if (slabs == NULL) luaL_error(L, "not enough memory");
    loop->slabs = slabs;
    loop->capslabs = cap;
  }
  base = malloc(n * size);
  if (base == NULL) luaL_error(L, "not enough memory");
  slab = &loop->slabs[loop->nslabs];
  slab->base = base;
  slab->count = (unsigned short)n;
  slab->kind = (unsigned char)kind;
  for (i = n; i-- > 0;) {  /* the slab's first record first in the list */
    cu_Await *op = (cu_Await *)(void *)(base + i * size);
    op->id = (loop->nslabs << SLABSHIFT) | i;
    op->loop = loop;
    op->kind = (unsigned char)kind;
    op->coref = op->keepref = LUA_NOREF;
    op->next = loop->freed[kind];
    loop->freed[kind] = op;
  }
  loop->nslabs++;
  loop->slabbed |= (unsigned char)(1u << kind);
}

/* The record whose id 'mark' encodes (see MARK), or NULL. */
static cu_Await *recordof (cu_Loop *loop, const void *mark) {
  uintptr_t v = (uintptr_t)mark;
  unsigned id, s, i;
  if ((v & 1) == 0 || (v >> 1) > UINT_MAX) return NULL;
  id = (unsigned)(v >> 1);
  s = id >> SLABSHIFT;
  i = id & ((1u << SLABSHIFT) - 1);
  if (s >= loop->nslabs || i >= loop->slabs[s].count) return NULL;
  return (cu_Await *)(void *)(loop->slabs[s].base +
                              i * recordsize(loop->slabs[s].kind));
}

void cu_await_freeall (cu_Loop *loop) {
  unsigned s;
  for (s = 0; s < loop->nslabs; s++) free(loop->slabs[s].base);
  free(loop->slabs);
  loop->slabs = NULL;
  loop->nslabs = loop->capslabs = 0;
  loop->slabbed = 0;
  memset(loop->freed, 0, sizeof(loop->freed));
}

/* --- guards: coroutine.close of a waiting coroutine ----------------------
** coroutine.close runs none of our code but the __close metamethods of the
** to-be-closed values on the coroutine's stack. So a waiting frame holds
** its record's mark, a light userdata that encodes the record's id, and
** (but for waits that end by themselves) makes it to-be-closed and arms
** the record: closing the coroutine stops the operation at once, as an
** early wake-up does, instead of keeping the loop busy until libuv is
** done. All light userdata of a state share one metatable: the loop gives
** it the __close below. So a waiting coroutine costs no Lua object of
** ours. The handler takes a light userdata for a mark only when it names
** a record of the loop, armed and waited on by the coroutine that closes
** (any other is let be), and await_k disarms the record before anything
** else, so the close when the frame returns does nothing.
*/
#define MARK(op) ((void *)(((uintptr_t)(op)->id << 1) | 1))

static void stopwaiting (lua_State *L, cu_Await *op);

static int guard_close (lua_State *L) {
  cu_Loop *loop = cu_loopof(L);
  cu_Await *op;
  if (loop->closing) return 0;  /* lua_close: the records may be gone */
  op = recordof(loop, lua_touserdata(L, 1));
  if (op != NULL && op->armed && op->co == L) {
    op->armed = 0;
    stopwaiting(L, op);
  }
  return 0;
}

void cu_await_setup (lua_State *L) {
  lua_pushlightuserdata(L, NULL);
  if (!lua_getmetatable(L, -1)) lua_createtable(L, 0, 1);
  /* a __close of ours stays from a loop whose making failed later */
  if (lua_getfield(L, -1, "__close") != LUA_TNIL &&
      lua_tocfunction(L, -1) != guard_close)
    luaL_error(L, "light userdata have a __close metamethod already");
  lua_pop(L, 1);
  lua_pushvalue(L, -3);  /* the loop */
  lua_pushcclosure(L, guard_close, 1);
  lua_setfield(L, -2, "__close");
  lua_setmetatable(L, -2);  /* of every light userdata */
  lua_pop(L, 1);
}

static void checkawait (lua_State *L, cu_Loop *loop) {
  /* a finalizer that runs after the loop's own at lua_close */
  if (loop->closing) luaL_error(L, "closed");
  cu_checkyield(L);
}

void cu_await_check (lua_State *L) {
  checkawait(L, cu_loopof(L));
}

static cu_Await *getrecord (lua_State *L, int kind) {
  cu_Loop *loop = cu_loopof(L);  /* (an upvalue look-up: once) */
  cu_Await *op;
  checkawait(L, loop);
  if (loop->freed[kind] == NULL) newslab(L, loop, kind);
  op = loop->freed[kind];
  /* its slots on first use, while it is still in the free list: a memory
     error leaves it there (and a slot, reused by later luaL_ref calls) */
  if (op->coref == LUA_NOREF) op->coref = newslot(L);
  /* requests take their keep slot now: they keep their value only once
     libuv started, when raising is too late (others take it in
     cu_await_yieldk, which can still raise) */
  if (op->keepref == LUA_NOREF && hasrequest(op)) op->keepref = newslot(L);
  loop->freed[kind] = op->next;
  op->co = L;
  op->busy = 1;
  op->unguarded = 0;
  op->armed = 0;
  op->kept = 0;
  op->cancel = NULL;
  op->k = NULL;
  op->data = NULL;
  op->left = NULL;
  op->next = op->prev = NULL;
  if (hasrequest(op)) {
    op->pin = NULL;
    op->start = NULL;
  }
  return op;
}

/* Back to its free list; the memory itself is freed at loop teardown. */
static void release (cu_Await *op) {
  cu_Loop *loop = op->loop;
  cu_Await **freelist = &loop->freed[op->kind];
  op->co = NULL;
  op->armed = 0;
  if (hasrequest(op) && op->pin) {  /* libuv is done with the bytes */
    cu_memory_unpin(loop->L0, op->pin);
    op->pin = NULL;
  }
  op->next = *freelist;
  *freelist = op;
}

cu_Await *cu_await_begin (lua_State *L) {
  return getrecord(L, CU_AWAIT_REQ);
}

cu_Await *cu_await_beginbare (lua_State *L) {
  return getrecord(L, CU_AWAIT_BARE);
}

cu_Await *cu_await_beginbig (lua_State *L) {
  return getrecord(L, CU_AWAIT_BIG);
}

cu_Await *cu_await_begintimer (lua_State *L) {
  return getrecord(L, CU_AWAIT_TIMER);
}

int cu_await_fail (lua_State *L, cu_Await *op, int err) {
  release(op);
  return cu_pushfail(L, err);
}

void cu_await_drop (cu_Await *op) {
  release(op);
}

void cu_await_endrequest (cu_Await *op, int status) {
  lua_State *co = cu_await_waiter(op);
  cu_await_finish(op, co, co ? cu_await_pushresult(op, co, status) : 0);
}

int cu_await_cancelwork (cu_Await *op) {
  uv_cancel(&op->u.req);
  return 0;
}

/* --- requests left early -------------------------------------------------
** A coroutine resumed early from a request that libuv goes on with leaves
** the record in loop->abandoned (op->left names the coroutine). Its next
** cu_await_start waits in loop->deferred until none of its abandoned
** requests is left, as in the original library, whose coroutines reuse
** one request at a time: so the order of its results does not depend on
** how fast libuv cancels the one it left.
*/
static void pushlist (cu_Await **list, cu_Await *op) {
  op->prev = NULL;
  op->next = *list;
  if (*list) (*list)->prev = op;
  *list = op;
}

static void unlist (cu_Await **list, cu_Await *op) {
  if (op->prev) op->prev->next = op->next;
  else *list = op->next;
  if (op->next) op->next->prev = op->prev;
  op->next = op->prev = NULL;
}

static int hasabandoned (cu_Loop *loop, lua_State *L) {
  cu_Await *op;
  for (op = loop->abandoned; op; op = op->next)
    if (op->left == L) return 1;
  return 0;
}

/* The last abandoned request of 'L' ended: starts its deferred one. */
static void startdeferred (cu_Loop *loop, lua_State *L) {
  cu_Await *op;
  int err;
  if (loop->closing || hasabandoned(loop, L)) return;
  for (op = loop->deferred; op && op->co != L; op = op->next) {}
  if (op == NULL) return;
  unlist(&loop->deferred, op);
  err = op->start(L, op);
  op->start = NULL;
  /* UV_ECANCELED when its object was closed meanwhile */
  if (err < 0) cu_await_endrequest(op, err);
}

/* cu_Cancel of a deferred record: it never started. */
static int canceldeferred (cu_Await *op) {
  unlist(&op->loop->deferred, op);
  op->start = NULL;
  return 1;
}

int cu_await_startk (lua_State *L, cu_Await *op, cu_Start start, int keep,
                     lua_KFunction k, lua_KContext ctx) {
  cu_Loop *loop = op->loop;
  if (loop->abandoned == NULL || !hasabandoned(loop, L)) {
    int err = start(L, op);
    if (err < 0) {
      int n = cu_await_fail(L, op, err);
      return k ? k(L, LUA_OK, ctx) : n;
    }
    return cu_await_yieldk(L, op, keep, k, ctx);
  }
  op->start = start;
  op->unguarded = 0;  /* a close must take it off the list */
  pushlist(&loop->deferred, op);
  return cu_await_yieldk(L, op, keep, k, ctx);
}

int cu_await_start (lua_State *L, cu_Await *op, cu_Start start, int keep) {
  return cu_await_startk(L, op, start, keep, NULL, 0);
}

void cu_await_teardown (cu_Loop *loop) {
  cu_Await *op;
  while ((op = loop->deferred) != NULL) {
    unlist(&loop->deferred, op);
    op->start = NULL;
    op->busy = 0;
    release(op);
  }
}

/* --- suspending and waking ---------------------------------------------- */

/* The coroutine no longer waits (an early wake-up, or a close): drops its
   anchor and stops libuv if it can; the record goes back to its free list
   unless libuv still holds it (then cu_await_finish releases it). */
static void stopwaiting (lua_State *L, cu_Await *op) {
  clearanchor(L, op->coref);
  op->co = NULL;
  if (hasrequest(op) && op->start) op->busy = !canceldeferred(op);
  else if (op->busy && op->cancel && op->cancel(op)) op->busy = 0;
  if (!op->busy) {  /* libuv let go as well: the record is ours */
    if (op->kept) clearanchor(L, op->keepref);
    release(op);
  }
  else if (op->kind != CU_AWAIT_TIMER) {  /* libuv goes on with it */
    op->left = L;
    pushlist(&op->loop->abandoned, op);
  }
}

static int await_k (lua_State *L, int status, lua_KContext ctx) {
  cu_Await *op = (cu_Await *)ctx;
  int base = op->base;  /* the mark's index */
  (void)status;
  op->armed = 0;
  /* the mark stays below the results (returning closes it, disarmed);
     only a continuation must see the frame as it was */
  if (op->k && !op->co) {
    if (!op->unguarded) lua_closeslot(L, base);
    lua_remove(L, base--);
  }
  if (op->co) {  /* woken by coroutine.resume: stop waiting */
    /* the resume values may fill the frame up to its top */
    cu_checkstack(L, 1);
    stopwaiting(L, op);
    return lua_gettop(L) - base;  /* the values given to resume */
  }
  else {  /* woken by cu_await_finish, which already dropped the anchors */
    lua_KFunction k = op->k;
    lua_KContext kctx = op->kctx;
    release(op);
    if (k) return k(L, LUA_YIELD, kctx);
    return lua_gettop(L) - base;  /* the values the callback pushed */
  }
}

int cu_await_yieldk (lua_State *L, cu_Await *op, int keep,
                     lua_KFunction k, lua_KContext ctx) {
  if (keep) keep = lua_absindex(L, keep);
  lua_pushthread(L);
  setanchor(L, op->coref);
  op->kept = keep != 0;
  if (keep) {
    lua_pushvalue(L, keep);
    if (op->keepref == LUA_NOREF) op->keepref = luaL_ref(L, LUA_REGISTRYINDEX);
    else setanchor(L, op->keepref);
  }
  /* A guard stops what can be stopped. A wait that cannot be stopped (a
     write, a connect) ends by itself, as does one marked unguarded (a
     suspend(0)): a coroutine.close meanwhile is noticed by
     cu_await_waiter, and the record released then. The mark tells this
     wait from a later one of the same thread, should C code reuse it
     after closing it. */
  /* a deferred record needs its guard: a close must take it off the list */
  if (op->cancel == NULL && (!hasrequest(op) || op->start == NULL))
    op->unguarded = 1;
  lua_pushlightuserdata(L, MARK(op));
  if (!op->unguarded) {
    lua_toclose(L, -1);
    op->armed = 1;
  }
  op->k = k;
  op->kctx = ctx;
  op->base = lua_gettop(L);  /* the mark's index */
  return lua_yieldk(L, 0, (lua_KContext)op, await_k);
}

int cu_await_yield (lua_State *L, cu_Await *op, int keep) {
  return cu_await_yieldk(L, op, keep, NULL, 0);
}

lua_State *cu_await_waiter (cu_Await *op) {
  lua_State *co = op->co;
  if (co == NULL || op->loop->closing) return NULL;
  /* A waiting coroutine leaves its yield only through await_k (which
     clears op->co) or by coroutine.close, which makes it dead (and whose
     guard normally stopped the operation already). */
  if (lua_status(co) != LUA_YIELD) return NULL;
  if (op->unguarded && (lua_gettop(co) < op->base ||
                        lua_touserdata(co, op->base) != MARK(op)))
    return NULL;  /* closed, then reused by C code for another wait */
  lua_checkstack(co, 8);
  return co;
}

typedef struct PushP {
  int (*push) (lua_State *L, void *data);
  void *data;
  lua_State *co;
} PushP;

/* Runs on R with a copy of co's stack as its frame: pushes read the
   arguments of the waiting call at their indices (the mode at 2, ...). */
static int pushp (lua_State *R) {
  PushP *p = (PushP *)lua_touserdata(R, 1);
  int i, top = lua_gettop(p->co);
  lua_pop(R, 1);
  luaL_checkstack(R, top + LUA_MINSTACK, NULL);
  for (i = 1; i <= top; i++) {  /* co has room: cu_await_waiter saw to it */
    lua_pushvalue(p->co, i);
    lua_xmove(p->co, R, 1);
  }
  return p->push(R, p->data);
}

int cu_loop_pushp (cu_Loop *loop, lua_State *co,
                   int (*push) (lua_State *L, void *data), void *data) {
  lua_State *R = loop->runner;
  PushP p;
  int base, n;
  p.push = push;
  p.data = data;
  p.co = co;
  if (R != NULL && lua_checkstack(R, 2)) {
    base = lua_gettop(R);
    lua_pushcfunction(R, pushp);
    lua_pushlightuserdata(R, &p);
    if (lua_pcall(R, 1, LUA_MULTRET, 0) == LUA_OK) {
      n = lua_gettop(R) - base;
      if (lua_checkstack(co, n)) {
        lua_xmove(R, co, n);
        return n;
      }
    }
    lua_settop(R, base);
  }
  /* nothing here allocates: the message is Lua's own, always interned */
  lua_pushboolean(co, 0);
  lua_pushliteral(co, "not enough memory");
  lua_pushinteger(co, 12);
  return 3;
}

int cu_await_pushp (cu_Await *op, lua_State *co,
                    int (*push) (lua_State *L, void *data), void *data) {
  return cu_loop_pushp(op->loop, co, push, data);
}

static int pushresult_p (lua_State *L, void *data) {
  return cu_pushresult(L, *(int *)data);
}

int cu_await_pushresult (cu_Await *op, lua_State *co, int err) {
  /* true allocates nothing: only libuv's message needs protection */
  if (err >= 0) return cu_pushresult(co, err);
  return cu_await_pushp(op, co, pushresult_p, &err);
}

static int pushfailure_p (lua_State *L, void *data) {
  lua_pushboolean(L, 0);
  lua_pushstring(L, (const char *)data);
  return 2;
}

int cu_await_pushfailure (cu_Await *op, lua_State *co, const char *msg) {
  return cu_await_pushp(op, co, pushfailure_p, (void *)msg);
}

/* cu_warnerror on R, for a coroutine whose error nobody catches. The
   message (a traceback, a conversion) needs memory: when there is none,
   a string error goes without its traceback, and any other is told as
   "not enough memory"; neither allocates. */
static int warnerror_p (lua_State *R) {
  lua_State *co = (lua_State *)lua_touserdata(R, 1);
  lua_remove(R, 1);  /* what is left: R's own error, when co is R */
  cu_warnerror(R, co);
  return 0;
}

static void warnunhandled (lua_State *R, lua_State *co) {
  int base = lua_gettop(R);
  const char *msg;
  if (lua_checkstack(R, 3)) {
    lua_pushcfunction(R, warnerror_p);
    lua_pushlightuserdata(R, co);
    if (co == R) lua_pushvalue(R, base);  /* a frame sees its arguments */
    if (lua_pcall(R, co == R ? 2 : 1, 0, 0) == LUA_OK) return;
  }
  lua_settop(R, base);
  msg = lua_type(co, -1) == LUA_TSTRING ? lua_tostring(co, -1) : NULL;
  lua_warning(R, CU_WARN_PREFIX, 1);
  lua_warning(R, msg ? msg : "not enough memory", 0);
}

void cu_loop_resume (cu_Loop *loop, lua_State *co, int n) {
  int nres;
  int status = lua_resume(co, loop->runner, n, &nres);
  if (status == LUA_OK || status == LUA_YIELD) lua_pop(co, nres);
  else {  /* nobody can catch it: warn, then close its pending
             to-be-closed variables, as coroutine.wrap does */
    lua_State *R = loop->runner;
    warnunhandled(R, co);
    lua_checkstack(R, 3);
    lua_xmove(co, R, 1);  /* the error, to tell a new one from it */
    lua_pushvalue(R, -1);
    lua_xmove(R, co, 1);  /* __close handlers get it */
    if (lua_resetthread(co) != LUA_OK) {  /* the old or a new error */
      lua_xmove(co, R, 1);
      if (!lua_rawequal(R, -1, -2)) warnunhandled(R, R);
      lua_pop(R, 1);
    }
    lua_settop(co, 0);
    lua_pop(R, 1);
  }
}

void cu_await_finish (cu_Await *op, lua_State *co, int n) {
  cu_Loop *loop = op->loop;
  lua_State *R = loop->runner;
  lua_State *left = op->left;
  op->busy = 0;
  if (left) {
    unlist(&loop->abandoned, op);
    op->left = NULL;
  }
  if (loop->closing) {  /* lua_close: C memory only */
    release(op);
    return;
  }
  if (co) {
    /* the runner's stack holds 'co' while it runs: it has no anchor now */
    lua_rawgeti(R, LUA_REGISTRYINDEX, op->coref);
    clearanchor(R, op->coref);
    if (op->kept) clearanchor(R, op->keepref);
    op->co = NULL;  /* tells await_k that the loop woke it */
    cu_loop_resume(loop, co, n);  /* await_k releases 'op' */
    lua_pop(R, 1);
  }
  else {  /* nobody waits, or the waiter was closed */
    if (op->co) clearanchor(R, op->coref);
    if (op->kept) clearanchor(R, op->keepref);
    release(op);
  }
  if (left) startdeferred(loop, left);
}
