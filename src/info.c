/*
** info.c: system.procinfo, system.cpuinfo, system.netinfo and
** system.random (manual, "System Information").
**
** procinfo asks the system only for the groups its 'which' names (one
** uname, one passwd entry, one getrusage...), however many characters
** use each. cpuinfo and netinfo("all") take one snapshot, held by an
** iterator object: a userdata with __call (the iterator), __len and
** __close, so the iterator is its own closing value.
*/
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "areas.h"
#include "await.h"
#include "memory.h"

/* Raises libuv's message: procinfo, cpuinfo and netinfo never fail. */
static void checkuv (lua_State *L, int err) {
  if (err < 0) luaL_error(L, "%s", uv_strerror(err));
}

/* --- procinfo --------------------------------------------------------- */

#define PROCCHARS "enThkvV$HUug=dmR<>ioPpSwxXcs1lLt#^bfMr"

/* What procinfo fetched so far: each group at most once per call. */
typedef struct ProcInfo {
  int got;  /* bits of the groups below */
  uv_utsname_t uname;
  uv_passwd_t *user;  /* in a userdata (newpasswd) */
  uv_rusage_t usage;
  double load[3];
  double uptime;
  uint64_t freemem;
  size_t rss;
} ProcInfo;

/* Values that change by the moment (uptime, free memory, resident
   memory) are read once per call too: "ttt" gives one value thrice. */
enum { GOT_UNAME = 1, GOT_USER = 2, GOT_USAGE = 4, GOT_LOAD = 8,
       GOT_UPTIME = 16, GOT_FREE = 32, GOT_RSS = 64 };

static void needgroup (lua_State *L, ProcInfo *pi, int group) {
  if (pi->got & group) return;
  switch (group) {
    case GOT_UNAME: checkuv(L, uv_os_uname(&pi->uname)); break;
    case GOT_USER: checkuv(L, uv_os_get_passwd(pi->user)); break;
    case GOT_USAGE: checkuv(L, uv_getrusage(&pi->usage)); break;
    case GOT_LOAD: uv_loadavg(pi->load); break;
    case GOT_UPTIME: checkuv(L, uv_uptime(&pi->uptime)); break;
    case GOT_FREE: pi->freemem = uv_get_free_memory(); break;
    case GOT_RSS: checkuv(L, uv_resident_set_memory(&pi->rss)); break;
  }
  pi->got |= group;
}

/* libuv's getters in the shape cu_pushsized calls (no name to pass) */
static int getexepath (const char *name, char *buf, size_t *len) {
  return uv_exepath(buf, len);
}

static int gethost (const char *name, char *buf, size_t *len) {
  return uv_os_gethostname(buf, len);
}

static int gettmpdir (const char *name, char *buf, size_t *len) {
  return uv_os_tmpdir(buf, len);
}

/* ru_ixrss, ru_idrss, ru_isrss and ru_maxrss come in kilobytes */
#define KB(v) ((lua_Integer)(v) * 1024)

