/*
** test/c/faults.c: an LD_PRELOAD shim that makes a random fraction of some
** system calls fail, for test/faults.lua.
**
**   LD_PRELOAD=build/faults.so COUTIL_FAULTS_SEED=7 COUTIL_FAULTS_RATE=1 ...
**
** Nothing is disturbed until the process sets COUTIL_FAULTS_ARM to its own
** process id (system.setenv): the interpreter's start-up runs untouched,
** and children, which inherit the variable but have other ids, are never
** armed. Once armed (checked with getenv on each call until then, never
** again after) every wrapped call on a descriptor above 2 (the standard
** streams carry the test's report) fails, with probability RATE percent
** (default 1, a float), *before* the real call is made, so a failure never
** hides bytes that were really read or written. The failures are those the
** call can really give for that descriptor:
**
**   read, readv, recvmsg    EINTR; EAGAIN (non-blocking descriptors only);
**                           ECONNRESET, ENOMEM (sockets only)
**   write, writev, sendmsg  EINTR; EAGAIN (non-blocking sockets only: on a
**                           pipe or eventfd it means full, see rwerrors);
**                           ECONNRESET, ENOMEM (sockets only)
**   pread64, pwrite64       EINTR
**   preadv2, pwritev2       EINTR; EAGAIN (with RWF_NOWAIT only)
**   sendfile64              EINTR; EAGAIN (non-blocking only)
**   accept4                 EINTR, EAGAIN (non-blocking only), ECONNABORTED,
**                           ENOMEM
**   connect                 EINTR, ECONNREFUSED
**   epoll_wait, epoll_pwait EINTR
**
** These are the calls libuv 1.44 and coutil import for streams, files and
** the loop (nm -D: libuv's preadv/pwritev of several buffers go through
** syscall() and are not wrapped). The choice is a hash of the seed
** (COUTIL_FAULTS_SEED, default 1) and of a global call number, so a
** single-threaded run is reproducible. At exit, with COUTIL_FAULTS_REPORT
** set, a line "faults: <injected> of <calls> calls (...)" goes to stderr.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

static atomic_int armed;           /* 1 once COUTIL_FAULTS_ARM named us */
static atomic_ulong ncalls, nfaults;
static unsigned long seed = 1;
static double rate = 0.01;
static int report;

enum { F_READ, F_WRITE, F_PREAD, F_PWRITE, F_PREADV2, F_PWRITEV2, F_SENDFILE,
       F_ACCEPT, F_CONNECT, F_EPOLL, F_N };
static const char *const names[F_N] = {"read", "write", "pread", "pwrite",
  "preadv2", "pwritev2", "sendfile", "accept4", "connect", "epoll_wait"};
static atomic_ulong perkind[F_N];

__attribute__((constructor)) static void init (void) {
  const char *s = getenv("COUTIL_FAULTS_SEED");
  if (s) seed = strtoul(s, NULL, 10);
  s = getenv("COUTIL_FAULTS_RATE");
  if (s) rate = strtod(s, NULL) / 100.0;
  report = getenv("COUTIL_FAULTS_REPORT") != NULL;
}

__attribute__((destructor)) static void fini (void) {
  int i;
  char line[512];
  size_t len;
  if (!report || !atomic_load(&armed)) return;
  len = (size_t)snprintf(line, sizeof(line), "faults: %lu of %lu calls (",
                         atomic_load(&nfaults), atomic_load(&ncalls));
  for (i = 0; i < F_N && len < sizeof(line); i++)
    len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %lu",
                            i ? ", " : "", names[i], atomic_load(&perkind[i]));
  if (len < sizeof(line)) len += (size_t)snprintf(line + len,
                                                  sizeof(line) - len, ")\n");
  if (len > sizeof(line)) len = sizeof(line);
  (void)!write(2, line, len);
}

static int isarmed (void) {
  const char *s;
  if (atomic_load_explicit(&armed, memory_order_relaxed)) return 1;
  s = getenv("COUTIL_FAULTS_ARM");
  if (s && strtol(s, NULL, 10) == (long)getpid()) {
    atomic_store(&armed, 1);
    return 1;
  }
  return 0;
}

static unsigned long mix (unsigned long x) {  /* splitmix64 */
  x += 0x9e3779b97f4a7c15UL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9UL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebUL;
  return x ^ (x >> 31);
}

/* 0 to let the call through, else the errno to fail it with, one of the
   'n' in 'errs'. */
static int pick (int kind, int fd, const int *errs, int n) {
  unsigned long r;
  if (fd >= 0 && fd <= 2) return 0;
  if (!isarmed() || n == 0) return 0;
  r = mix(seed * 0x100000001b3UL ^ atomic_fetch_add(&ncalls, 1));
  if ((double)(r >> 11) / 9007199254740992.0 >= rate) return 0;
  atomic_fetch_add(&nfaults, 1);
  atomic_fetch_add(&perkind[kind], 1);
  return errs[(r & 0x7ff) % (unsigned long)n];
}

static int nonblocking (int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

static int issocket (int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The errors of a read or write on 'fd'. A write's EAGAIN only on sockets:
   on a pipe or an eventfd it means "full", and whoever wakes a loop that
   way (libuv's uv_async_send, coutil's channel eventfd) rightly takes it
   as "a wake-up is already pending", so a fake one would lose it. */
static int rwerrors (int fd, int *errs, int writing) {
  int n = 0, sock = issocket(fd);
  errs[n++] = EINTR;
  if (nonblocking(fd) && (sock || !writing)) errs[n++] = EAGAIN;
  if (sock) {
    errs[n++] = ECONNRESET;
    errs[n++] = ENOMEM;
  }
  return n;
}

#define REAL(ret, name, ...) \
  static ret (*real)(__VA_ARGS__); \
  if (real == NULL) real = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, name)

#define FAIL(kind, fd, errs, n) do { \
    int e_ = pick(kind, fd, errs, n); \
    if (e_) { errno = e_; return -1; } \
  } while (0)

