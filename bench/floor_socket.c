/*
** bench/floor_socket.c: the C floor of bench/socket_*.lua. The same work
** as the Lua contenders done directly on libuv, client and server in one
** loop on 127.0.0.1 with TCP_NODELAY: request/reply, many clients, bulk
** upload. Built as a Lua module (no liblua link) so that the benchmark
** harness times it like every contender:
**   floor.rr(n, size) floor.multi(clients, rounds, size) floor.bulk(total,
**   chunk) -- each returns the number of operations done
*/
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <uv.h>

typedef struct Conn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  struct Bench *b;
  char *buf;         /* message sent */
  size_t got;        /* bytes of the reply received */
  long rounds;       /* round trips left (client) */
  int isclient;
} Conn;

typedef struct Bench {
  uv_loop_t loop;
  uv_tcp_t server;
  struct sockaddr_in addr;
  size_t size;       /* message size, or bulk chunk size */
  long done;         /* operations done */
  long rounds;       /* per client */
  long long bulkleft;/* bulk bytes still to send */
  long long bulkgot; /* bulk bytes received */
  int bulk;
  char *chunk;       /* bulk: the data sent every time */
  char sink[65536];  /* where every read goes */
} Bench;

static void on_closed (uv_handle_t *h) {
  Conn *c = (Conn *)h;
  free(c->buf);
  free(c);
}

/* writes 'len' bytes of 'data': try first, queue the rest */
static void sendall (Conn *c, const char *data, size_t len, uv_write_cb cb) {
  uv_buf_t buf = uv_buf_init((char *)data, (unsigned int)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (n == (int)len) {
    if (cb) cb(&c->write, 0);
    return;
  }
  if (n > 0) {
    buf.base += n;
    buf.len -= (unsigned int)n;
  }
  uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, cb);
}

/* One 64 KiB buffer for every read: a partial read ends libuv's read
   loop at once (an exact-size buffer would cost a second read) and the
   contents are never looked at. */
static void on_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  Conn *c = (Conn *)h;
  (void)suggested;
  *buf = uv_buf_init(c->b->sink, sizeof(c->b->sink));
}

static void on_bulksent (uv_write_t *req, int status);

static void sendchunk (Conn *c) {
  Bench *b = c->b;
  if (b->bulkleft <= 0) {
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  b->bulkleft -= (long long)b->size;
  {  /* queued, not tried first: the write callback comes in the next loop
        iteration, so the reader drains each chunk while it is still in
        the cache (writing until the socket buffer is full is slower) */
    uv_buf_t buf = uv_buf_init(b->chunk, (unsigned int)b->size);
    uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_bulksent);
  }
}

static void on_bulksent (uv_write_t *req, int status) {
  Conn *c = (Conn *)((char *)req - offsetof(Conn, write));
  (void)status;
  c->b->done++;
  sendchunk(c);
}

static void on_read (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  Conn *c = (Conn *)s;
  Bench *b = c->b;
  (void)buf;
  if (nread < 0) {
    uv_close((uv_handle_t *)s, on_closed);
    if (b->bulk) uv_close((uv_handle_t *)&b->server, NULL);
    return;
  }
  if (b->bulk) {
    b->bulkgot += nread;
    return;
  }
  c->got += (size_t)nread;
  if (c->got < b->size) return;
  c->got = 0;
  if (!c->isclient) {  /* server: echo */
    sendall(c, c->buf, b->size, NULL);
    return;
  }
  b->done++;
  if (--c->rounds > 0) sendall(c, c->buf, b->size, NULL);
  else uv_close((uv_handle_t *)s, on_closed);
}

static Conn *newconn (Bench *b, int isclient) {
  Conn *c = calloc(1, sizeof(Conn));
  c->b = b;
  c->isclient = isclient;
  c->buf = calloc(1, b->size);
  c->rounds = b->rounds;
  uv_tcp_init(&b->loop, &c->tcp);
  return c;
}

static void on_connection (uv_stream_t *server, int status) {
  Bench *b = (Bench *)((char *)server - offsetof(Bench, server));
  Conn *c = newconn(b, 0);
  (void)status;
  uv_accept(server, (uv_stream_t *)&c->tcp);
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_connected (uv_connect_t *req, int status) {
  Conn *c = (Conn *)((char *)req - offsetof(Conn, connect));
  (void)status;
  uv_tcp_nodelay(&c->tcp, 1);
  if (c->b->bulk) {
    sendchunk(c);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  sendall(c, c->buf, c->b->size, NULL);
}

static void on_walkclose (uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* runs 'clients' clients of 'rounds' round trips, or one bulk upload */
static long runbench (size_t size, long clients, long rounds,
                      long long bulktotal) {
  Bench *b = calloc(1, sizeof(Bench));
  int len = sizeof(b->addr);
  long i, done;
  uv_loop_init(&b->loop);
  b->size = size;
  b->rounds = rounds;
  b->bulk = bulktotal > 0;
  b->bulkleft = bulktotal;
  if (b->bulk) b->chunk = calloc(1, size);
  uv_ip4_addr("127.0.0.1", 0, &b->addr);
  uv_tcp_init(&b->loop, &b->server);
  uv_tcp_bind(&b->server, (struct sockaddr *)&b->addr, 0);
  uv_listen((uv_stream_t *)&b->server, 511, on_connection);
  uv_tcp_getsockname(&b->server, (struct sockaddr *)&b->addr, &len);
  for (i = 0; i < clients; i++) {
    Conn *c = newconn(b, 1);
    uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&b->addr,
                   on_connected);
  }
  if (b->bulk) uv_run(&b->loop, UV_RUN_DEFAULT);
  else {
    while (b->done < clients * rounds) uv_run(&b->loop, UV_RUN_ONCE);
  }
  uv_walk(&b->loop, on_walkclose, NULL);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  uv_loop_close(&b->loop);
  done = b->done;
  free(b->chunk);
  free(b);
  return done;
}

static int floor_rr (lua_State *L) {
  long n = (long)luaL_checkinteger(L, 1);
  size_t size = (size_t)luaL_optinteger(L, 2, 64);
  lua_pushinteger(L, runbench(size, 1, n, 0));
  return 1;
}

static int floor_multi (lua_State *L) {
  long clients = (long)luaL_checkinteger(L, 1);
  long rounds = (long)luaL_checkinteger(L, 2);
  size_t size = (size_t)luaL_optinteger(L, 3, 64);
  lua_pushinteger(L, runbench(size, clients, rounds, 0));
  return 1;
}

static int floor_bulk (lua_State *L) {
  long long total = (long long)luaL_checkinteger(L, 1);
  size_t chunk = (size_t)luaL_optinteger(L, 2, 65536);
  lua_pushinteger(L, runbench(chunk, 1, 0, total));
  return 1;
}

__attribute__((visibility("default")))
int luaopen_floor_socket (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"rr", floor_rr}, {"multi", floor_multi}, {"bulk", floor_bulk},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  return 1;
}
