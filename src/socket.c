/*
** socket.c: system.socket and the socket methods but read/write/shutdown
** of streams (stream.c), manual "Network & IPC". Each kind (datagram,
** stream, passive, and terminals of stdio.c) has its own class. Closing a
** socket detaches its userdata and starts uv_close; on_closed frees the C
** memory and resumes a coroutine still awaiting on it with false, "closed".
*/
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include "areas.h"
#include "memory.h"
#include "socket.h"

static const char *const classnames[] = {
  "coutil.socket.datagram", "coutil.socket.stream",
  "coutil.socket.passive", "coutil.terminal"
};

static const char *const domainnames[] = {
  "ipv4", "ipv6", "local", "share", NULL
};

/* --- objects ------------------------------------------------------------ */

cu_Socket *cu_socket_new (lua_State *L, int kind, int domain,
                          cu_SocketInit init, cu_SocketOpen open,
                          void *arg, int *err) {
  /* user value 1: the memory of the socket's cu_MemoryCache */
  cu_Socket **ref = (cu_Socket **)lua_newuserdatauv(L, sizeof(cu_Socket *),
                                                    1);
  cu_Socket *s;
  *ref = NULL;  /* closed until the handle is ready */
  luaL_setmetatable(L, classnames[kind]);
  s = (cu_Socket *)malloc(sizeof(cu_Socket));
  if (s == NULL) luaL_error(L, "not enough memory");  /* 'ref' is closed */
  memset(s, 0, sizeof(cu_Socket));
  s->loop = cu_loopof(L);
  s->selfref = LUA_NOREF;
  s->kind = (unsigned char)kind;
  s->domain = (unsigned char)domain;
  if ((*err = init(&s->loop->uv, s, arg)) < 0) {  /* libuv kept nothing */
    free(s);
    lua_pop(L, 1);
    return NULL;
  }
  if (open && (*err = open(s, arg)) < 0) {  /* on_closed frees it */
    cu_socket_closehandle(s);
    lua_pop(L, 1);
    return NULL;
  }
  uv_unref(&s->h.handle);  /* only a waiting coroutine keeps the loop */
  *ref = s;
  return s;
}

cu_Socket *cu_socket_ofstart (lua_State *L) {
  return *(cu_Socket **)lua_touserdata(L, 1);
}

void cu_socket_discard (lua_State *L, int idx) {
  cu_Socket **ref = (cu_Socket **)lua_touserdata(L, idx);
  cu_Socket *s = *ref;
  if (s == NULL) return;
  *ref = NULL;
  cu_socket_closehandle(s);  /* on_closed frees it */
}

void cu_socket_setfamily (cu_Socket *s) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  ss.ss_family = AF_INET;
  if (s->kind == CU_DATAGRAM)
    uv_udp_getsockname(&s->h.udp, (struct sockaddr *)&ss, &len);
  else uv_tcp_getsockname(&s->h.tcp, (struct sockaddr *)&ss, &len);
  s->domain = ss.ss_family == AF_INET6 ? CU_IPV6 : CU_IPV4;
}

/* The socket pointer slot of 'self' when it is of the running method's
   class: a method gets its class's metatable as upvalue 2 (see
   cu_socket_newclass), so the check needs no registry lookup. NULL
   otherwise. */
static cu_Socket **toselfref (lua_State *L) {
  cu_Socket **ref = NULL;
  if (lua_getmetatable(L, 1)) {
    /* two live tables: the same address is the same table, and
       comparing addresses costs a third of lua_rawequal */
    if (lua_topointer(L, -1) == lua_topointer(L, lua_upvalueindex(2)))
      ref = (cu_Socket **)lua_touserdata(L, 1);
    lua_pop(L, 1);
  }
  return ref;
}

