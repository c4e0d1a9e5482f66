/*
** address.c: system.address, system.nameaddr, system.findaddr and the
** addresses objects (manual, "Network & IPC"). Lookups run on libuv's
** thread pool; an addresses object owns the addrinfo list it was given
** (freed by close or by the collector), libuv never sees the object.
*/
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include "areas.h"
#include "await.h"
#include "address.h"
#include "memory.h"

#define ADDRLIST_CLASS "coutil.addresses"

static const char *const domains[] = {"ipv4", "ipv6", NULL};
static const int families[] = {AF_INET, AF_INET6};

/* --- address objects ---------------------------------------------------- */

static int isipv6 (const cu_Address *a) {
  return a->ss.ss_family == AF_INET6;
}

/* The host part: an in_addr or in6_addr inside the sockaddr. */
static void *hostbytes (cu_Address *a, size_t *len) {
  if (isipv6(a)) {
    *len = sizeof(struct in6_addr);
    return &((struct sockaddr_in6 *)&a->ss)->sin6_addr;
  }
  *len = sizeof(struct in_addr);
  return &((struct sockaddr_in *)&a->ss)->sin_addr;
}

static in_port_t *portfield (cu_Address *a) {
  if (isipv6(a)) return &((struct sockaddr_in6 *)&a->ss)->sin6_port;
  return &((struct sockaddr_in *)&a->ss)->sin_port;
}

static int getport (cu_Address *a) {
  return ntohs(*portfield(a));
}

/* A port number at 'arg': an integer from 0 to 65535. */
static in_port_t checkport (lua_State *L, int arg) {
  lua_Integer port = luaL_checkinteger(L, arg);
  luaL_argcheck(L, 0 <= port && port <= 65535, arg, "invalid port");
  return (in_port_t)port;
}

/* The bytes of the string or memory at 'arg' (a number counts as its
   text, as for Lua's string functions). */
static const char *checkbytes (lua_State *L, int arg, size_t *len) {
  const char *p;
  if (lua_type(L, arg) == LUA_TSTRING) return lua_tolstring(L, arg, len);
  p = cu_memory_to(L, arg, len);
  if (p == NULL && lua_type(L, arg) == LUA_TNUMBER)
    p = lua_tolstring(L, arg, len);
  if (p == NULL) luaL_typeerror(L, arg, "string or memory");
  return p;
}

/* Stores in 'a' the host written in text ('len' bytes, no '\0' needed),
   or raises "invalid argument" (what inet_pton's refusal means) when it
   is no literal of a's family: a host name is not looked up here. */
static void sethosttext (lua_State *L, int arg, cu_Address *a,
                         const char *text, size_t len) {
  char buf[INET6_ADDRSTRLEN];
  struct in6_addr host;  /* room for either family: 'a' changes only
                            when the whole text is right */
  size_t size;
  void *dest = hostbytes(a, &size);
  int ok = len > 0 && len < sizeof(buf) && !memchr(text, '\0', len);
  if (ok) {
    memcpy(buf, text, len);
    buf[len] = '\0';
    ok = inet_pton(a->ss.ss_family, buf, &host) == 1;
  }
  luaL_argcheck(L, ok, arg, "invalid argument");
  memcpy(dest, &host, size);
}

/* Stores the host given in binary in 'a'; 0 if the size is wrong. */
static int sethostbinary (cu_Address *a, const char *data, size_t len) {
  size_t size;
  void *host = hostbytes(a, &size);
  if (len != size) return 0;
  memcpy(host, data, len);
  return 1;
}

/* The port of a URI: the decimal digits from 'p' to 'end'. */
static in_port_t checkuriport (lua_State *L, int arg, const char *p,
                               const char *end) {
  lua_Integer port = 0;
  luaL_argcheck(L, p < end, arg, "invalid port");
  for (; p < end; p++) {
    luaL_argcheck(L, '0' <= *p && *p <= '9', arg, "invalid port");
    if (port <= 65535) port = port * 10 + (*p - '0');
  }
  luaL_argcheck(L, port <= 65535, arg, "invalid port");
  return (in_port_t)port;
}

