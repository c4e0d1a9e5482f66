/*
** await.h: the one mechanism behind every await function of
** coutil.system. See docs/design.md, "Await functions".
**
** An operation record (cu_Await) has two owners: libuv, until the
** operation's callback calls cu_await_finish, and the waiting coroutine,
** until it wakes. Whoever is last frees it; no one else does.
**
**   static int system_thing (lua_State *L) {
**     ...check every argument...
**     if (cu_blocking(mode)) return thing_now(L);   // '~'
**     cu_Await *op = cu_await_begin(L);      // raises 'unable to yield'
**     int err = uv_thing(cu_loop(L), &op->u.thing, ..., on_thing);
**     if (err < 0) return cu_await_fail(L, op, err);
**     return cu_await_yield(L, op, 0);        // or index of a buffer
**   }
**   static void on_thing (uv_thing_t *req) {
**     cu_Await *op = cu_await_from(req);
**     lua_State *co = cu_await_waiter(op);   // NULL: nobody waits
**     int n = co ? push_thing_result(co, req) : 0;
**     cu_await_finish(op, co, n);            // resumes co; may free op
**   }
**
** When the coroutine is woken by coroutine.resume before the callback,
** the core calls op->cancel (if set) and the await returns the resume
** values. coroutine.close of the waiting coroutine calls op->cancel the
** same way (from inside coroutine.close: touch C memory and libuv only).
** The cancel function returns nonzero when libuv no longer uses the
** record (a stopped timer, a stream that stopped reading); zero when a
** callback will still come (uv_cancel, an unstoppable write), which must
** then call cu_await_finish(op, NULL-or-waiter, 0) as usual.
*/
#ifndef coutil_await_h
#define coutil_await_h

#include "loop.h"

typedef int (*cu_Cancel) (cu_Await *op);

/* Starts libuv on 'op' for coroutine 'L', reading the await function's
   arguments from L's stack (still there when it runs later, with the
   coroutine suspended in that function): 0 or a libuv error. */
typedef int (*cu_Start) (lua_State *L, cu_Await *op);

struct cu_Await {
  lua_State *co;        /* waiting coroutine; NULL once nobody waits */
  cu_Loop *loop;
  cu_Cancel cancel;     /* how to stop libuv on an early wake-up */
  void *data;           /* free for the await function's own use */
  cu_Await *next, *prev;/* free, ready, abandoned or deferred list */
  lua_State *left;      /* the coroutine that left it early while libuv
                           still held it (loop->abandoned), or NULL */
  lua_KFunction k;      /* continuation after a loop wake-up, or NULL */
  lua_KContext kctx;    /* its context */
  int base;             /* stack top of 'co' when it yielded */
  int coref, keepref;   /* its registry slots: the coroutine, a kept
                           value */
  unsigned gen;         /* which list it is in: ready-list batch
                           (time.c), waiting or draining (signal.c) */
  unsigned id;          /* its number in the loop's slabs (await.c) */
  unsigned char kind;   /* CU_AWAIT_REQ, ... */
  unsigned char busy;   /* libuv still references the record */
  unsigned char kept;   /* a value is anchored at the keep slot */
  unsigned char unguarded; /* set before yielding when the wait ends by
                           itself soon (a suspend(0)), so a coroutine.close
                           need not stop it: saves the guard's cost */
  unsigned char armed;  /* its waiting frame's guard is armed (await.c) */
  /* Last: records are only as large as their kind needs (a waiting
     coroutine costs its header and little else), so only the members of
     the record's kind may be touched. */
  union {
    struct {            /* CU_AWAIT_TIMER: a sleeper of the loop's
                           calendar (time.c), listed by next and prev */
      struct cu_Bucket *bucket;  /* the one of its deadline */
    } sleep;
    struct {            /* CU_AWAIT_REQ and CU_AWAIT_BIG: a request */
      void *pin;        /* memory pin token (memory.h) of the bytes the
                           request uses: unpinned when the record goes */
      cu_Start start;   /* set while it waits for its coroutine's
                           abandoned requests to end (loop->deferred) */
      union {
        uv_req_t req;
        uv_fs_t fs;
        uv_write_t write;
        uv_connect_t connect;
        uv_shutdown_t shutdown;
        uv_udp_send_t send;
        uv_getaddrinfo_t getaddrinfo;
        uv_work_t work;
        uv_random_t random;
        char fsx[512];  /* a file system request and what filesys.c adds */
        uv_getnameinfo_t getnameinfo;  /* CU_AWAIT_BIG only */
      } u;
    };
  };
};

/* Kinds of records, each with its own free list: */
enum {
  CU_AWAIT_REQ,    /* a libuv request but getnameinfo (cu_await_begin) */
  CU_AWAIT_TIMER,  /* a sleeper of the loop's calendar (cu_await_begintimer) */
  CU_AWAIT_BARE,   /* no libuv request: header only (cu_await_beginbare) */
  CU_AWAIT_BIG,    /* any, getnameinfo's 1,320 bytes too */
  CU_AWAIT_KINDS
};

/* Starts an await on the running coroutine L: raises 'unable to yield'
   when L cannot yield. The record belongs to both owners from now on. */
cu_Await *cu_await_begin (lua_State *L);

/* Raises what cu_await_begin raises ('closed' after the loop's teardown,
   'unable to yield'): for await functions that do their work at once,
   before they know whether they need a record. */
void cu_await_check (lua_State *L);

/* Like cu_await_begin, for waits that no libuv request of the record
   serves (the ready list, signals, channels, stream reads, accepts,
   children): the record has no union at all. */