/* toselfref, or raises "<class> expected, got <class or type>". */
static cu_Socket **checkselfref (lua_State *L) {
  cu_Socket **ref = toselfref(L);
  if (ref == NULL) {
    lua_getfield(L, lua_upvalueindex(2), "__name");
    luaL_typeerror(L, 1, lua_tostring(L, -1));
  }
  return ref;
}

cu_Socket *cu_socket_checkself (lua_State *L) {
  cu_Socket *s = *checkselfref(L);
  if (s == NULL) luaL_argerror(L, 1, "closed object");
  return s;
}

cu_Socket **cu_socket_toref (lua_State *L, int arg, int kinds) {
  int k;
  for (k = CU_DATAGRAM; k <= CU_TERMINAL; k++) {
    if (kinds & CU_KIND(k)) {
      void *p = luaL_testudata(L, arg, classnames[k]);
      if (p) return (cu_Socket **)p;
    }
  }
  return NULL;
}

cu_Socket *cu_socket_check (lua_State *L, int arg, int kinds) {
  cu_Socket **ref = cu_socket_toref(L, arg, kinds);
  if (ref == NULL) {
    const char *what = kinds == CU_KIND(CU_TERMINAL) ? "terminal" :
                       kinds == CU_KIND(CU_STREAM) ? "stream socket" :
                       "socket";
    luaL_typeerror(L, arg, what);
  }
  if (*ref == NULL) luaL_argerror(L, arg, "closed object");
  return *ref;
}

static int pushclosed_p (lua_State *L, void *data) {
  (void)data;
  return cu_pushclosed(L);
}

/* Resumes the coroutine still awaiting 'op' (if any) with "closed" (a
   string that may need memory, so pushed protected). */
static void endclosed (cu_Await *op) {
  lua_State *co = cu_await_waiter(op);
  cu_await_finish(op, co, co ? cu_await_pushp(op, co, pushclosed_p, NULL)
                             : 0);
}

static void on_closed (uv_handle_t *h) {
  cu_Socket *s = (cu_Socket *)h;
  cu_Await *op = s->reader, *conn = s->connwait;
  /* at lua_close the registry goes anyway, and no Lua may run */
  if (s->selfref != LUA_NOREF && !s->loop->closing)
    luaL_unref(s->loop->L0, LUA_REGISTRYINDEX, s->selfref);
  cu_memory_unpin(s->loop->L0, s->rpin);
  free(s->stash);
  free(s);
  if (op) endclosed(op);  /* a read or accept still awaits: it ends here */
  if (conn) endclosed(conn);
}

void cu_socket_closehandle (cu_Socket *s) {
  if (s->kind == CU_TERMINAL && s->ttymode != UV_TTY_MODE_NORMAL)
    uv_tty_set_mode(&s->h.tty, UV_TTY_MODE_NORMAL);
  uv_close(&s->h.handle, on_closed);
}

/* Closes the open socket of userdata 'ref' (at index 1); with 'anchor',
   the userdata stays alive until libuv has finished closing it, so that
   it is not collected before the socket is really closed. */
