/*
** bench/scale/floor_server.c: the floor of bench/conn_scale.lua, the
** server of bench/scale/server.lua ("floor") in plain C on libuv, loaded
** as a Lua module only to be started the same way as the others:
**   floor.serve(n, heap): echo server on 127.0.0.1, prints "port <port>
**   pid <pid>", then serves the control connection and n data connections
**   (bench/scale/server.lua says how), calling heap() before it writes "A"
**   and "R". A connection costs its uv_tcp_t and nothing else: reads go
**   into one static buffer, and an echo is a uv_try_write (on loopback it
**   takes all 64 bytes), else a uv_write of a copy.
** Built by bench/scale/server.lua into bench/out/ when missing or older.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <lua.h>
#include <lauxlib.h>

static uv_loop_t *loop;
static uv_tcp_t server, *control;
static int wanted, accepted;
static lua_State *LS;  /* for heap() */
static char inbuf[65536];

static void callheap (void) {
  lua_pushvalue(LS, 2);
  lua_call(LS, 0, 0);
}

static void on_alloc (uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h; (void)size;
  *buf = uv_buf_init(inbuf, sizeof(inbuf));
}

static void on_closed (uv_handle_t *h) { free(h); }

typedef struct { uv_write_t req; char data[]; } Echo;

static void on_written (uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void echo (uv_stream_t *c, const char *p, size_t len) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
  int n = uv_try_write(c, &b, 1);
  Echo *e;
  if (n == (int)len) return;
  if (n < 0) n = 0;
  e = malloc(sizeof(Echo) + len - (size_t)n);
  if (e == NULL) abort();
  memcpy(e->data, p + n, len - (size_t)n);
  b = uv_buf_init(e->data, (unsigned)(len - (size_t)n));
  if (uv_write(&e->req, c, &b, 1, on_written) < 0) free(e);
}

static void on_read (uv_stream_t *c, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) echo(c, buf->base, (size_t)n);
  else if (n < 0) uv_close((uv_handle_t *)c, on_closed);
}

static void on_controlread (uv_stream_t *c, ssize_t n, const uv_buf_t *buf) {
  (void)c; (void)buf;
  if (n < 0) exit(0);  /* the client is done */
}

static void writecontrol (const char *what) {
  uv_buf_t b = uv_buf_init((char *)what, 1);
  if (uv_try_write((uv_stream_t *)control, &b, 1) != 1) abort();
}

static void on_connection (uv_stream_t *srv, int status) {
  uv_tcp_t *c;
  if (status < 0) abort();
  c = malloc(sizeof(uv_tcp_t));
  if (c == NULL) abort();
  uv_tcp_init(loop, c);
  if (uv_accept(srv, (uv_stream_t *)c) < 0) abort();
  uv_tcp_nodelay(c, 1);
  if (control == NULL) {
    control = c;
    uv_read_start((uv_stream_t *)c, on_alloc, on_controlread);
    callheap();
    writecontrol("A");
    return;
  }
  uv_read_start((uv_stream_t *)c, on_alloc, on_read);
  if (++accepted == wanted) {
    callheap();
    writecontrol("R");
    uv_close((uv_handle_t *)&server, NULL);
  }
}

static int serve (lua_State *L) {
  struct sockaddr_in addr;
  struct sockaddr_storage name;
  int len = sizeof(name);
  wanted = (int)luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  LS = L;
  loop = uv_default_loop();
  uv_tcp_init(loop, &server);
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) < 0 ||
      uv_listen((uv_stream_t *)&server, 4096, on_connection) < 0)
    return luaL_error(L, "cannot listen");
  uv_tcp_getsockname(&server, (struct sockaddr *)&name, &len);
  printf("port %d pid %d\n", ntohs(((struct sockaddr_in *)&name)->sin_port),
         (int)getpid());
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}

int luaopen_floor_server (lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, serve);
  lua_setfield(L, -2, "serve");
  return 1;
}
