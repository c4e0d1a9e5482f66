/*
** stream.c: read, write and shutdown of stream sockets and terminals
** (manual "Network & IPC" and "Standard Streams"). Once a read starts
** libuv reading, reading stays on: libuv fills a large waiting reader's
** buffer directly; small reads and bytes that come while nobody reads go
** through a per-socket stash (reading stops only when it is full). Writes
** of less than DIRECTSIZE bytes try to send at once and queue a request
** only for what is left; larger ones always queue (see cu_stream_write).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif
#include "memory.h"
#include "socket.h"
#include "time.h"

#define STASHSIZE 65536
/* A reader's range at least this big is given to libuv as it is. A
   smaller one is filled from the stash: libuv reads again when a read
   fills the whole buffer, and that extra system call (which fails with
   EAGAIN) costs far more than copying a few bytes. */
#define DIRECTSIZE 16384
/* Reads readnow may do in one loop iteration (see readnow). */
#define MAXDIRECT 32

void cu_stream_setreader (cu_Socket *s, cu_Await *op) {
  s->reader = op;
  if (op) uv_ref(&s->h.handle);
  else {
    uv_unref(&s->h.handle);
    if (s->rpin) {  /* the reader's memory may move again */
      cu_memory_unpin(s->loop->L0, s->rpin);
      s->rpin = NULL;
    }
  }
}

/* The buffer (argument 2) needs no anchor of its own: libuv fills it only
   while the reader waits, and meanwhile the waiting coroutine, anchored,
   keeps its frame's arguments alive; an early wake-up or a close ends the
   read (cancelread, cancelreceive) before the anchor goes. */
void cu_stream_startread (lua_State *L, cu_Socket *s, cu_Await *op, char *p,
                   size_t len) {
  s->rbuf = p;
  s->rlen = len;
  cu_stream_setreader(s, op);
  s->rpin = cu_memory_pinbytes(L, 2, p, len);  /* they must not move */
}

/* --- reading ------------------------------------------------------------ */

static void stopreading (cu_Socket *s) {
  if (s->reading) {
    uv_read_stop(&s->h.stream);
    s->reading = 0;
  }
}

static void on_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  cu_Socket *s = (cu_Socket *)h;
  (void)suggested;
  s->toreader = s->reader != NULL && s->rlen >= DIRECTSIZE;
  if (s->toreader) *buf = uv_buf_init(s->rbuf, (unsigned int)s->rlen);
  else {
    if (s->stash == NULL) {  /* the loop's spare, or a new one */
      s->stash = s->loop->sparestash ? s->loop->sparestash
                                     : malloc(STASHSIZE);
      s->loop->sparestash = NULL;
    }
    if (s->stash == NULL) {  /* no memory: on_read gets UV_ENOBUFS */
      *buf = uv_buf_init(NULL, 0);
      return;
    }
    if (s->stashpos > 0) {
      memmove(s->stash, s->stash + s->stashpos, s->stashlen);
      s->stashpos = 0;
    }
    *buf = uv_buf_init(s->stash + s->stashlen,
                       (unsigned int)(STASHSIZE - s->stashlen));
  }
}

/* Moves up to the reader's range from the stash; returns the count. An
   emptied stash goes back to the loop, which keeps one spare: kept by the
   socket, it would hold its touched pages for the socket's life (6 KiB
   resident per idle connection after traffic, 64 KiB of address space
   each); freed, the next read would pay a malloc and a free of 64 KiB
   (1,200 instructions of a 64-byte request and reply). */
static size_t takestash (cu_Socket *s, char *p, size_t len) {
  size_t n = len < s->stashlen ? len : s->stashlen;
  memcpy(p, s->stash + s->stashpos, n);
  s->stashpos += n;
  s->stashlen -= n;
  if (s->stashlen == 0) {
    if (s->loop->sparestash == NULL) s->loop->sparestash = s->stash;
    else free(s->stash);
    s->stash = NULL;
    s->stashpos = 0;
  }
  return n;
}

static void on_read (uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  cu_Socket *s = (cu_Socket *)st;
  cu_Await *op = s->reader;
  lua_State *co;
  int n = 0;
  (void)buf;
  if (nread == 0) return;  /* nothing this time */
  if (nread > 0 && s->toreader) s->more = (size_t)nread == s->rlen;
  else if (nread > 0) {
    s->stashlen += (size_t)nread;
    if (s->stashlen == STASHSIZE) stopreading(s);  /* resumed on drain */
    if (op == NULL) return;
    nread = (ssize_t)takestash(s, s->rbuf, s->rlen);
  }
  else if (nread < 0) {
    stopreading(s);
    if (nread == UV_ENOBUFS) return;  /* stash full or no memory */
    s->rerr = (int)nread;  /* end of file or error: every later read */
    if (op == NULL) return;
  }
  cu_stream_setreader(s, NULL);
  co = cu_await_waiter(op);
  if (co) {
    if (nread > 0) {
      lua_pushinteger(co, (lua_Integer)nread);
      n = 1;
    }
    else n = cu_await_pushresult(op, co, (int)nread);
  }
  cu_await_finish(op, co, n);
}

