/*
** test/c/allocfail.c: a Lua host whose allocator fails one allocation (or
** every one from some point on), for test/allocfail.lua.
**
**   allocfail <libdir> <scenario.lua> <N> [from|twice|once] [lua|uv|both]
**
** The scenario file is run (not counted) and must return a function; the
** count starts at 0 just before that function is called through lua_pcall,
** and from the N-th allocation on every one fails until the pcall returns
** ("from", the default; N = 0: none fails). Lua answers a failed
** allocation with an emergency collection and one more try, so "once" (the
** N-th only) almost never reaches the program: it tests the emergency
** collection; "twice" (the N-th and the next, the retry) is a transient
** failure the program must survive and go on from. "lua" counts the Lua
** allocator (every state the scenario makes uses it too: independent states
** take the caller's allocator), "uv" libuv's (uv_replace_allocator: the
** requests and handles libuv allocates itself, whose failure comes back as
** UV_ENOMEM, "not enough memory" in a failure triple), "both" (default) one
** count over both. libuv's reallocs are not counted (see u_realloc). The allocator is thread safe (atomic count): pool tasks
** and state coroutines allocate on other threads.
**
** Prints one line:
**   RESULT n=<N> count=<allocations counted> failed=<failed ones>
**          status=<lua_pcall status> class=<ok|nomem|triple|wrong>
**          warnings=<count> fds=<before>/<after> msg=<message>
** then the warnings, one per line (prefix WARN). class: "ok" the scenario
** ran to its end; "nomem" it raised exactly "not enough memory" (a Lua
** memory error, whatever the status); "triple" it raised the sentinel
** "failure: not enough memory" that test/allocfail.lua's check() raises for
** a failure triple whose message is libuv's ENOMEM text (UV_ENOMEM's
** message is the same "not enough memory", code 12); "wrong" anything else.
** The descriptors are counted in /proc/self/fd before lua_newstate and after
** lua_close. The exit code is 0 when lua_close returned: whether
** that is a pass is for the driver (class, fds, warnings); sanitizer reports
** and crashes give their own exit codes.
*/
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <uv.h>

static atomic_long counter;      /* allocations counted since arming */
static atomic_long failures;     /* allocations made to fail */
static atomic_int armed;
static long failat;              /* N */
static int sticky;               /* "from" */
static int twice;                /* "twice": N and N+1 */
static int countlua = 1, countuv = 1;

/* Whether the allocation being made now must fail. */
static int shouldfail (void) {
  long n;
  if (!atomic_load(&armed)) return 0;
  n = atomic_fetch_add(&counter, 1) + 1;
  if (failat > 0 && (n == failat || (sticky && n > failat) ||
                     (twice && n == failat + 1))) {
    atomic_fetch_add(&failures, 1);
    return 1;
  }
  return 0;
}

static void *l_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  /* a shrink cannot fail in Lua's contract; Lua assumes it succeeds
     only when nsize <= osize for a block it owns (ptr != NULL) */
  if (countlua && !(ptr != NULL && nsize <= osize) && shouldfail())
    return NULL;
  return realloc(ptr, nsize);
}

static void *u_malloc (size_t size) {
  if (countuv && shouldfail()) return NULL;
  return malloc(size);
}

/* Never fails: libuv 1.44 grows its array of watchers with uv__reallocf and
   aborts when that fails (maybe_resize in src/unix/core.c, reached from
   uv__io_start, thus from uv_loop_init, every uv_read_start, ...): an abort
   no caller can avoid. libuv's other reallocs are rare (scandir, environ). */
static void *u_realloc (void *ptr, size_t size) {
  return realloc(ptr, size);
}

static void *u_calloc (size_t count, size_t size) {
  if (countuv && shouldfail()) return NULL;
  return calloc(count, size);
}

static int nwarnings;
static char warnbuf[16][512];
static size_t warnlen;
static int warncont;