/* Parses "host:port" (IPv4) or "[host]:port" (IPv6), the 'len' bytes of
   argument 'arg', into 'a'. */
static void setaddressuri (lua_State *L, int arg, cu_Address *a,
                           const char *uri, size_t len) {
  const char *end = uri + len;
  const char *host = uri, *hostend;
  in_port_t port;
  if (isipv6(a)) {
    luaL_argcheck(L, len > 0 && uri[0] == '[', arg, "invalid URI format");
    host = uri + 1;
    hostend = memchr(host, ']', (size_t)(end - host));
    luaL_argcheck(L, hostend && hostend + 1 < end && hostend[1] == ':',
                  arg, "invalid URI format");
  }
  else {
    hostend = memchr(uri, ':', len);
    luaL_argcheck(L, hostend != NULL, arg, "invalid URI format");
  }
  port = checkuriport(L, arg, hostend + (isipv6(a) ? 2 : 1), end);
  sethosttext(L, arg, a, host, (size_t)(hostend - host));
  *portfield(a) = htons(port);
}

static void pushaddressclass (lua_State *L);

cu_Address *cu_address_to (lua_State *L, int arg) {
  return (cu_Address *)luaL_testudata(L, arg, CU_ADDRESS_CLASS);
}

cu_Address *cu_address_check (lua_State *L, int arg) {
  cu_Address *a = cu_address_to(L, arg);
  if (a == NULL) luaL_typeerror(L, arg, "address");
  return a;
}

cu_Address *cu_address_new (lua_State *L, int family) {
  cu_Address *a = (cu_Address *)lua_newuserdatauv(L, sizeof(cu_Address), 0);
  memset(a, 0, sizeof(cu_Address));
  a->ss.ss_family = (sa_family_t)family;
  pushaddressclass(L);
  lua_setmetatable(L, -2);
  return a;
}

/* system.address(type [, data [, port [, mode]]])
   Only absent arguments count as not given: address(type, nil) is a
   missing 'data', address(type, uri, nil) a missing 'port'. */
static int system_address (lua_State *L) {
  int family = families[luaL_checkoption(L, 1, NULL, domains)];
  int top = lua_gettop(L);
  size_t len;
  const char *data;
  cu_Address *a;
  if (top == 1) {  /* null address */
    cu_address_new(L, family);
    return 1;
  }
  data = checkbytes(L, 2, &len);
  if (top == 2) {  /* a URI literal */
    a = cu_address_new(L, family);
    setaddressuri(L, 2, a, data, len);
  }
  else {  /* host and port */
    in_port_t port = checkport(L, 3);
    const char *mode = luaL_optstring(L, 4, "t");
    int binary = strcmp(mode, "b") == 0;
    luaL_argcheck(L, binary || strcmp(mode, "t") == 0, 4, "invalid mode");
    a = cu_address_new(L, family);
    if (binary)
      luaL_argcheck(L, sethostbinary(a, data, len), 2,
                    "invalid binary address");
    else sethosttext(L, 2, a, data, len);
    *portfield(a) = htons(port);
  }
  return 1;
}

/* Pushes the literal text of a's host. */
static void pushliteral (lua_State *L, cu_Address *a) {
  char buf[INET6_ADDRSTRLEN];
  size_t size;
  inet_ntop(a->ss.ss_family, hostbytes(a, &size), buf, sizeof(buf));
  lua_pushstring(L, buf);
}

static const char *const readfields[] = {
  "type", "literal", "binary", "port", NULL
};