/* Pushes the value of procinfo character 'c' (checked already). */
static void pushprocinfo (lua_State *L, ProcInfo *pi, char c) {
  uv_rusage_t *u = &pi->usage;
  if (strchr("hkvV", c)) needgroup(L, pi, GOT_UNAME);
  else if (strchr("$HUug", c)) needgroup(L, pi, GOT_USER);
  else if (strchr("=dmR<>ioPpSwxXcs", c)) needgroup(L, pi, GOT_USAGE);
  else if (strchr("1lL", c)) needgroup(L, pi, GOT_LOAD);
  switch (c) {
    case 'e': checkuv(L, cu_pushsized(L, getexepath, NULL)); break;
    case 'n': checkuv(L, cu_pushsized(L, gethost, NULL)); break;
    case 'T': checkuv(L, cu_pushsized(L, gettmpdir, NULL)); break;
    case 'h': lua_pushstring(L, pi->uname.machine); break;
    case 'k': lua_pushstring(L, pi->uname.sysname); break;
    case 'v': lua_pushstring(L, pi->uname.release); break;
    case 'V': lua_pushstring(L, pi->uname.version); break;
    case '$': lua_pushstring(L, pi->user->shell); break;
    case 'H': lua_pushstring(L, pi->user->homedir); break;
    case 'U': lua_pushstring(L, pi->user->username); break;
    case 'u': lua_pushinteger(L, (lua_Integer)pi->user->uid); break;
    case 'g': lua_pushinteger(L, (lua_Integer)pi->user->gid); break;
    case '=': lua_pushinteger(L, KB(u->ru_isrss)); break;
    case 'd': lua_pushinteger(L, KB(u->ru_idrss)); break;
    case 'm': lua_pushinteger(L, KB(u->ru_ixrss)); break;
    case 'R': lua_pushinteger(L, KB(u->ru_maxrss)); break;
    case '<': lua_pushinteger(L, (lua_Integer)u->ru_msgrcv); break;
    case '>': lua_pushinteger(L, (lua_Integer)u->ru_msgsnd); break;
    case 'i': lua_pushinteger(L, (lua_Integer)u->ru_inblock); break;
    case 'o': lua_pushinteger(L, (lua_Integer)u->ru_oublock); break;
    case 'p': lua_pushinteger(L, (lua_Integer)u->ru_minflt); break;
    case 'P': lua_pushinteger(L, (lua_Integer)u->ru_majflt); break;
    case 'S': lua_pushinteger(L, (lua_Integer)u->ru_nsignals); break;
    case 'w': lua_pushinteger(L, (lua_Integer)u->ru_nswap); break;
    case 'x': lua_pushinteger(L, (lua_Integer)u->ru_nvcsw); break;
    case 'X': lua_pushinteger(L, (lua_Integer)u->ru_nivcsw); break;
    case 'c':
      lua_pushnumber(L, u->ru_utime.tv_sec + u->ru_utime.tv_usec / 1e6);
      break;
    case 's':
      lua_pushnumber(L, u->ru_stime.tv_sec + u->ru_stime.tv_usec / 1e6);
      break;
    case '1': lua_pushnumber(L, pi->load[0]); break;
    case 'l': lua_pushnumber(L, pi->load[1]); break;
    case 'L': lua_pushnumber(L, pi->load[2]); break;
    case 't':
      needgroup(L, pi, GOT_UPTIME);
      lua_pushnumber(L, pi->uptime);
      break;
    case '#': lua_pushinteger(L, (lua_Integer)uv_os_getpid()); break;
    case '^': lua_pushinteger(L, (lua_Integer)uv_os_getppid()); break;
    case 'b': lua_pushinteger(L, (lua_Integer)uv_get_total_memory()); break;
    case 'f':
      needgroup(L, pi, GOT_FREE);
      lua_pushinteger(L, (lua_Integer)pi->freemem);
      break;
    case 'M':
      lua_pushinteger(L, (lua_Integer)uv_get_constrained_memory());
      break;
    case 'r':
      needgroup(L, pi, GOT_RSS);
      lua_pushinteger(L, (lua_Integer)pi->rss);
      break;
  }
}

/* The passwd entry is held by a userdata whose finalizer frees what
   libuv allocated for it: a memory error while the values are pushed
   (after the entry was read) then leaks nothing. */
#define PASSWD "coutil.passwd"

static void freepasswd (uv_passwd_t *pw) {
  if (pw->username) uv_os_free_passwd(pw);  /* it clears the fields */
  pw->username = NULL;
}

static int passwd_gc (lua_State *L) {
  freepasswd((uv_passwd_t *)lua_touserdata(L, 1));
  return 0;
}