static void closeref (lua_State *L, cu_Socket **ref, int anchor) {
  cu_Socket *s = *ref;
  *ref = NULL;
  if (anchor) {
    lua_pushvalue(L, 1);
    s->selfref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  cu_socket_closehandle(s);
  lua_pushnil(L);  /* the cache went with 's': its memory may go */
  lua_setiuservalue(L, 1, 1);
}

/* socket:close(), terminal:close(): a closed one raises "closed object" */
int cu_socket_close (lua_State *L) {
  cu_Socket **ref = checkselfref(L);
  luaL_argcheck(L, *ref != NULL, 1, "closed object");
  closeref(L, ref, 1);
  lua_pushboolean(L, 1);
  return 1;
}

/* __close of sockets and terminals: closing twice is no error */
int cu_socket_toclose (lua_State *L) {
  cu_Socket **ref = toselfref(L);
  if (ref && *ref) closeref(L, ref, 1);
  return 0;
}

/* __gc: the userdata is going, nothing to anchor */
int cu_socket_gc (lua_State *L) {
  cu_Socket **ref = toselfref(L);
  if (ref && *ref) closeref(L, ref, 0);
  return 0;
}

int cu_socket_tostring (lua_State *L) {
  static const char *const names[] = {"datagram socket", "stream socket",
                                      "passive socket", "terminal"};
  int k;
  for (k = CU_DATAGRAM; k <= CU_TERMINAL; k++) {
    cu_Socket **ref = cu_socket_toref(L, 1, CU_KIND(k));
    if (ref && *ref) lua_pushfstring(L, "%s (%p)", names[k], (void *)*ref);
    else if (ref) lua_pushfstring(L, "%s (closed)", names[k]);
    if (ref) return 1;
  }
  return luaL_typeerror(L, 1, "socket");
}

/* cu_SocketInit of system.socket: 'arg' is the socket's own kind. */
static int initsocket (uv_loop_t *uv, cu_Socket *s, void *arg) {
  (void)arg;
  if (s->domain >= CU_LOCAL)  /* libuv cannot listen on an IPC pipe: only
                                 the accepted ones pass sockets */
    return uv_pipe_init(uv, &s->h.pipe, s->domain == CU_SHARE &&
                                        s->kind == CU_STREAM);
  if (s->kind == CU_DATAGRAM)
    return uv_udp_init_ex(uv, &s->h.udp, s->domain == CU_IPV6 ? AF_INET6
                                                               : AF_INET);
  return uv_tcp_init_ex(uv, &s->h.tcp, s->domain == CU_IPV6 ? AF_INET6
                                                             : AF_INET);
}

/* system.socket(type, domain) */
static int system_socket (lua_State *L) {
  static const char *const kinds[] = {"datagram", "stream", "passive", NULL};
  int kind = luaL_checkoption(L, 1, NULL, kinds);
  int domain = luaL_checkoption(L, 2, NULL, domainnames);
  int err;
  cu_loop_open(L);  /* raises once the loop is closed */
  if (kind == CU_DATAGRAM && domain >= CU_LOCAL)  /* libuv has none */
    return cu_pushfail(L, UV_ESOCKTNOSUPPORT);
  if (cu_socket_new(L, kind, domain, initsocket, NULL, NULL, &err) == NULL)
    return cu_pushfail(L, err);
  return 1;
}

/* socket:getdomain() */
static int socket_getdomain (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  lua_pushstring(L, domainnames[s->domain]);
  return 1;
}

/* --- addresses ---------------------------------------------------------- */

/* The address at 'arg' for an IP socket, of its family. */
static const struct sockaddr *checkipaddr (lua_State *L, int arg,
                                           cu_Socket *s) {
  cu_Address *a = cu_address_check(L, arg);
  int family = s->domain == CU_IPV6 ? AF_INET6 : AF_INET;
  luaL_argcheck(L, a->ss.ss_family == family, arg, "wrong domain");
  return (const struct sockaddr *)&a->ss;
}

/* The path at 'arg' for a local socket. */
static const char *checkpath (lua_State *L, int arg) {
  size_t len;
  const char *path = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, len < sizeof(((struct sockaddr_un *)0)->sun_path), arg,
                "too long");
  return path;
}

/* socket:bind(address) */
static int socket_bind (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  int err;
  if (cu_islocal(s)) err = uv_pipe_bind(&s->h.pipe, checkpath(L, 2));
  else {
    const struct sockaddr *sa = checkipaddr(L, 2, s);
    if (s->kind == CU_DATAGRAM) err = uv_udp_bind(&s->h.udp, sa, 0);
    else {
      err = uv_tcp_bind(&s->h.tcp, sa, 0);
      /* libuv defers "address already in use" to listen or connect; the
         manual's bind reports it (delayed_error is a public field) */
      if (err == 0 && s->h.tcp.delayed_error == UV_EADDRINUSE)
        err = UV_EADDRINUSE;
    }
  }
  return cu_pushresult(L, err);
}