/* address.type, .literal, .binary, .port */
static int address_index (lua_State *L) {
  cu_Address *a = cu_address_check(L, 1);
  size_t size;
  switch (luaL_checkoption(L, 2, NULL, readfields)) {
    case 0: lua_pushstring(L, domains[isipv6(a)]); break;
    case 1: pushliteral(L, a); break;
    case 2: {
      const char *host = (const char *)hostbytes(a, &size);
      lua_pushlstring(L, host, size);
      break;
    }
    default: lua_pushinteger(L, getport(a)); break;
  }
  return 1;
}

/* 'type' is read-only, so it is no option here */
static const char *const writefields[] = {"literal", "binary", "port", NULL};

/* address.literal = text, .binary = bytes, .port = number */
static int address_newindex (lua_State *L) {
  cu_Address *a = cu_address_check(L, 1);
  int field = luaL_checkoption(L, 2, NULL, writefields);
  size_t len;
  const char *data;
  if (field == 2) {
    *portfield(a) = htons(checkport(L, 3));
    return 0;
  }
  data = checkbytes(L, 3, &len);
  if (field == 0) sethosttext(L, 3, a, data, len);
  else
    luaL_argcheck(L, sethostbinary(a, data, len), 3,
                  "invalid binary address");
  return 0;
}

/* tostring(address): "192.0.2.128:80" or "[::1]:80" */
static int address_tostring (lua_State *L) {
  cu_Address *a = cu_address_check(L, 1);
  pushliteral(L, a);
  if (isipv6(a))
    lua_pushfstring(L, "[%s]:%d", lua_tostring(L, -1), getport(a));
  else
    lua_pushfstring(L, "%s:%d", lua_tostring(L, -1), getport(a));
  return 1;
}

/* a1 == a2: same family, host, port (and IPv6 scope) */
static int address_eq (lua_State *L) {
  cu_Address *a = cu_address_to(L, 1);
  cu_Address *b = cu_address_to(L, 2);
  int eq = 0;
  if (a && b && a->ss.ss_family == b->ss.ss_family) {
    size_t size;
    void *ha = hostbytes(a, &size);
    eq = memcmp(ha, hostbytes(b, &size), size) == 0 &&
         *portfield(a) == *portfield(b) &&
         (!isipv6(a) || ((struct sockaddr_in6 *)&a->ss)->sin6_scope_id ==
                        ((struct sockaddr_in6 *)&b->ss)->sin6_scope_id);
  }
  lua_pushboolean(L, eq);
  return 1;
}

/* Pushes the address metatable, creating it on first use (socket.c may
   make addresses before cu_open_address runs). */
static void pushaddressclass (lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__index", address_index},
    {"__newindex", address_newindex},
    {"__tostring", address_tostring},
    {"__eq", address_eq},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, CU_ADDRESS_CLASS)) luaL_setfuncs(L, meta, 0);
}

/* --- addresses objects ---------------------------------------------------
** An addresses object holds a list from getaddrinfo. Only entries of the
** families and socket types the library knows are visible: with no 'd'
** or 's' in the mode, getaddrinfo also lists raw sockets, which are
** skipped.
*/

typedef struct AddrList {
  struct addrinfo *head;     /* what getaddrinfo gave; NULL when closed */
  struct addrinfo *first;    /* first visible entry */
  struct addrinfo *current;  /* the entry pointed to */
} AddrList;