/* Pushes an empty entry (before libuv fills it: nothing to leak yet). */
static uv_passwd_t *newpasswd (lua_State *L) {
  uv_passwd_t *pw = (uv_passwd_t *)lua_newuserdatauv(L, sizeof(*pw), 0);
  memset(pw, 0, sizeof(*pw));
  if (luaL_newmetatable(L, PASSWD)) {
    lua_pushcfunction(L, passwd_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return pw;
}

/* system.procinfo(which) */
static int system_procinfo (lua_State *L) {
  size_t len, i;
  const char *which;
  ProcInfo pi;
  luaL_checkstring(L, 1);
  which = cu_checkmode(L, 1, PROCCHARS);
  len = lua_rawlen(L, 1);
  pi.got = 0;
  pi.user = NULL;
  lua_settop(L, 1);
  cu_checkstack(L, (int)(len < 1000000 ? len : 1000000) + 1);
  if (strpbrk(which, "$HUug")) pi.user = newpasswd(L);  /* below results */
  for (i = 0; i < len; i++) pushprocinfo(L, &pi, which[i]);
  if (pi.user) freepasswd(pi.user);  /* now, not at the next collection */
  return (int)len;
}

/* --- iterator objects (cpuinfo, netinfo "all") ------------------------- */

/* What differs between the two snapshots: their characters, how to push
   one value of an item, how to free libuv's list. */
typedef struct SnapshotKind {
  const char *chars;
  void (*push) (lua_State *L, void *items, int idx, char c);
  void (*free) (void *items, int count);
} SnapshotKind;

/* One snapshot of libuv's list; 'items' is NULL once closed. Both kinds
   share one class: the iterator, its length and its closing. */
typedef struct Snapshot {
  const SnapshotKind *kind;
  void *items;
  int count;
} Snapshot;

#define SNAPSHOT "coutil.infoiterator"

static Snapshot *checkopen (lua_State *L) {
  Snapshot *s = (Snapshot *)luaL_checkudata(L, 1, SNAPSHOT);
  if (s->items == NULL) luaL_error(L, "closed");
  return s;
}

/* Pushes a closed snapshot first, so nothing leaks if filling it raises. */
static Snapshot *newsnapshot (lua_State *L, const SnapshotKind *kind) {
  Snapshot *s = (Snapshot *)lua_newuserdatauv(L, sizeof(Snapshot), 0);
  s->kind = kind;
  s->items = NULL;
  s->count = 0;
  luaL_setmetatable(L, SNAPSHOT);
  return s;
}

/* The iterator call: iter(which, i) gives i+1 and the values of the item
   of index i, or nil outside the list (the for loop stops at nil). Lua
   passes the state (which) and the control variable (the last index). */
static int snapshot_call (lua_State *L) {
  Snapshot *s = checkopen(L);
  const char *which = cu_checkmode(L, 2, s->kind->chars);
  size_t len = lua_isnoneornil(L, 2) ? 0 : lua_rawlen(L, 2), i;
  lua_Integer idx = luaL_checkinteger(L, 3);
  if (idx < 0 || idx >= s->count) {
    lua_pushnil(L);
    return 1;
  }
  cu_checkstack(L, (int)(len < 1000000 ? len : 1000000) + 1);
  lua_pushinteger(L, idx + 1);
  for (i = 0; i < len; i++) s->kind->push(L, s->items, (int)idx, which[i]);
  return (int)len + 1;
}

static int snapshot_len (lua_State *L) {
  lua_pushinteger(L, checkopen(L)->count);
  return 1;
}

/* __close and __gc; closing twice does nothing */
static int snapshot_close (lua_State *L) {
  Snapshot *s = (Snapshot *)luaL_checkudata(L, 1, SNAPSHOT);
  if (s->items) s->kind->free(s->items, s->count);
  s->items = NULL;
  return 0;
}

/* With the stack holding the iterator and 'which', returns those, 0 (the
   first control value) and the iterator again (its closing value). */
static int returniterator (lua_State *L) {
  lua_pushinteger(L, 0);
  lua_pushvalue(L, 1);
  return 4;
}

/* --- cpuinfo ---------------------------------------------------------- */

#define CPUCHARS "mcunsid"

static void pushcpu (lua_State *L, void *items, int idx, char c) {
  uv_cpu_info_t *cpu = (uv_cpu_info_t *)items + idx;
  switch (c) {
    case 'm': lua_pushstring(L, cpu->model); break;
    case 'c': lua_pushinteger(L, cpu->speed); break;
    case 'u': lua_pushinteger(L, (lua_Integer)cpu->cpu_times.user); break;
    case 'n': lua_pushinteger(L, (lua_Integer)cpu->cpu_times.nice); break;
    case 's': lua_pushinteger(L, (lua_Integer)cpu->cpu_times.sys); break;
    case 'd': lua_pushinteger(L, (lua_Integer)cpu->cpu_times.irq); break;
    case 'i': lua_pushinteger(L, (lua_Integer)cpu->cpu_times.idle); break;
  }
}

static void freecpus (void *items, int count) {
  uv_free_cpu_info((uv_cpu_info_t *)items, count);
}

static const SnapshotKind CPUS = {CPUCHARS, pushcpu, freecpus};

/* system.cpuinfo([which]) */
static int system_cpuinfo (lua_State *L) {
  Snapshot *s;
  uv_cpu_info_t *cpus;
  int count, err;
  cu_checkmode(L, 1, CPUCHARS);
  lua_settop(L, 1);
  s = newsnapshot(L, &CPUS);
  err = uv_cpu_info(&cpus, &count);
  checkuv(L, err);
  s->items = cpus;
  s->count = count;
  lua_insert(L, 1);
  return returniterator(L);
}

/* --- netinfo ---------------------------------------------------------- */

#define NETCHARS "nidlmtbTB"

static const char *addrbytes (uv_interface_address_t *a, int mask,
                              size_t *len) {
  const struct sockaddr *sa = mask ? (const struct sockaddr *)&a->netmask
                                   : (const struct sockaddr *)&a->address;
  if (sa->sa_family == AF_INET6) {
    *len = 16;
    return (const char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
  }
  *len = 4;
  return (const char *)&((const struct sockaddr_in *)sa)->sin_addr;
}

static int masklength (uv_interface_address_t *a) {
  size_t len, i;
  const unsigned char *m = (const unsigned char *)addrbytes(a, 1, &len);
  int bits = 0;
  for (i = 0; i < len; i++) {
    unsigned char b = m[i];
    while (b) { bits += b & 1; b >>= 1; }
  }
  return bits;
}

static void pushnet (lua_State *L, void *items, int idx, char c) {
  uv_interface_address_t *a = (uv_interface_address_t *)items + idx;
  int ipv6 = a->address.address4.sin_family == AF_INET6;
  size_t len;
  const char *p;
  switch (c) {
    case 'n': lua_pushstring(L, a->name); break;
    case 'i': lua_pushboolean(L, a->is_internal); break;
    case 'd': lua_pushstring(L, ipv6 ? "ipv6" : "ipv4"); break;
    case 'l': lua_pushinteger(L, masklength(a)); break;
    case 'm': case 'b':
      p = addrbytes(a, c == 'm', &len);
      lua_pushlstring(L, p, len);
      break;
    case 't': {
      char text[UV_IF_NAMESIZE + INET6_ADDRSTRLEN];
      if (ipv6) uv_ip6_name(&a->address.address6, text, sizeof(text));
      else uv_ip4_name(&a->address.address4, text, sizeof(text));
      lua_pushstring(L, text);
      break;
    }
    case 'T': {  /* lua_pushfstring has no field widths */
      const unsigned char *m = (const unsigned char *)a->phys_addr;
      char text[18];
      snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x",
               m[0], m[1], m[2], m[3], m[4], m[5]);
      lua_pushstring(L, text);
      break;
    }
    case 'B': lua_pushlstring(L, a->phys_addr, 6); break;
  }
}

static void freeaddrs (void *items, int count) {
  uv_free_interface_addresses((uv_interface_address_t *)items, count);
}

static const SnapshotKind ADDRS = {NETCHARS, pushnet, freeaddrs};

/* An interface index: 1 up to the largest unsigned int. */
static unsigned int checkifindex (lua_State *L, int arg) {
  lua_Integer i = luaL_checkinteger(L, arg);
  luaL_argcheck(L, i > 0 && (lua_Unsigned)i <= UINT_MAX, arg,
                "out of range");
  return (unsigned int)i;
}

/* system.netinfo(option, which) */
static int system_netinfo (lua_State *L) {
  static const char *const options[] = {"name", "id", "all", NULL};
  int option = luaL_checkoption(L, 1, NULL, options);
  if (option < 2) {
    char name[UV_IF_NAMESIZE];
    size_t len = sizeof(name);
    unsigned int index = checkifindex(L, 2);
    int err = option == 0 ? uv_if_indextoname(index, name, &len)
                          : uv_if_indextoiid(index, name, &len);
    if (err < 0) return cu_pushfail(L, err);
    lua_pushlstring(L, name, len);
    return 1;
  } else {
    uv_interface_address_t *addrs;
    int count;
    Snapshot *s;
    cu_checkmode(L, 2, NETCHARS);
    lua_settop(L, 2);
    s = newsnapshot(L, &ADDRS);
    checkuv(L, uv_interface_addresses(&addrs, &count));
    s->items = addrs;
    s->count = count;
    lua_replace(L, 1);  /* the iterator, then which */
    return returniterator(L);
  }
}

/* --- random ----------------------------------------------------------- */

static void on_random (uv_random_t *req, int status, void *buf,
                       size_t len) {
  cu_Await *op = cu_await_from(req);
  lua_State *co = cu_await_waiter(op);
  int n = 0;
  (void)buf; (void)len;
  if (co) {
    if (status < 0) n = cu_await_pushresult(op, co, status);
    else {
      lua_pushvalue(co, 1);  /* the buffer: argument 1 of the waiting call */
      n = 1;
    }
  }
  cu_await_finish(op, co, n);
}

/* What a random fill starts with: the range of the pinned buffer. */
typedef struct RandomArgs {
  char *p;
  size_t len;
} RandomArgs;
CU_ARGS_FIT(RandomArgs);

static int startrandom (lua_State *L, cu_Await *op) {
  RandomArgs a = *cu_await_args(op, RandomArgs);
  (void)L;
  return uv_random(&op->loop->uv, &op->u.random, a.p, a.len, 0, on_random);
}

/* system.random(buffer [, i [, j [, mode]]]) */
static int system_random (lua_State *L) {
  size_t len;
  char *p = cu_memory_checkbuffer(L, 1, &len, 0);
  const char *mode = cu_checkmode(L, 4, "~");
  cu_Await *op;
  int err;
  if (cu_blocking(mode)) {
    uv_random_t req;
    err = uv_random(NULL, &req, p, len, 0, NULL);
    if (err < 0) return cu_pushfail(L, err);
    lua_settop(L, 1);
    return 1;
  }
  lua_settop(L, 3);
  op = cu_await_begin(L);
  op->cancel = cu_await_cancelwork;
  op->pin = cu_memory_pin(L, 1);  /* a resize must not move the bytes */
  cu_await_args(op, RandomArgs)->p = p;
  cu_await_args(op, RandomArgs)->len = len;
  return cu_await_start(L, op, startrandom, 1);
}

void cu_open_info (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"procinfo", system_procinfo},
    {"cpuinfo", system_cpuinfo},
    {"netinfo", system_netinfo},
    {"random", system_random},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__call", snapshot_call}, {"__len", snapshot_len},
    {"__close", snapshot_close}, {"__gc", snapshot_close}, {NULL, NULL}
  };
  cu_newclass(L, SNAPSHOT, NULL, meta, 0);
  lua_pop(L, 1);
  cu_loop_setfuncs(L, funcs);
}
