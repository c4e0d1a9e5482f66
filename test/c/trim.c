/*
** test/c/trim.c: an LD_PRELOAD shim for the soak test's server
** (test/soak/server.lua). os.getenv("SOAK_MALLOC_TRIM") runs
** malloc_trim(0) and returns "1"; os.getenv("SOAK_MALLINFO") returns
** "<uordblks> <hblkhd>" of mallinfo2(), the bytes malloc has handed out
** from its heap and in mappings; every other name goes to the real getenv.
**
** Why: the soak test checks the server's resident memory for leaks, and
** glibc keeps freed memory of its brk heap resident (it gives back only the
** top of the heap). Which of those pages are resident at a sample depends on
** where the last few thousand connections' buffers happened to land, not on
** what the server holds: malloc_stats() after 4,000 reset connections
** showed 32.9 MB of heap and 0.27 MB in use (test/soak/RESULTS.md).
** malloc_trim(0) gives back every free page, so that the resident memory
** measured follows what is in use. Asked through getenv because the server
** is plain Lua, and a call from Lua runs outside any allocation (a signal
** handler could interrupt malloc itself).
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

char *getenv (const char *name) {
  static char *(*real)(const char *);
  if (name != NULL && strcmp(name, "SOAK_MALLOC_TRIM") == 0) {
    malloc_trim(0);
    return "1";
  }
  if (name != NULL && strcmp(name, "SOAK_MALLINFO") == 0) {
    static char buf[64];
    struct mallinfo2 mi = mallinfo2();
    snprintf(buf, sizeof buf, "%zu %zu", mi.uordblks, mi.hblkhd);
    return buf;
  }
  if (real == NULL) *(void **)&real = dlsym(RTLD_NEXT, "getenv");
  return real != NULL ? real(name) : NULL;
}