static int visible (const struct addrinfo *ai) {
  return (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
         (ai->ai_socktype == SOCK_STREAM || ai->ai_socktype == SOCK_DGRAM);
}

/* The first visible entry from 'ai' on, or NULL. */
static struct addrinfo *skiphidden (struct addrinfo *ai) {
  while (ai && !visible(ai)) ai = ai->ai_next;
  return ai;
}

/* Pushes a closed addresses object. */
static AddrList *newaddrlist (lua_State *L) {
  AddrList *list = (AddrList *)lua_newuserdatauv(L, sizeof(AddrList), 0);
  list->head = list->first = list->current = NULL;
  luaL_setmetatable(L, ADDRLIST_CLASS);
  return list;
}

static AddrList *checkaddrlist (lua_State *L) {
  AddrList *list = (AddrList *)luaL_checkudata(L, 1, ADDRLIST_CLASS);
  luaL_argcheck(L, list->head != NULL, 1, "closed object");
  return list;
}

static void freeaddrlist (AddrList *list) {
  if (list->head) uv_freeaddrinfo(list->head);
  list->head = list->first = list->current = NULL;
}

/* addresses:close(): false when it was closed already (conventions.md) */
static int addrlist_close (lua_State *L) {
  AddrList *list = (AddrList *)luaL_checkudata(L, 1, ADDRLIST_CLASS);
  int open = list->head != NULL;
  freeaddrlist(list);
  lua_pushboolean(L, open);
  return 1;
}

/* addresses:next() */
static int addrlist_next (lua_State *L) {
  AddrList *list = checkaddrlist(L);
  struct addrinfo *next = skiphidden(list->current->ai_next);
  if (next) list->current = next;
  lua_pushboolean(L, next != NULL);
  return 1;
}

/* addresses:reset() */
static int addrlist_reset (lua_State *L) {
  AddrList *list = checkaddrlist(L);
  list->current = list->first;
  return 0;
}

/* addresses:getaddress([address]) */
static int addrlist_getaddress (lua_State *L) {
  struct addrinfo *ai = checkaddrlist(L)->current;
  cu_Address *a;
  if (lua_isnoneornil(L, 2))
    a = cu_address_new(L, ai->ai_family);
  else {
    a = cu_address_check(L, 2);
    luaL_argcheck(L, a->ss.ss_family == ai->ai_family, 2, "wrong domain");
    lua_settop(L, 2);
  }
  memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
  return 1;
}

/* addresses:getdomain() */
static int addrlist_getdomain (lua_State *L) {
  struct addrinfo *ai = checkaddrlist(L)->current;
  lua_pushstring(L, domains[ai->ai_family == AF_INET6]);
  return 1;
}

/* addresses:getsocktype() */
static int addrlist_getsocktype (lua_State *L) {
  struct addrinfo *ai = checkaddrlist(L)->current;
  if (ai->ai_socktype == SOCK_DGRAM) lua_pushliteral(L, "datagram");
  else lua_pushliteral(L, "stream");
  return 1;
}

/* __gc and __close */
static int addrlist_gc (lua_State *L) {
  freeaddrlist((AddrList *)luaL_checkudata(L, 1, ADDRLIST_CLASS));
  return 0;
}

/* --- lookups on the thread pool ------------------------------------------
** The callback of a lookup pushes its results onto the waiting coroutine,
** or just frees them when nobody waits. The '~' path makes the same libuv
** call with a NULL callback and pushes the same way onto the caller.
*/

/* Pushes what a getaddrinfo lookup gives to the caller (or the failure
   triple). It takes '*res' (and sets it to NULL) only to keep it: what
   is left there the caller frees, also when the push raised. */
typedef int (*PushInfo) (lua_State *L, int err, struct addrinfo **res);

typedef struct InfoPush {
  PushInfo push;
  int status;
  struct addrinfo *res;
} InfoPush;

static int pushinfo_p (lua_State *L, void *data) {
  InfoPush *p = (InfoPush *)data;
  return p->push(L, p->status, &p->res);
}

static void on_addrinfo (uv_getaddrinfo_t *req, int status,
                         struct addrinfo *res) {
  cu_Await *op = cu_await_from(req);
  lua_State *co = cu_await_waiter(op);
  int n = 0;
  if (co) {  /* protected: a push raising here would unwind uv_run */
    InfoPush p = {*(const PushInfo *)op->data, status, res};
    n = cu_await_pushp(op, co, pushinfo_p, &p);
    res = p.res;  /* what the push did not take */
  }
  if (res) uv_freeaddrinfo(res);
  cu_await_finish(op, co, n);
}

/* What a lookup starts with: the strings stay on the caller's stack, but
   a port number's text lives here (findaddr wrote it in its own C frame,
   gone when a deferred lookup starts). */
typedef struct LookupArgs {
  const char *name, *service;
  char port[8];  /* the service when 'service' is NULL and port[0] set */
  struct addrinfo hints;
  int hashints;
} LookupArgs;
CU_ARGS_FIT(LookupArgs);

static int startlookup (lua_State *L, cu_Await *op) {
  LookupArgs a = *cu_await_args(op, LookupArgs);
  (void)L;
  return uv_getaddrinfo(&op->loop->uv, &op->u.getaddrinfo, on_addrinfo,
                        a.name, a.service ? a.service : a.port[0] ? a.port
                                                                  : NULL,
                        a.hashints ? &a.hints : NULL);
}

/* The push of a blocking lookup, in a protected frame that holds copies
   of the caller's values (pushes read arguments by index), then the
   InfoPush. */
static int pushnow_p (lua_State *L) {
  InfoPush *p = (InfoPush *)lua_touserdata(L, lua_gettop(L));
  lua_pop(L, 1);
  return p->push(L, p->status, &p->res);
}

/* The '~' path of lookupinfo: a push that raises (a memory error) must
   not lose the result, so it runs under lua_pcall, and the result is
   freed either way unless the push took it. */
static int lookupnow (lua_State *L, const char *name, const char *service,
                      const struct addrinfo *hints, const PushInfo *push) {
  uv_getaddrinfo_t req;
  InfoPush p;
  int i, top = lua_gettop(L), err, status;
  luaL_checkstack(L, top + 2, NULL);  /* before there is a result */
  err = uv_getaddrinfo(cu_loop(L), &req, NULL, name, service, hints);
  p.push = *push;
  p.status = err;
  p.res = err < 0 ? NULL : req.addrinfo;
  lua_pushcfunction(L, pushnow_p);
  for (i = 1; i <= top; i++) lua_pushvalue(L, i);
  lua_pushlightuserdata(L, &p);
  status = lua_pcall(L, top + 1, LUA_MULTRET, 0);
  if (p.res) uv_freeaddrinfo(p.res);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}

/* Runs getaddrinfo for findaddr or nameaddr, blocking ('~') or awaiting;
   '*push' pushes the results onto whoever gets them. */
static int lookupinfo (lua_State *L, const char *mode, const char *name,
                       const char *service, const struct addrinfo *hints,
                       const PushInfo *push) {
  cu_Await *op;
  LookupArgs *a;
  if (cu_blocking(mode)) return lookupnow(L, name, service, hints, push);
  op = cu_await_begin(L);
  op->cancel = cu_await_cancelwork;
  op->data = (void *)push;
  a = cu_await_args(op, LookupArgs);
  a->name = name;
  a->service = service;
  a->port[0] = '\0';
  if (service && hints && (hints->ai_flags & AI_NUMERICSERV)) {
    snprintf(a->port, sizeof(a->port), "%s", service);  /* a port number */
    a->service = NULL;
  }
  a->hashints = hints != NULL;
  if (hints) a->hints = *hints;
  return cu_await_start(L, op, startlookup, 0);
}

/* The addresses object that findaddr returns waits at this index of the
   caller's stack (closed) until the lookup ends. */
#define LISTINDEX 4

/* Pushes the result of findaddr: the addresses object at LISTINDEX, now
   owning '*res', or the failure triple. */
static int pushfound (lua_State *L, int err, struct addrinfo **res) {
  AddrList *list = (AddrList *)lua_touserdata(L, LISTINDEX);
  struct addrinfo *first = *res ? skiphidden(*res) : NULL;
  if (err >= 0 && first == NULL) err = UV_EAI_NONAME;
  if (err < 0) return cu_pushfail(L, err);
  list->head = *res;
  *res = NULL;
  list->first = list->current = first;
  lua_pushvalue(L, LISTINDEX);
  return 1;
}
static const PushInfo pushfoundref = pushfound;

/* Service at 'arg' for getaddrinfo: NULL, a string, or a port number
   written in 'buf' (marked numeric in 'hints'). */
static const char *checkservice (lua_State *L, int arg, char *buf,
                                 struct addrinfo *hints) {
  if (lua_isnoneornil(L, arg)) return NULL;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    snprintf(buf, 8, "%d", (int)checkport(L, arg));
    hints->ai_flags |= AI_NUMERICSERV;
    return buf;
  }
  return luaL_checkstring(L, arg);
}