/* The end of a connect that another one awaits (socket:connect while
   a connect is pending): it reports whether the socket got connected. */
static void endconnwait (cu_Await *op, int status) {
  lua_State *co = cu_await_waiter(op);
  int n = 0;
  if (co) n = cu_await_pushresult(op, co, status == 0 ? UV_EISCONN : status);
  cu_await_finish(op, co, n);
}

static void on_connected (uv_connect_t *req, int status) {
  cu_Socket *s = (cu_Socket *)req->handle;
  cu_Await *waiting = s->connwait;
  s->connecting = 0;
  s->connwait = NULL;
  if (waiting) uv_unref(&s->h.handle);
  cu_await_endrequest(cu_await_from(req), status);
  if (waiting) endconnwait(waiting, status);
}

/* Early wake-up of a connect that waits for a pending one. */
static int cancelconnwait (cu_Await *op) {
  cu_Socket *s = (cu_Socket *)op->data;
  s->connwait = NULL;
  uv_unref(&s->h.handle);
  return 1;
}

/* socket:connect(address) while a connect of the socket is pending (its
   coroutine was resumed early): waits for that one to end. libuv would
   refuse a second TCP connect at once and overwrite a pending pipe
   connect, which then never ends. */
static int awaitconnect (lua_State *L, cu_Socket *s) {
  cu_Await *op;
  if (s->connwait) return luaL_error(L, "already in use");
  op = cu_await_beginbare(L);
  op->data = s;
  op->cancel = cancelconnwait;
  s->connwait = op;
  uv_ref(&s->h.handle);  /* the pending request keeps the loop anyway */
  return cu_await_yield(L, op, 0);
}

/* What a TCP connect starts with (a local one takes its path from the
   stack). */
typedef struct ConnectArgs {
  struct sockaddr_storage ss;
} ConnectArgs;
CU_ARGS_FIT(ConnectArgs);

static int startconnect (lua_State *L, cu_Await *op) {
  cu_Socket *s = cu_socket_ofstart(L);
  if (s == NULL) return UV_ECANCELED;  /* closed while it waited */
  if (cu_islocal(s))
    uv_pipe_connect(&op->u.connect, &s->h.pipe, lua_tostring(L, 2),
                    on_connected);
  else {
    ConnectArgs a = *cu_await_args(op, ConnectArgs);
    int err = uv_tcp_connect(&op->u.connect, &s->h.tcp,
                             (const struct sockaddr *)&a.ss, on_connected);
    if (err < 0) return err;
  }
  s->connecting = 1;
  return 0;
}

/* socket:connect([address]) */
static int socket_connect (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  cu_Await *op;
  int err;
  if (s->kind == CU_DATAGRAM) {  /* no wait: it only sets the peer */
    const struct sockaddr *sa = lua_isnoneornil(L, 2) ? NULL :
                                checkipaddr(L, 2, s);
    err = uv_udp_connect(&s->h.udp, sa);
    if (err == 0) s->peer = sa != NULL;
    return cu_pushresult(L, err);
  }
  if (cu_islocal(s)) {
    checkpath(L, 2);  /* startconnect takes it from the stack */
    if (s->connecting) return awaitconnect(L, s);
    op = cu_await_begin(L);
  }
  else {
    const struct sockaddr *sa = checkipaddr(L, 2, s);
    if (s->connecting) return awaitconnect(L, s);
    op = cu_await_begin(L);
    memcpy(cu_await_args(op, ConnectArgs), sa, cu_addrlen((cu_Address *)sa));
  }
  return cu_await_start(L, op, startconnect, 0);
}