cu_Await *cu_await_beginbare (lua_State *L);

/* Like cu_await_begin, with room for any member of the union. */
cu_Await *cu_await_beginbig (lua_State *L);

/* Like cu_await_begin, for suspend(seconds) (time.c): the record holds
   a sleeper of the loop's calendar instead of a request. */
cu_Await *cu_await_begintimer (lua_State *L);

/* libuv refused to start: drops the record, pushes the failure triple. */
int cu_await_fail (lua_State *L, cu_Await *op, int err);

/* Starts the request of 'op' with 'start' and suspends L as cu_await_yield
   does; a refusal returns the failure triple at once. As in the original
   library, when L left a request early (coroutine.resume) that libuv
   still performs, this one waits until that one has ended: 'start' then
   runs, and a refusal resumes L with the failure triple. */
int cu_await_start (lua_State *L, cu_Await *op, cu_Start start, int keep);

/* cu_await_start with a continuation, as in cu_await_yieldk: when the loop
   wakes L, 'k' runs with the pushed results on top; a request that cannot
   start runs 'k' at once, with the failure triple on top. */
int cu_await_startk (lua_State *L, cu_Await *op, cu_Start start, int keep,
                     lua_KFunction k, lua_KContext ctx);

/* The place of the arguments a cu_Start reads (a struct 'T' of the await
   function's own), kept in the record's union until the request starts:
   a start copies them out first, since the libuv call writes over them. */
#define cu_await_args(op, T) ((T *)(void *)&(op)->u)
#define CU_ARGS_FIT(T) \
  _Static_assert(sizeof(T) <= sizeof(((cu_Await *)0)->u.fsx), #T " must fit")

/* Loop teardown: frees the records still waiting to start. */
void cu_await_teardown (cu_Loop *loop);

/* The loop's last step: frees the memory of every record. */
void cu_await_freeall (cu_Loop *loop);

/* At the making of the loop (its userdata on top of L's stack): gives
   light userdata the __close handler of waiting frames (await.c). */
void cu_await_setup (lua_State *L);

/* Drops a record that will not be yielded with (a check failed after
   cu_await_begin). */
void cu_await_drop (cu_Await *op);

/* The callback of a request whose only result is success: resumes the
   coroutine still waiting with true or the failure triple (a request
   that closing its object cancelled gets "operation canceled", as in the
   original library). */
void cu_await_endrequest (cu_Await *op, int status);

/* cu_Cancel of thread-pool requests (getaddrinfo, random, file system):
   uv_cancel, which fails once a pool thread runs it; either way the
   callback comes, with UV_ECANCELED if it was cancelled. */
int cu_await_cancelwork (cu_Await *op);

/* Suspends L until cu_await_finish resumes it. 'keep' is the stack index
   of a value (a buffer, a string being written) that must stay alive
   until libuv is done, or 0. Returns what the await function returns. */
int cu_await_yield (lua_State *L, cu_Await *op, int keep);

/* Same, but when the loop (not coroutine.resume) wakes the coroutine,
   the record is released and 'k' runs as k(L, LUA_YIELD, ctx) with the
   pushed results on top of the stack; 'k' may begin a new await. An early
   wake-up by coroutine.resume still returns the resume values. */
int cu_await_yieldk (lua_State *L, cu_Await *op, int keep,
                     lua_KFunction k, lua_KContext ctx);

/* The record of a request or timer handle (container_of on u). */
#define cu_await_from(p) cu_container_of((void *)(p), cu_Await, u)

/* The coroutine still waiting on 'op', with room for 8 more values on its
   stack, or NULL (resumed early, closed, or the loop is closing). */
lua_State *cu_await_waiter (cu_Await *op);

/* Pushes the results of a callback onto 'co' (a waiter) without raising:
   calls push(R, data) under lua_pcall on the loop's runner R, in a frame
   that holds a copy of co's stack (so a push reads the waiting call's
   arguments where they are on co), then moves the values it returned
   onto 'co'. Returns their count; when the push
   raises (a memory error), or when the values do not fit on 'co', pushes
   the failure triple of UV_ENOMEM instead (false, "not enough memory",
   12), which allocates nothing, and returns its count. A push raising in
   a callback otherwise unwinds through uv_run. */
int cu_await_pushp (cu_Await *op, lua_State *co,
                    int (*push) (lua_State *L, void *data), void *data);

/* cu_await_pushp for resumes no record serves (cu_loop_resume then):
   'co' needs room for one more value, as cu_await_waiter leaves. */
int cu_loop_pushp (cu_Loop *loop, lua_State *co,
                   int (*push) (lua_State *L, void *data), void *data);

/* cu_pushresult(co, err) through cu_await_pushp: true, or the failure
   triple of 'err' (whose libuv message is a new string). */
int cu_await_pushresult (cu_Await *op, lua_State *co, int err);

/* False and 'msg' (a static string) through cu_await_pushp: for results
   that cannot be delivered, so that the waiter is resumed and told
   rather than left waiting for ever (too many values for its stack). */
int cu_await_pushfailure (cu_Await *op, lua_State *co, const char *msg);

/* libuv is done with 'op'. If 'co' is not NULL, resumes it with the 'n'
   values on its top (errors go to warn). Frees 'op' when nobody waits.
   Only inside a libuv callback (it uses the thread running system.run). */
void cu_await_finish (cu_Await *op, lua_State *co, int n);

/* Resumes 'co' from a libuv callback with the 'n' values on its top,
   reporting errors as warnings. For waits not tied to a cu_Await. */
void cu_loop_resume (cu_Loop *loop, lua_State *co, int n);

#endif