/* Fills 'hints' with the search domain of findaddr's mode (argument 3):
   'm' gives IPv6 results, so it cannot go with '4' alone. */
static void findhints (lua_State *L, const char *mode,
                       struct addrinfo *hints) {
  int ipv4 = cu_hasmode(mode, '4'), ipv6 = cu_hasmode(mode, '6');
  int dgram = cu_hasmode(mode, 'd'), stream = cu_hasmode(mode, 's');
  if (cu_hasmode(mode, 'm')) {  /* IPv6 results, IPv4 ones mapped */
    luaL_argcheck(L, ipv6 || !ipv4, 3, "'m' is invalid for IPv4");
    hints->ai_family = AF_INET6;
    hints->ai_flags |= AI_V4MAPPED | (ipv4 ? AI_ALL : 0);
  }
  else if (ipv4 != ipv6) hints->ai_family = ipv4 ? AF_INET : AF_INET6;
  else {
    hints->ai_family = AF_UNSPEC;
    if (!ipv4) hints->ai_flags |= AI_ADDRCONFIG;
  }
  if (dgram != stream) hints->ai_socktype = dgram ? SOCK_DGRAM : SOCK_STREAM;
}

/* system.findaddr(name [, service [, mode]]) */
static int system_findaddr (lua_State *L) {
  struct addrinfo hints;
  char portbuf[8];
  const char *name = luaL_optstring(L, 1, NULL);
  const char *service, *mode;
  memset(&hints, 0, sizeof(hints));
  service = checkservice(L, 2, portbuf, &hints);
  mode = cu_checkmode(L, 3, "~46mds");
  if (name && strcmp(name, "*") == 0) {
    luaL_argcheck(L, service != NULL, 2, "service must be provided for '*'");
    name = NULL;
    hints.ai_flags |= AI_PASSIVE;
  }
  else
    luaL_argcheck(L, name || service, 1, "name or service must be provided");
  findhints(L, mode, &hints);
  lua_settop(L, LISTINDEX - 1);
  newaddrlist(L);
  return lookupinfo(L, mode, name, service, &hints, &pushfoundref);
}