/* socket:getaddress([site [, address]]) */
static int socket_getaddress (lua_State *L) {
  static const char *const sites[] = {"self", "peer", NULL};
  cu_Socket *s = cu_socket_checkself(L);
  int peer = luaL_checkoption(L, 2, "self", sites);
  struct sockaddr *sa;
  int err, len;
  if (cu_islocal(s)) {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    size_t size = sizeof(path);
    err = peer ? uv_pipe_getpeername(&s->h.pipe, path, &size)
               : uv_pipe_getsockname(&s->h.pipe, path, &size);
    if (err < 0) return cu_pushfail(L, err);
    lua_pushlstring(L, path, size);
    return 1;
  }
  if (lua_isnoneornil(L, 3)) {
    cu_address_new(L, s->domain == CU_IPV6 ? AF_INET6 : AF_INET);
  }
  else {
    checkipaddr(L, 3, s);
    lua_settop(L, 3);
  }
  sa = (struct sockaddr *)&cu_address_to(L, -1)->ss;
  len = sizeof(struct sockaddr_storage);
  if (s->kind == CU_DATAGRAM)
    err = peer ? uv_udp_getpeername(&s->h.udp, sa, &len)
               : uv_udp_getsockname(&s->h.udp, sa, &len);
  else
    err = peer ? uv_tcp_getpeername(&s->h.tcp, sa, &len)
               : uv_tcp_getsockname(&s->h.tcp, sa, &len);
  if (err < 0) return cu_pushfail(L, err);
  return 1;
}

/* --- options ------------------------------------------------------------ */

static int checkflag (lua_State *L, int arg) {
  luaL_checkany(L, arg);
  return lua_toboolean(L, arg);
}

static int udpoption (lua_State *L, cu_Socket *s) {
  static const char *const names[] = {"broadcast", "mcastloop", "mcastttl",
    "mcastiface", "mcastjoin", "mcastleave", NULL};
  uv_udp_t *udp = &s->h.udp;
  switch (luaL_checkoption(L, 2, NULL, names)) {
    case 0: return uv_udp_set_broadcast(udp, checkflag(L, 3));
    case 1: return uv_udp_set_multicast_loop(udp, checkflag(L, 3));
    case 2: {
      lua_Integer ttl = luaL_checkinteger(L, 3);
      luaL_argcheck(L, 1 <= ttl && ttl <= 255, 3, "must be from 1 upto 255");
      return uv_udp_set_multicast_ttl(udp, (int)ttl);
    }
    case 3: return uv_udp_set_multicast_interface(udp,
                                                  luaL_optstring(L, 3, NULL));
    default: {
      uv_membership m = strcmp(lua_tostring(L, 2), "mcastjoin") == 0 ?
                        UV_JOIN_GROUP : UV_LEAVE_GROUP;
      const char *group = luaL_checkstring(L, 3);
      const char *iface = luaL_optstring(L, 4, NULL);
      const char *source = luaL_optstring(L, 5, NULL);
      if (source)
        return uv_udp_set_source_membership(udp, group, iface, source, m);
      return uv_udp_set_membership(udp, group, iface, m);
    }
  }
}

static int tcpoption (lua_State *L, cu_Socket *s) {
  static const char *const names[] = {"keepalive", "nodelay", NULL};
  lua_Integer delay;
  if (luaL_checkoption(L, 2, NULL, names) == 1)
    return uv_tcp_nodelay(&s->h.tcp, checkflag(L, 3));
  luaL_checkany(L, 3);  /* nil turns it off; nothing is an error */
  if (lua_isnil(L, 3) || (lua_isboolean(L, 3) && !lua_toboolean(L, 3)))
    return uv_tcp_keepalive(&s->h.tcp, 0, 0);  /* nil or false: off */
  delay = luaL_checkinteger(L, 3);
  luaL_argcheck(L, 0 < delay, 3, "invalid argument");  /* the original's */
  luaL_argcheck(L, delay <= INT_MAX, 3, "out of range");
  return uv_tcp_keepalive(&s->h.tcp, 1, (unsigned int)delay);
}

