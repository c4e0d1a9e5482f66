/*
** signal.c: system.emitsig and system.awaitsig (manual, "System
** Processes"). A loop keeps one uv_signal_t per awaited signal, with the
** list of records of the coroutines awaiting it; the handle is stopped
** whenever that list is empty, so the signal gets its usual action back.
** The process ignores SIGPIPE unless someone awaits "brokenpipe".
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "areas.h"
#include "await.h"
#include "signal.h"

#ifndef SIGPOLL
#define SIGPOLL SIGIO  /* the BSDs name it only so */
#endif

/* The awaitsig names come first (NAWAIT of them); emitsig takes all. */
static const struct { const char *name; int signum; } signals[] = {
  {"abort", SIGABRT}, {"brokenpipe", SIGPIPE}, {"child", SIGCHLD},
  {"clocktime", SIGALRM}, {"continue", SIGCONT}, {"cpulimit", SIGXCPU},
  {"cputime", SIGVTALRM}, {"cputotal", SIGPROF}, {"filelimit", SIGXFSZ},
  {"hangup", SIGHUP}, {"interrupt", SIGINT}, {"polling", SIGPOLL},
  {"quit", SIGQUIT}, {"stdinoff", SIGTTIN}, {"stdoutoff", SIGTTOU},
  {"stop", SIGTSTP}, {"sysargerr", SIGSYS}, {"terminate", SIGTERM},
  {"trap", SIGTRAP}, {"urgentsock", SIGURG}, {"userdef1", SIGUSR1},
  {"userdef2", SIGUSR2}, {"winresize", SIGWINCH},
  {"STOP", SIGSTOP}, {"TERMINATE", SIGKILL}  /* cannot be caught */
};

#define NSIGNALS ((int)(sizeof(signals) / sizeof(signals[0])))
#define NAWAIT (NSIGNALS - 2)

/* Index in 'signals' of the name at 'arg', among the first 'n'. */
static int checkname (lua_State *L, int arg, int n) {
  const char *name = luaL_checkstring(L, arg);
  int i;
  for (i = 0; i < n; i++)
    if (strcmp(signals[i].name, name) == 0) return i;
  return luaL_argerror(L, arg,
                       lua_pushfstring(L, "invalid signal '%s'", name));
}

const char *cu_signal_name (int signum) {
  int i;
  for (i = 0; i < NSIGNALS; i++)
    if (signals[i].signum == signum) return signals[i].name;
  return NULL;
}

/* An integer at 'arg' that fits an int: a signal number or a pid. */
static int checkint (lua_State *L, int arg) {
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= -0x7fffffff - 1 && n <= 0x7fffffff, arg,
                "out of range");
  return (int)n;
}

int cu_signal_check (lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TNUMBER) return checkint(L, arg);
  return signals[checkname(L, arg, NSIGNALS)].signum;
}

/* --- SIGPIPE --------------------------------------------------------------
** A write to a pipe or socket whose reader is gone must fail with "broken
** pipe", not kill the process: so SIGPIPE is ignored while its action is
** the default. libuv resets that action to the default whenever the last
** handle of a signal stops, so stopping a "brokenpipe" watch ignores it
** again. 'sigpipelock' makes that reset and our restore one step for
** every loop of the process: another thread's loop starting to await
** "brokenpipe" in between would have its handler replaced. Children made
** by uv_spawn get default actions back (libuv resets them).
*/
static uv_once_t initonce = UV_ONCE_INIT;
static uv_mutex_t sigpipelock;

static void ignorepipe (void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
      sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL);
  }
}

static void initprocess (void) {
  if (uv_mutex_init(&sigpipelock) < 0) abort();  /* as libuv's own locks */
  ignorepipe();
}

/* --- watches: one handle per signal per loop ----------------------------- */

/* The records of the coroutines awaiting a signal wait in 'head' (oldest
   first). A delivery moves them to 'drain' and wakes them from there, so
   that those awaiting again while it runs wait for the next one. A
   record's 'gen' tells the list it is in. */
typedef struct Watch {
  uv_signal_t handle;   /* active exactly while someone waits */
  const char *name;     /* what awaitsig returns */
  int signum;
  cu_Await *head, *tail;
  cu_Await *drain;
} Watch;

enum { WAITING, DRAINING };  /* values of cu_Await.gen */

/* A loop's watches, made on the first await of each signal; registered
   with the loop (sighooks) on the first await of any. */
typedef struct Signals {
  Watch *watch[NAWAIT];
} Signals;

static void addwaiter (Watch *w, cu_Await *op) {
  op->gen = WAITING;
  op->next = NULL;
  op->prev = w->tail;
  if (w->tail) w->tail->next = op;
  else w->head = op;
  w->tail = op;
}

static void removewaiter (Watch *w, cu_Await *op) {
  if (op->prev) op->prev->next = op->next;
  else if (op->gen == WAITING) w->head = op->next;
  else w->drain = op->next;
  if (op->next) op->next->prev = op->prev;
  else if (op->gen == WAITING) w->tail = op->prev;
  op->next = op->prev = NULL;
}

static void on_signal (uv_signal_t *handle, int signum);