/* --- nameaddr ---------------------------------------------------------- */

/* op->data of a nameaddr on a port number: only the service is pushed */
static char PORTONLY;

/* What a reverse lookup gives to whoever gets it. */
typedef struct Names {
  int err;
  const char *host, *service;
  int portonly;
} Names;

static int pushnames (lua_State *L, void *data) {
  const Names *r = (const Names *)data;
  if (r->err < 0) return cu_pushfail(L, r->err);
  if (!r->portonly) lua_pushstring(L, r->host);
  lua_pushstring(L, r->service);
  return r->portonly ? 1 : 2;
}

static void on_named (uv_getnameinfo_t *req, int status, const char *host,
                      const char *service) {
  cu_Await *op = cu_await_from(req);
  lua_State *co = cu_await_waiter(op);
  Names r = {status, host, service, op->data == &PORTONLY};
  cu_await_finish(op, co, co ? cu_await_pushp(op, co, pushnames, &r) : 0);
}

/* The '~' path of nameaddr on an address or a port number. */
static int namesnow (lua_State *L, struct sockaddr_storage *ss, int flags,
                     int portonly) {
  uv_getnameinfo_t req;
  int err = uv_getnameinfo(cu_loop(L), &req, NULL, (struct sockaddr *)ss,
                           flags);
  Names r = {err, req.host, req.service, portonly};
  return pushnames(L, &r);
}