static int localoption (lua_State *L, cu_Socket *s) {
  static const char *const names[] = {"permission", NULL};
  const char *perm, *c;
  int flags = 0;
  luaL_checkoption(L, 2, NULL, names);
  perm = luaL_checkstring(L, 3);
  for (c = perm; *c; c++) {
    if (*c == 'r') flags |= UV_READABLE;
    else if (*c == 'w') flags |= UV_WRITABLE;
    else {
      lua_pushfstring(L, "unknown perm char (got '%c')", *c);
      luaL_argerror(L, 3, lua_tostring(L, -1));
    }
  }
  return uv_pipe_chmod(&s->h.pipe, flags);
}

/* socket:setoption(name, value, ...) */
static int socket_setoption (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  int err;
  if (s->kind == CU_DATAGRAM) err = udpoption(L, s);
  else if (cu_islocal(s)) err = localoption(L, s);
  else if (s->kind == CU_STREAM) err = tcpoption(L, s);
  else {  /* passive TCP sockets have no options */
    const char *name = luaL_checkstring(L, 2);
    return luaL_argerror(L, 2,
                         lua_pushfstring(L, "invalid option '%s'", name));
  }
  return cu_pushresult(L, err);
}

/* --- passive sockets ---------------------------------------------------- */

static void on_connection (uv_stream_t *server, int status) {
  cu_Socket *s = (cu_Socket *)server;
  cu_Await *op = s->reader;
  lua_State *co;
  int n = 0;
  if (op == NULL) {  /* libuv holds it until someone accepts */
    if (status == 0) s->pending = 1;
    return;
  }
  co = cu_await_waiter(op);
  if (co == NULL && status == 0) s->pending = 1;
  cu_stream_setreader(s, NULL);
  if (co && status == 0) {  /* accept_k does it in the coroutine */
    lua_pushlightuserdata(co, s);
    n = 1;
  }
  else if (co) n = cu_await_pushresult(op, co, status);
  cu_await_finish(op, co, n);
}

static int cancelaccept (cu_Await *op) {
  cu_stream_setreader((cu_Socket *)op->data, NULL);
  return 1;
}

/* cu_SocketInit and cu_SocketOpen of accepted connections: 'arg' is
   the passive socket. */
static int initaccepted (uv_loop_t *uv, cu_Socket *c, void *arg) {
  cu_Socket *s = (cu_Socket *)arg;
  if (cu_islocal(s)) return uv_pipe_init(uv, &c->h.pipe,
                                         s->domain == CU_SHARE);
  return uv_tcp_init(uv, &c->h.tcp);
}

static int openaccepted (cu_Socket *c, void *arg) {
  return uv_accept(&((cu_Socket *)arg)->h.stream, &c->h.stream);
}

/* Pushes a new stream socket for the connection waiting on 's'. */
static int acceptnow (lua_State *L, cu_Socket *s) {
  int err;
  s->pending = 0;
  if (cu_socket_new(L, CU_STREAM, s->domain, initaccepted, openaccepted, s,
                    &err) == NULL)
    return cu_pushfail(L, err);
  return 1;
}

static int accept_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  if (lua_islightuserdata(L, -1)) {
    cu_Socket *s = (cu_Socket *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return acceptnow(L, s);
  }
  return lua_gettop(L) - (int)ctx;
}

/* socket:accept() */
static int socket_accept (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  cu_Await *op;
  if (!s->listening) return luaL_error(L, "not listening");
  if (s->reader) return luaL_error(L, "already in use");
  cu_checkyield(L);
  if (s->pending) return acceptnow(L, s);
  op = cu_await_beginbare(L);
  op->data = s;
  op->cancel = cancelaccept;
  cu_stream_setreader(s, op);
  return cu_await_yieldk(L, op, 0, accept_k, lua_gettop(L));
}

