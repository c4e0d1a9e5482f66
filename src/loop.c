/*
** loop.c: the per-state libuv loop (system.run, system.isrunning,
** system.halt) and its teardown at lua_close. The loop userdata is made
** before any other object of coutil.system, so its finalizer runs last:
** it closes what is left and runs libuv until every callback has fired.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "areas.h"
#include "await.h"
#include "channel.h"
#include "time.h"

static const char LOOPKEY = 'L';  /* registry key (its address) */

/* libuv takes descriptors 0, 1 and 2 for the standard streams and aborts
   when one of its own is among them (the loop's epoll and eventfd would
   be, in a process started with stdin closed): those that are closed get
   /dev/null first, as daemons do. */
static void fillstdio (void) {
  int fd;
  for (fd = 0; fd <= 2; fd++) {
    int null;
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    null = open("/dev/null", O_RDWR);
    if (null >= 0 && null != fd) {
      dup2(null, fd);
      close(null);
    }
  }
}

/* --- teardown --------------------------------------------------------- */

static void on_strayclosed (uv_handle_t *h) { (void)h; }

static void closestray (uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, on_strayclosed);
}

static void on_roundend (uv_check_t *check) {
  cu_Loop *loop = cu_container_of(check, cu_Loop, roundend);
  loop->round++;
  uv_check_stop(check);
}

unsigned cu_loop_round (cu_Loop *loop) {
  if (!uv_is_active((uv_handle_t *)&loop->roundend))
    uv_check_start(&loop->roundend, on_roundend);
  return loop->round;
}

/* __gc of the loop userdata: runs at lua_close (nothing else refers to it
   before that: every system function keeps it as an upvalue). */
static int loop_gc (lua_State *L) {
  cu_Loop *loop = (cu_Loop *)lua_touserdata(L, 1);
  if (loop->closing) return 0;
  /* from now on callbacks touch C memory only; and it stays set, so the
     finalizer of an object older than the loop gets 'closed' errors from
     run, time and every await function instead of a closed uv loop */
  loop->closing = 1;
  while (loop->nhooks > 0) {  /* a teardown may unhook itself */
    int i = loop->nhooks - 1;
    const cu_LoopHooks *h = loop->hook[i].hooks;
    void *data = loop->hook[i].data;
    cu_loop_unhook(loop, h);
    if (h->teardown) h->teardown(loop, data);
  }
  uv_close((uv_handle_t *)&loop->idle, NULL);
  uv_close((uv_handle_t *)&loop->roundend, NULL);
  uv_close((uv_handle_t *)&loop->lateend, NULL);
  cu_await_teardown(loop);  /* requests that never started */
  /* suspend callers never woken: their records go with the rest */
  loop->readyhead = loop->readytail = loop->drainhead = NULL;
  loop->latehead = loop->latetail = NULL;
  cu_time_teardown(loop);
  uv_close((uv_handle_t *)&loop->sleeper, NULL);
  uv_run(&loop->uv, UV_RUN_DEFAULT);  /* every pending callback fires */
  if (uv_loop_close(&loop->uv) == UV_EBUSY) {
    /* a handle whose owner never closed it: close it, then stop */
    uv_walk(&loop->uv, closestray, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    uv_loop_close(&loop->uv);
  }
  free(loop->sparestash);
  loop->sparestash = NULL;
  cu_await_freeall(loop);  /* nothing points at a record any more */
  return 0;
}

/* --- hooks ------------------------------------------------------------ */

void cu_loop_hook (cu_Loop *loop, const cu_LoopHooks *hooks, void *data) {
  if (cu_loop_hookdata(loop, hooks) != NULL || loop->nhooks == CU_MAXHOOKS)
    return;
  loop->hook[loop->nhooks].hooks = hooks;
  loop->hook[loop->nhooks].data = data;
  loop->nhooks++;
}

void cu_loop_unhook (cu_Loop *loop, const cu_LoopHooks *hooks) {
  int i;
  for (i = 0; i < loop->nhooks; i++) {
    if (loop->hook[i].hooks == hooks) {  /* the order stays */
      loop->nhooks--;
      for (; i < loop->nhooks; i++) loop->hook[i] = loop->hook[i + 1];
      return;
    }
  }
}

void *cu_loop_hookdata (cu_Loop *loop, const cu_LoopHooks *hooks) {
  int i;
  for (i = 0; i < loop->nhooks; i++)
    if (loop->hook[i].hooks == hooks) return loop->hook[i].data;
  return NULL;
}

/* --- creation --------------------------------------------------------- */

cu_Loop *cu_loop_peek (lua_State *L) {
  cu_Loop *loop = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &LOOPKEY) == LUA_TUSERDATA)
    loop = (cu_Loop *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return loop;
}