/* Pushes the canonical name of a getaddrinfo result (or the name asked
   for, at index 1, if the system gave none), or the failure triple. */
static int pushcanonical (lua_State *L, int err, struct addrinfo **res) {
  const char *canon = *res ? (*res)->ai_canonname : NULL;
  if (err < 0) return cu_pushfail(L, err);
  lua_pushstring(L, canon ? canon : lua_tostring(L, 1));
  return 1;
}
static const PushInfo pushcanonicalref = pushcanonical;

/* nameaddr(name): the canonical name, by getaddrinfo */
static int nameaddr_canonical (lua_State *L, const char *mode) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  /* one entry per address is enough */
  hints.ai_flags = AI_CANONNAME;
  if (strpbrk(mode, "iua")) hints.ai_flags |= AI_IDN | AI_CANONIDN;
  return lookupinfo(L, mode, lua_tostring(L, 1), NULL, &hints,
                    &pushcanonicalref);
}

/* What a reverse lookup starts with. */
typedef struct NameArgs {
  struct sockaddr_storage ss;
  int flags;
} NameArgs;
CU_ARGS_FIT(NameArgs);

static int startname (lua_State *L, cu_Await *op) {
  NameArgs a = *cu_await_args(op, NameArgs);
  (void)L;
  return uv_getnameinfo(&op->loop->uv, &op->u.getnameinfo, on_named,
                        (struct sockaddr *)&a.ss, a.flags);
}

/* system.nameaddr(address [, mode]) */
static int system_nameaddr (lua_State *L) {
  const char *mode = cu_checkmode(L, 2, "~ldiua");
  struct sockaddr_storage ss;
  cu_Address *a = cu_address_to(L, 1);
  int portonly = lua_type(L, 1) == LUA_TNUMBER;
  int flags = 0;
  cu_Await *op;
  NameArgs *args;
  if (lua_type(L, 1) == LUA_TSTRING) return nameaddr_canonical(L, mode);
  if (a) {
    memcpy(&ss, &a->ss, sizeof(ss));
    flags |= NI_NAMEREQD;  /* a host with no name fails, as for strings */
  }
  else if (portonly) {  /* the host part is not looked up */
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof(ss));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(checkport(L, 1));
    flags |= NI_NUMERICHOST;
  }
  else return luaL_typeerror(L, 1, "address, number or string");
  if (cu_hasmode(mode, 'l')) flags |= NI_NOFQDN;
  if (cu_hasmode(mode, 'd')) flags |= NI_DGRAM;
  /* glibc (2.28 on) always applies IDNA 2008, so 'u' and 'a' act as 'i' */
  if (strpbrk(mode, "iua")) flags |= NI_IDN;
  if (cu_blocking(mode)) return namesnow(L, &ss, flags, portonly);
  op = cu_await_beginbig(L);  /* uv_getnameinfo_t holds the names */
  op->cancel = cu_await_cancelwork;
  op->data = portonly ? &PORTONLY : NULL;
  args = cu_await_args(op, NameArgs);
  args->ss = ss;
  args->flags = flags;
  return cu_await_start(L, op, startname, 0);
}

void cu_open_address (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"address", system_address},
    {"findaddr", system_findaddr},
    {"nameaddr", system_nameaddr},
    {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"close", addrlist_close},
    {"next", addrlist_next},
    {"reset", addrlist_reset},
    {"getaddress", addrlist_getaddress},
    {"getdomain", addrlist_getdomain},
    {"getsocktype", addrlist_getsocktype},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", addrlist_gc},
    {"__close", addrlist_gc},
    {NULL, NULL}
  };
  pushaddressclass(L);
  lua_pop(L, 1);
  cu_newclass(L, ADDRLIST_CLASS, methods, meta, 0);
  lua_pop(L, 1);
  cu_loop_setfuncs(L, funcs);
}