/* Keeps the first 16 warnings (pieces joined), with no Lua allocation. */
static void warnf (void *ud, const char *msg, int tocont) {
  (void)ud;
  if (!warncont && msg[0] == '@') return;  /* control message */
  if (!warncont) {
    if (nwarnings < 16) warnbuf[nwarnings][0] = '\0';
    warnlen = 0;
  }
  if (nwarnings < 16) {
    size_t n = strlen(msg);
    if (warnlen + n >= sizeof(warnbuf[0])) n = sizeof(warnbuf[0]) - 1 - warnlen;
    memcpy(warnbuf[nwarnings] + warnlen, msg, n);
    warnlen += n;
    warnbuf[nwarnings][warnlen] = '\0';
  }
  warncont = tocont;
  if (!tocont) nwarnings++;
}

static int countfds (void) {
  int n = 0;
  struct dirent *e;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;  /* the directory's own descriptor */
}

static void listfds (void) {
  struct dirent *e;
  char path[300], target[256];
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return;
  while ((e = readdir(d)) != NULL) {
    ssize_t len;
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    len = readlink(path, target, sizeof(target) - 1);
    if (len < 0) len = 0;
    target[len] = '\0';
    printf("FD %s %s\n", e->d_name, target);
  }
  closedir(d);
}

int main (int argc, char **argv) {
  lua_State *L;
  uv_loop_t dummy;
  int status, before, after, i;
  const char *class;
  char msg[1024];
  if (argc < 4) {
    fprintf(stderr, "usage: %s libdir scenario.lua N [once|from] "
                    "[lua|uv|both]\n", argv[0]);
    return 2;
  }
  failat = strtol(argv[3], NULL, 10);
  sticky = argc <= 4 || strcmp(argv[4], "from") == 0;
  twice = argc > 4 && strcmp(argv[4], "twice") == 0;
  if (argc > 5) {
    countlua = strcmp(argv[5], "uv") != 0;
    countuv = strcmp(argv[5], "lua") != 0;
  }
  if (uv_replace_allocator(u_malloc, u_realloc, u_calloc, free) != 0) {
    fprintf(stderr, "uv_replace_allocator failed\n");
    return 2;
  }
  /* libuv's process-wide descriptors (the signal lock pipe) are made by the
     first uv_loop_init: before the baseline, not counted as a leak */
  uv_loop_init(&dummy);
  uv_loop_close(&dummy);
  before = countfds();

  L = lua_newstate(l_alloc, NULL);
  if (L == NULL) return 2;
  lua_setwarnf(L, warnf, NULL);
  luaL_openlibs(L);
  /* package.cpath: the build's libraries only */
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.so", argv[1]);
  lua_setfield(L, -2, "cpath");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  if (luaL_loadfile(L, argv[2]) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK
      || !lua_isfunction(L, -1)) {
    fprintf(stderr, "scenario setup: %s\n", lua_tostring(L, -1));
    return 2;
  }
  lua_gc(L, LUA_GCCOLLECT);
  atomic_store(&counter, 0);
  atomic_store(&armed, 1);
  status = lua_pcall(L, 0, 0, 0);
  atomic_store(&armed, 0);
  if (status == LUA_OK) {
    class = "ok";
    strcpy(msg, "-");
  }
  else {
    const char *m = lua_tostring(L, -1);
    snprintf(msg, sizeof(msg), "%s", m ? m : "(not a string)");
    if (strcmp(msg, "not enough memory") == 0) class = "nomem";
    else if (strcmp(msg, "failure: not enough memory") == 0) class = "triple";
    else class = "wrong";
  }
  for (i = 0; msg[i]; i++) if (msg[i] == '\n') msg[i] = '|';
  lua_close(L);
  after = countfds();
  printf("RESULT n=%ld count=%ld failed=%ld status=%d class=%s warnings=%d "
         "fds=%d/%d msg=%s\n", failat, atomic_load(&counter),
         atomic_load(&failures), status, class, nwarnings, before, after, msg);
  for (i = 0; i < nwarnings && i < 16; i++) {
    char *p;
    for (p = warnbuf[i]; *p; p++) if (*p == '\n') *p = '|';
    printf("WARN %s\n", warnbuf[i]);
  }
  if (after != before) listfds();
  fflush(stdout);
  return 0;
}