cu_Loop *cu_loop_push (lua_State *L) {
  cu_Loop *loop;
  int rc;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &LOOPKEY) == LUA_TUSERDATA)
    return (cu_Loop *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  loop = (cu_Loop *)lua_newuserdatauv(L, sizeof(cu_Loop), 0);
  memset(loop, 0, sizeof(cu_Loop));
  loop->closing = 1;  /* harmless until fully built */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, loop_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  /* first what can raise: nothing to undo then (the half-made loop
     stays closed, and a later making replaces its __close handler) */
  cu_await_setup(L);
  fillstdio();
  if ((rc = uv_loop_init(&loop->uv)) < 0)  /* a memory error like Lua's */
    luaL_error(L, rc == UV_ENOMEM ? "not enough memory" : "unable to create loop");
  uv_idle_init(&loop->uv, &loop->idle);
  uv_timer_init(&loop->uv, &loop->sleeper);
  uv_check_init(&loop->uv, &loop->roundend);
  uv_unref((uv_handle_t *)&loop->roundend);  /* never keeps the loop */
  uv_check_init(&loop->uv, &loop->lateend);
  uv_unref((uv_handle_t *)&loop->lateend);  /* the idle handle does */
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  loop->L0 = lua_tothread(L, -1);
  lua_pop(L, 1);
  loop->closing = 0;
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &LOOPKEY);
  return loop;
}

uv_loop_t *cu_loop_open (lua_State *L) {
  cu_Loop *loop = cu_loopof(L);
  if (loop->closing) luaL_error(L, "closed");
  return &loop->uv;
}

void cu_loop_setfuncs (lua_State *L, const luaL_Reg *l) {
  cu_loop_push(L);
  luaL_setfuncs(L, l, 1);
}

void cu_loop_newclass (lua_State *L, const char *name,
                      const luaL_Reg *methods, const luaL_Reg *metamethods) {
  cu_loop_push(L);
  cu_newclass(L, name, methods, metamethods, 1);
}

/* --- system.run, isrunning, halt -------------------------------------- */

static int run_k (lua_State *L, int status, lua_KContext ctx);

/* system.run([mode]) */
static int system_run (lua_State *L) {
  static const char *const modes[] = {"loop", "step", "ready", NULL};
  static const uv_run_mode uvmodes[] = {UV_RUN_DEFAULT, UV_RUN_ONCE,
                                        UV_RUN_NOWAIT};
  cu_Loop *loop = cu_loopof(L);
  int mode = luaL_checkoption(L, 1, "loop", modes);
  int i;
  if (loop->closing) return luaL_error(L, "closed");  /* see loop_gc */
  if (loop->runner) return luaL_error(L, "already running");
  lua_settop(L, 1);
  loop->runner = L;
  loop->halted = 0;
  for (i = 0; i < loop->nhooks; i++) {
    const cu_LoopHooks *h = loop->hook[i].hooks;
    if (h->beforerun) h->beforerun(L, loop, loop->hook[i].data, mode == 0);
  }
  uv_run(&loop->uv, uvmodes[mode]);
  for (i = loop->nhooks - 1; i >= 0; i--) {  /* one may unhook itself */
    const cu_LoopHooks *h = loop->hook[i].hooks;
    int n = h->afterrun ? h->afterrun(L, loop, loop->hook[i].data) : 0;
    if (n > 0) {  /* a task with only awaitch left yields its thread */
      loop->runner = NULL;
      return lua_yieldk(L, n, 0, run_k);
    }
  }
  loop->runner = NULL;
  lua_pushboolean(L, uv_loop_alive(&loop->uv));
  return 1;
}

static int run_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  return system_run(L);
}

/* system.isrunning() */
static int system_isrunning (lua_State *L) {
  lua_pushboolean(L, cu_loopof(L)->runner != NULL);
  return 1;
}

/* system.halt() */
static int system_halt (lua_State *L) {
  cu_Loop *loop = cu_loopof(L);
  if (loop->runner == NULL) return luaL_error(L, "not running");
  loop->halted = 1;
  uv_stop(&loop->uv);
  return 0;
}

void cu_open_loop (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"run", system_run},
    {"isrunning", system_isrunning},
    {"halt", system_halt},
    {NULL, NULL}
  };
  cu_loop_setfuncs(L, funcs);
}