/* Early wake-up: reading goes on into the stash. */
static int cancelread (cu_Await *op) {
  cu_stream_setreader((cu_Socket *)op->data, NULL);
  return 1;
}

/* cu_SocketInit/cu_SocketOpen of a socket received through a share
   socket 'arg' (its handle type decides the kind). */
static int initreceived (uv_loop_t *uv, cu_Socket *c, void *arg) {
  (void)arg;
  if (c->kind == CU_DATAGRAM) return uv_udp_init(uv, &c->h.udp);
  if (c->domain == CU_LOCAL) return uv_pipe_init(uv, &c->h.pipe, 0);
  return uv_tcp_init(uv, &c->h.tcp);
}

static int openreceived (cu_Socket *c, void *arg) {
  int err = uv_accept(&((cu_Socket *)arg)->h.stream,
                      (uv_stream_t *)&c->h.handle);
  if (err == 0 && c->domain != CU_LOCAL) cu_socket_setfamily(c);
  return err;
}

/* share sockets: the socket that came with the bytes, if any */
static int pushreceived (lua_State *L, cu_Socket *s) {
  uv_handle_type type;
  int err;
  if (uv_pipe_pending_count(&s->h.pipe) == 0) return 0;
  type = uv_pipe_pending_type(&s->h.pipe);
  return cu_socket_new(L, type == UV_UDP ? CU_DATAGRAM : CU_STREAM,
                       type == UV_NAMED_PIPE ? CU_LOCAL : CU_IPV4,
                       initreceived, openreceived, s, &err) != NULL;
}

/* Continuation of a read on a share socket woken by the loop. */
static int readshare_k (lua_State *L, int status, lua_KContext ctx) {
  int n = lua_gettop(L) - (int)ctx;
  (void)status;
  if (n == 1 && lua_isinteger(L, -1))
    n += pushreceived(L, *cu_socket_toref(L, 1, CU_KIND(CU_STREAM)));
  return n;
}

/* A large read right after a system read that filled the reader's buffer
   reads at once: more bytes are most likely there, and libuv would read
   them at once as well (it reads again after filling a buffer). That
   saves the reader a wait: a yield, a loop iteration and a resume. At
   most MAXDIRECT per loop iteration, so that a peer sending without pause
   keeps the loop from others at most about twice as long as libuv itself
   would (it reads 32 times per iteration). Returns the number of results
   pushed, or 0 to wait instead.
   libuv reads a stream only in its own callback, with plain read(2) on
   Unix, so reading here leaves it nothing to get wrong. */
static int readnow (lua_State *L, cu_Socket *s, char *p, size_t len) {
#ifdef _WIN32
  (void)L; (void)s; (void)p; (void)len;
  return 0;
#else
  uv_os_fd_t fd;
  ssize_t n;
  unsigned round;
  if (!s->more || len < DIRECTSIZE || s->kind != CU_STREAM ||
      s->domain == CU_SHARE || uv_fileno(&s->h.handle, &fd) != 0)
    return 0;
  round = cu_loop_round(s->loop);
  if (s->round != round) {
    s->round = round;
    s->direct = 0;
  }
  if (s->direct >= MAXDIRECT) return 0;
  do n = read(fd, p, len); while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    s->more = 0;
    return 0;
  }
  s->direct++;
  if (n > 0) {
    s->more = (size_t)n == len;
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
  }
  stopreading(s);  /* end of file or failure: as in on_read */
  s->rerr = n == 0 ? UV_EOF : uv_translate_sys_error(errno);
  return cu_pushfail(L, s->rerr);
#endif
}

/* socket:read(buffer [, i [, j]]), terminal:read(buffer [, i [, j]]) */
int cu_stream_read (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  size_t len;
  char *p = cu_memory_checkbufferc(L, 2, &len, CU_MEMCLASS, &s->mcache, 1);
  cu_Await *op;
  if (s->reader) return luaL_error(L, "already in use");  /* first, as */
  cu_checkyield(L);                        /* with the original */
  if (s->stashlen > 0) {  /* bytes came before: no wait */
    size_t n = takestash(s, p, len);
    if (!s->reading && s->rerr == 0 && n > 0 &&
        uv_read_start(&s->h.stream, on_alloc, on_read) == 0)
      s->reading = 1;  /* drained a full stash */
    lua_pushinteger(L, (lua_Integer)n);
    return s->domain == CU_SHARE ? 1 + pushreceived(L, s) : 1;
  }
  if (s->rerr) return cu_pushfail(L, s->rerr);
  if (len == 0) {  /* nothing asked, nothing to wait for */
    lua_pushinteger(L, 0);
    return 1;
  }
  if (!s->reading) {
    int err = uv_read_start(&s->h.stream, on_alloc, on_read);
    if (err < 0) return cu_pushfail(L, err);
    s->reading = 1;
  }
  else {
    int n = readnow(L, s, p, len);
    if (n > 0) return n;
  }
  op = cu_await_beginbare(L);
  op->data = s;
  op->cancel = cancelread;
  cu_stream_startread(L, s, op, p, len);
  /* no kept value: see cu_stream_startread */
  if (s->domain == CU_SHARE)
    return cu_await_yieldk(L, op, 0, readshare_k, lua_gettop(L));
  return cu_await_yield(L, op, 0);
}