ssize_t read (int fd, void *buf, size_t count) {
  int errs[4];
  REAL(ssize_t, "read", int, void *, size_t);
  if (fd > 2) FAIL(F_READ, fd, errs, isarmed() ? rwerrors(fd, errs, 0) : 0);
  return real(fd, buf, count);
}

ssize_t write (int fd, const void *buf, size_t count) {
  int errs[4];
  REAL(ssize_t, "write", int, const void *, size_t);
  if (fd > 2) FAIL(F_WRITE, fd, errs, isarmed() ? rwerrors(fd, errs, 1) : 0);
  return real(fd, buf, count);
}

ssize_t readv (int fd, const struct iovec *iov, int iovcnt) {
  int errs[4];
  REAL(ssize_t, "readv", int, const struct iovec *, int);
  if (fd > 2) FAIL(F_READ, fd, errs, isarmed() ? rwerrors(fd, errs, 0) : 0);
  return real(fd, iov, iovcnt);
}

ssize_t writev (int fd, const struct iovec *iov, int iovcnt) {
  int errs[4];
  REAL(ssize_t, "writev", int, const struct iovec *, int);
  if (fd > 2) FAIL(F_WRITE, fd, errs, isarmed() ? rwerrors(fd, errs, 1) : 0);
  return real(fd, iov, iovcnt);
}

ssize_t recvmsg (int fd, struct msghdr *msg, int flags) {
  int errs[4];
  REAL(ssize_t, "recvmsg", int, struct msghdr *, int);
  if (fd > 2) FAIL(F_READ, fd, errs, isarmed() ? rwerrors(fd, errs, 0) : 0);
  return real(fd, msg, flags);
}

ssize_t sendmsg (int fd, const struct msghdr *msg, int flags) {
  int errs[4];
  REAL(ssize_t, "sendmsg", int, const struct msghdr *, int);
  if (fd > 2) FAIL(F_WRITE, fd, errs, isarmed() ? rwerrors(fd, errs, 1) : 0);
  return real(fd, msg, flags);
}

ssize_t pread64 (int fd, void *buf, size_t count, off_t offset) {
  static const int errs[] = {EINTR};
  REAL(ssize_t, "pread64", int, void *, size_t, off_t);
  FAIL(F_PREAD, fd, errs, 1);
  return real(fd, buf, count, offset);
}

ssize_t pwrite64 (int fd, const void *buf, size_t count, off_t offset) {
  static const int errs[] = {EINTR};
  REAL(ssize_t, "pwrite64", int, const void *, size_t, off_t);
  FAIL(F_PWRITE, fd, errs, 1);
  return real(fd, buf, count, offset);
}

ssize_t preadv2 (int fd, const struct iovec *iov, int iovcnt, off_t offset,
                 int flags) {
  static const int errs[] = {EINTR, EAGAIN};
  REAL(ssize_t, "preadv2", int, const struct iovec *, int, off_t, int);
  FAIL(F_PREADV2, fd, errs, (flags & RWF_NOWAIT) ? 2 : 1);
  return real(fd, iov, iovcnt, offset, flags);
}

ssize_t pwritev2 (int fd, const struct iovec *iov, int iovcnt, off_t offset,
                  int flags) {
  static const int errs[] = {EINTR, EAGAIN};
  REAL(ssize_t, "pwritev2", int, const struct iovec *, int, off_t, int);
  FAIL(F_PWRITEV2, fd, errs, (flags & RWF_NOWAIT) ? 2 : 1);
  return real(fd, iov, iovcnt, offset, flags);
}

ssize_t sendfile64 (int out, int in, off_t *offset, size_t count) {
  int errs[2] = {EINTR, EAGAIN};
  REAL(ssize_t, "sendfile64", int, int, off_t *, size_t);
  FAIL(F_SENDFILE, out, errs, isarmed() && nonblocking(out) ? 2 : 1);
  return real(out, in, offset, count);
}

int accept4 (int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  int errs[4], n = 0;
  REAL(int, "accept4", int, struct sockaddr *, socklen_t *, int);
  if (isarmed()) {
    errs[n++] = EINTR;
    errs[n++] = ECONNABORTED;
    errs[n++] = ENOMEM;
    if (nonblocking(fd)) errs[n++] = EAGAIN;
  }
  FAIL(F_ACCEPT, fd, errs, n);
  return real(fd, addr, len, flags);
}

int connect (int fd, const struct sockaddr *addr, socklen_t len) {
  static const int errs[] = {EINTR, ECONNREFUSED};
  REAL(int, "connect", int, const struct sockaddr *, socklen_t);
  FAIL(F_CONNECT, fd, errs, 2);
  return real(fd, addr, len);
}

int epoll_wait (int epfd, struct epoll_event *events, int max, int timeout) {
  static const int errs[] = {EINTR};
  REAL(int, "epoll_wait", int, struct epoll_event *, int, int);
  FAIL(F_EPOLL, epfd, errs, 1);
  return real(epfd, events, max, timeout);
}

int epoll_pwait (int epfd, struct epoll_event *events, int max, int timeout,
                 const sigset_t *mask) {
  static const int errs[] = {EINTR};
  REAL(int, "epoll_pwait", int, struct epoll_event *, int, int,
       const sigset_t *);
  FAIL(F_EPOLL, epfd, errs, 1);
  return real(epfd, events, max, timeout, mask);
}