static int startwatch (Watch *w) {
  int err;
  if (uv_is_active((uv_handle_t *)&w->handle)) return 0;
  uv_mutex_lock(&sigpipelock);
  err = uv_signal_start(&w->handle, on_signal, w->signum);
  uv_mutex_unlock(&sigpipelock);
  return err;
}

/* Nobody awaits the signal: its usual action comes back (libuv's reset to
   the default, but SIGPIPE stays ignored). */
static void stopwatch (Watch *w) {
  if (!uv_is_active((uv_handle_t *)&w->handle)) return;
  uv_mutex_lock(&sigpipelock);
  uv_signal_stop(&w->handle);
  if (w->signum == SIGPIPE) ignorepipe();
  uv_mutex_unlock(&sigpipelock);
}

/* The name of the signal, the result of an await that sees it. */
static int pushname_p (lua_State *L, void *data) {
  lua_pushstring(L, ((Watch *)data)->name);
  return 1;
}

/* Every coroutine awaiting at the delivery wakes, oldest first. libuv
   never calls this again before it returns, and a record taken out of
   'drain' meanwhile (an early resume by a woken coroutine) is skipped. */
static void on_signal (uv_signal_t *handle, int signum) {
  Watch *w = cu_container_of(handle, Watch, handle);
  cu_Await *op;
  (void)signum;
  w->drain = w->head;
  w->head = w->tail = NULL;
  for (op = w->drain; op; op = op->next) op->gen = DRAINING;
  while ((op = w->drain) != NULL) {
    lua_State *co;
    removewaiter(w, op);
    co = cu_await_waiter(op);
    cu_await_finish(op, co, co ? cu_await_pushp(op, co, pushname_p, w) : 0);
  }
  if (w->head == NULL) stopwatch(w);
}

/* Early resume or coroutine.close of a waiting coroutine. */
static int cancelwait (cu_Await *op) {
  Watch *w = (Watch *)op->data;
  removewaiter(w, op);
  if (w->head == NULL) stopwatch(w);
  return 1;  /* the handle never points at records */
}

static const cu_LoopHooks sighooks;

/* The watch of signals[i] in L's loop, made if needed; 0 or an error. */
static int getwatch (lua_State *L, int i, Watch **pw) {
  cu_Loop *loop = cu_loopof(L);
  Signals *s = (Signals *)cu_loop_hookdata(loop, &sighooks);
  Watch *w;
  int err;
  if (s == NULL) {
    if ((s = (Signals *)calloc(1, sizeof(Signals))) == NULL)
      return UV_ENOMEM;
    cu_loop_hook(loop, &sighooks, s);
  }
  if ((w = s->watch[i]) == NULL) {
    if ((w = (Watch *)calloc(1, sizeof(Watch))) == NULL) return UV_ENOMEM;
    if ((err = uv_signal_init(&loop->uv, &w->handle)) < 0) {
      free(w);  /* a failed init leaves no handle behind */
      return err;
    }
    w->name = signals[i].name;
    w->signum = signals[i].signum;
    s->watch[i] = w;
  }
  *pw = w;
  return 0;
}

static void on_watchclosed (uv_handle_t *h) {
  free(cu_container_of(h, Watch, handle));
}

/* lua_close (loop->closing set): drops every waiting record and closes
   every handle; on_watchclosed frees them in the loop's last run. */
static void teardown (cu_Loop *loop, void *data) {
  Signals *s = (Signals *)data;
  int i;
  (void)loop;
  for (i = 0; i < NAWAIT; i++) {
    Watch *w = s->watch[i];
    cu_Await *op;
    if (w == NULL) continue;
    while ((op = w->head) != NULL) {
      removewaiter(w, op);
      cu_await_finish(op, NULL, 0);  /* closing: releases it */
    }
    stopwatch(w);  /* before uv_close, which would reset SIGPIPE too */
    uv_close((uv_handle_t *)&w->handle, on_watchclosed);
  }
  free(s);
}

static const cu_LoopHooks sighooks = {NULL, NULL, teardown};

/* --- functions --------------------------------------------------------- */

/* system.emitsig(pid, signal) */
static int system_emitsig (lua_State *L) {
  int pid = checkint(L, 1);
  int signum = cu_signal_check(L, 2);
  return cu_pushresult(L, uv_kill(pid, signum));
}

/* system.awaitsig(signal) */
static int system_awaitsig (lua_State *L) {
  cu_Await *op;
  Watch *w = NULL;
  int i, err;
  cu_checkyield(L);  /* before the name, as the original */
  i = checkname(L, 1, NAWAIT);
  op = cu_await_beginbare(L);
  err = getwatch(L, i, &w);
  if (err == 0) err = startwatch(w);
  if (err < 0) return cu_await_fail(L, op, err);
  op->cancel = cancelwait;
  op->data = w;
  addwaiter(w, op);
  return cu_await_yield(L, op, 0);
}

void cu_open_signal (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"emitsig", system_emitsig},
    {"awaitsig", system_awaitsig},
    {NULL, NULL}
  };
  uv_once(&initonce, initprocess);
  cu_loop_setfuncs(L, funcs);
}