/* --- writing and shutdown ----------------------------------------------- */

static void on_written (uv_write_t *req, int status) {
  cu_await_endrequest(cu_await_from(req), status);
}

/* What a write starts with: the bytes (pinned, or anchored with the
   request) and the socket being passed, if any. */
typedef struct WriteArgs {
  uv_buf_t buf;
  cu_Socket *passed;
} WriteArgs;
CU_ARGS_FIT(WriteArgs);

static int startwrite (lua_State *L, cu_Await *op) {
  WriteArgs a = *cu_await_args(op, WriteArgs);
  cu_Socket *s = cu_socket_ofstart(L);
  if (s == NULL) return UV_ECANCELED;  /* closed while it waited */
  if (a.passed)
    return uv_write2(&op->u.write, &s->h.stream, &a.buf, 1,
                     &a.passed->h.stream, on_written);
  return uv_write(&op->u.write, &s->h.stream, &a.buf, 1, on_written);
}

/* socket:write(data [, i [, j [, socket]]]), terminal:write(data [, i [, j]])
   The data (and a socket being passed) stay anchored with the request,
   since an early wake-up does not stop libuv from sending them. */
int cu_stream_write (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  cu_Socket *passed = NULL;
  const char *p;
  size_t len;
  uv_buf_t buf;
  cu_Await *op;
  WriteArgs *args;
  int keep = 2;
  cu_checkyield(L);  /* first, as with the original */
  p = cu_memory_checkdatac(L, 2, &len, CU_MEMCLASS, &s->mcache, 1);
  buf = uv_buf_init((char *)p, (unsigned int)len);
  if (s->domain == CU_SHARE && !lua_isnoneornil(L, 5))
    passed = cu_socket_check(L, 5, CU_KIND(CU_STREAM));
  luaL_argcheck(L, len <= 0x7fffffffu, 2, "too long");
  if (passed) {  /* keep the data and the socket being passed */
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 5);
    lua_rawseti(L, -2, 2);
    keep = lua_gettop(L);
  }
  else if (len < DIRECTSIZE) {  /* small: try to send it all now */
    int n = uv_try_write(&s->h.stream, &buf, 1);
    /* sent: still an await, resumed from the ready list, as the original
       resumes a write from its callback one loop iteration later */
    if (n == (int)len) return cu_time_yieldready(L);
    if (n < 0 && n != UV_EAGAIN) return cu_pushfail(L, n);
    if (n > 0) {
      buf.base += n;
      buf.len -= (unsigned int)n;
    }
  }
  /* Large writes always wait for their callback, which libuv runs in the
     next loop iteration even when it wrote everything at once: the reader
     at the other end gets the chunk while it is still in the cache, where
     writing on until the system buffer is full costs far more. */
  op = cu_await_begin(L);
  op->pin = cu_memory_pinbytes(L, 2, buf.base, buf.len);  /* on_written */
  args = cu_await_args(op, WriteArgs);
  args->buf = buf;
  args->passed = passed;
  return cu_await_start(L, op, startwrite, keep);
}

static void on_shutdown (uv_shutdown_t *req, int status) {
  cu_await_endrequest(cu_await_from(req), status);
}

/* socket:shutdown(), terminal:shutdown(): awaits until what was written
   before is sent and the write side is shut. */
static int startshutdown (lua_State *L, cu_Await *op) {
  cu_Socket *s = cu_socket_ofstart(L);
  if (s == NULL) return UV_ECANCELED;  /* closed while it waited */
  return uv_shutdown(&op->u.shutdown, &s->h.stream, on_shutdown);
}

int cu_stream_shutdown (lua_State *L) {
  cu_Socket *s = cu_socket_checkself(L);
  /* libuv accepts a shutdown while connecting, but never completes it if
     the connect fails: the loop would stay busy until the socket closes */
  if (s->connecting) return cu_pushfail(L, UV_ENOTCONN);
  return cu_await_start(L, cu_await_begin(L), startshutdown, 0);
}