/* socket:listen(backlog) */
static int socket_listen (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  lua_Integer backlog = luaL_checkinteger(L, 2);
  int err;
  luaL_argcheck(L, 0 <= backlog && backlog <= INT_MAX, 2, "out of range");
  if (s->listening) return luaL_error(L, "already listening");
  err = uv_listen(&s->h.stream, (int)backlog, on_connection);
  if (err < 0) return cu_pushfail(L, err);
  s->listening = 1;
  uv_unref(&s->h.handle);  /* listening alone does not keep the loop */
  return cu_pushresult(L, 0);
}

/* --- datagram sockets ---------------------------------------------------- */

static void on_udpalloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  cu_Socket *s = (cu_Socket *)h;
  (void)suggested;
  if (s->rlen == 0) *buf = uv_buf_init(&s->scratch, 1);
  else *buf = uv_buf_init(s->rbuf, (unsigned int)s->rlen);
}

static void on_received (uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags) {
  cu_Socket *s = (cu_Socket *)udp;
  cu_Await *op = s->reader;
  lua_State *co;
  int n = 0;
  (void)buf;
  if (nread == 0 && addr == NULL) return;  /* nothing to read */
  uv_udp_recv_stop(udp);
  if (op == NULL) return;
  cu_stream_setreader(s, NULL);
  co = cu_await_waiter(op);
  if (co && nread < 0) n = cu_await_pushresult(op, co, (int)nread);
  else if (co) {
    int truncated = (flags & UV_UDP_PARTIAL) != 0;
    if (s->rlen == 0) {  /* read into the scratch byte */
      truncated = truncated || nread > 0;
      nread = 0;
    }
    lua_pushinteger(co, (lua_Integer)nread);
    lua_pushboolean(co, truncated);
    n = 2;
    if (s->raddr && addr)
      memcpy(&s->raddr->ss, addr, addr->sa_family == AF_INET6 ?
             sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  }
  cu_await_finish(op, co, n);
}

static int cancelreceive (cu_Await *op) {
  cu_Socket *s = (cu_Socket *)op->data;
  uv_udp_recv_stop(&s->h.udp);
  cu_stream_setreader(s, NULL);
  return 1;
}

/* socket:read(buffer [, i [, j [, address]]]) of datagram sockets */
static int datagram_read (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  size_t len;
  char *p = cu_memory_checkbufferc(L, 2, &len, CU_MEMCLASS, &s->mcache, 1);
  cu_Address *a = NULL;
  cu_Await *op;
  int err;
  if (!lua_isnoneornil(L, 5)) {
    checkipaddr(L, 5, s);
    a = cu_address_to(L, 5);
  }
  if (s->reader) return luaL_error(L, "already in use");
  op = cu_await_begin(L);
  op->data = s;
  op->cancel = cancelreceive;
  s->raddr = a;
  cu_stream_startread(L, s, op, p, len);
  err = uv_udp_recv_start(&s->h.udp, on_udpalloc, on_received);
  if (err < 0) {
    cu_stream_setreader(s, NULL);
    return cu_await_fail(L, op, err);
  }
  /* no kept value: see cu_stream_startread */
  return cu_await_yield(L, op, 0);
}

static void on_sent (uv_udp_send_t *req, int status) {
  cu_await_endrequest(cu_await_from(req), status);
}

/* What a datagram write starts with: the bytes (pinned, or anchored with
   the request) and the destination, if any. */
typedef struct SendArgs {
  uv_buf_t buf;
  int hasaddr;
  struct sockaddr_storage addr;
} SendArgs;
CU_ARGS_FIT(SendArgs);

static int startsend (lua_State *L, cu_Await *op) {
  SendArgs a = *cu_await_args(op, SendArgs);
  cu_Socket *s = cu_socket_ofstart(L);
  if (s == NULL) return UV_ECANCELED;  /* closed while it waited */
  return uv_udp_send(&op->u.send, &s->h.udp, &a.buf, 1,
                     a.hasaddr ? (const struct sockaddr *)&a.addr : NULL,
                     on_sent);
}

/* socket:write(data [, i [, j [, address]]]) of datagram sockets
   As with the original, a call that cannot yield raises "unable to
   yield" before any argument is checked; then, without a peer, the
   address comes first: it is what such a socket needs most. The write
   always waits for libuv's callback, like any await function (libuv sends
   at once when it can). */
static int datagram_write (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  const struct sockaddr *sa = NULL;
  const char *p;
  size_t len;
  uv_buf_t buf;
  cu_Await *op;
  SendArgs *args;
  cu_checkyield(L);
  if (!s->peer || !lua_isnoneornil(L, 5)) sa = checkipaddr(L, 5, s);
  p = cu_memory_checkdatac(L, 2, &len, CU_MEMCLASS, &s->mcache, 1);
  buf = uv_buf_init((char *)p, (unsigned int)len);
  luaL_argcheck(L, len <= 0x7fffffffu, 2, "too long");
  op = cu_await_begin(L);
  op->pin = cu_memory_pinbytes(L, 2, p, len);  /* until on_sent */
  op->unguarded = 1;  /* a close need not stop it: the send goes on */
  args = cu_await_args(op, SendArgs);
  args->buf = buf;
  args->hasaddr = sa != NULL;
  if (sa) memcpy(&args->addr, sa, sa->sa_family == AF_INET6 ?
                 sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  return cu_await_start(L, op, startsend, 2);
}

/* --- classes ------------------------------------------------------------ */

void cu_socket_newclass (lua_State *L, int kind, const luaL_Reg *methods,
                        const luaL_Reg *metamethods) {
  luaL_newmetatable(L, classnames[kind]);
  cu_loop_push(L);  /* upvalue 1: the loop, as for every function */
  lua_pushvalue(L, -2);  /* upvalue 2: the class's own metatable */
  cu_memory_pushclass(L);  /* upvalue 3: CU_MEMCLASS */
  cu_newclass(L, classnames[kind], methods, metamethods, 3);
  lua_pop(L, 2);
}

void cu_open_socket (lua_State *L) {
  static const luaL_Reg datagram[] = {
    {"close", cu_socket_close}, {"getdomain", socket_getdomain},
    {"setoption", socket_setoption}, {"bind", socket_bind},
    {"connect", socket_connect}, {"getaddress", socket_getaddress},
    {"write", datagram_write}, {"read", datagram_read},
    {NULL, NULL}
  };
  static const luaL_Reg stream[] = {
    {"close", cu_socket_close}, {"getdomain", socket_getdomain},
    {"setoption", socket_setoption}, {"bind", socket_bind},
    {"connect", socket_connect}, {"getaddress", socket_getaddress},
    {"write", cu_stream_write}, {"read", cu_stream_read},
    {"shutdown", cu_stream_shutdown},
    {NULL, NULL}
  };
  static const luaL_Reg passive[] = {
    {"close", cu_socket_close}, {"getdomain", socket_getdomain},
    {"setoption", socket_setoption}, {"bind", socket_bind},
    {"getaddress", socket_getaddress}, {"listen", socket_listen},
    {"accept", socket_accept},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", cu_socket_gc}, {"__close", cu_socket_toclose},
    {"__tostring", cu_socket_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"socket", system_socket},
    {NULL, NULL}
  };
  const luaL_Reg *methods[] = {datagram, stream, passive};
  struct sigaction sa;
  int k;
  /* writing to a reset connection must fail with "broken pipe", not kill
     the process: ignore SIGPIPE unless the program handles it already */
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
  for (k = CU_DATAGRAM; k <= CU_PASSIVE; k++)
    cu_socket_newclass(L, k, methods[k], meta);
  cu_loop_setfuncs(L, funcs);
}
