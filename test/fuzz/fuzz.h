/*
** test/fuzz/fuzz.h: what every libFuzzer target of coutil shares
** (docs/building.md, "Fuzzing"). Each target is one executable linked
** with liblua5.4 and with coutil's objects compiled for fuzzing
** (build-fuzz/obj), so it calls the modules' luaopen_ functions and
** internal C functions directly; nothing is loaded with dlopen.
**
** Every input gets a fresh Lua state (fz_newstate), closed at the end, so
** inputs cannot influence each other and LeakSanitizer sees what an input
** leaked. The state's allocator refuses to hold more than FZ_HEAPLIMIT
** bytes: a huge size asked for by the input (memory.create(2^40)) becomes
** a Lua memory error, as on a machine without that memory, instead of the
** fuzzer's malloc-limit report.
**
** Targets written as a Lua driver (fz_rundriver) get the input as the
** chunk's argument and the globals 'system', 'memory', 'FAIL' and
** 'FAILALLOC' (a call under memory pressure, below). The
** driver calls the functions under test through pcall: Lua errors are
** expected results. FAIL(msg) aborts (a broken property); so does an
** error that escapes the driver, other than a memory error.
*/
#ifndef coutil_fuzz_h
#define coutil_fuzz_h

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_coutil_system (lua_State *L);
int luaopen_memory (lua_State *L);

#define FZ_HEAPLIMIT ((size_t)64 << 20)

typedef struct FzHeap {
  size_t used;
} FzHeap;

/* Allocations left before every one fails (FAILALLOC(n) in a driver:
   the error paths of a call under memory pressure); -1: none fails. */
static long fz_allocsleft = -1;

static void *fz_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  FzHeap *h = (FzHeap *)ud;
  size_t old = ptr ? osize : 0;
  void *p;
  if (nsize == 0) {
    free(ptr);
    h->used -= old;
    return NULL;
  }
  if (nsize > old && nsize - old > FZ_HEAPLIMIT - h->used) return NULL;
  if (fz_allocsleft == 0) return NULL;
  if (fz_allocsleft > 0) fz_allocsleft--;
  p = realloc(ptr, nsize);
  if (p != NULL) h->used = h->used - old + nsize;
  return p;
}

static int fz_panic (lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "fuzz: Lua panic: %s\n", msg ? msg : "(no message)");
  abort();
  return 0;
}

/* Each state has its heap (two at a time at most: fuzz_values). */
static FzHeap fz_heaps[2];
static int fz_nextheap;

/* A state with the standard libraries; 'system' and 'memory' are set as
   globals when asked for (luaopen_ functions, as require would call). */
static lua_State *fz_newstate (int withsystem, int withmemory) {
  lua_State *L;
  FzHeap *h = &fz_heaps[fz_nextheap++ % 2];
  h->used = 0;
  L = lua_newstate(fz_alloc, h);
  if (L == NULL) abort();
  lua_atpanic(L, fz_panic);
  luaL_openlibs(L);
  if (withsystem) {
    luaL_requiref(L, "coutil.system", luaopen_coutil_system, 0);
    lua_setglobal(L, "system");
  }
  if (withmemory) {
    luaL_requiref(L, "memory", luaopen_memory, 0);
    lua_setglobal(L, "memory");
  }
  return L;
}

/* FAILALLOC(n, f, ...): calls f(...) under pcall with only n more
   allocations allowed; returns what pcall returns. */
static int fz_failalloc (lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  int status, top;
  luaL_checkany(L, 2);
  lua_remove(L, 1);
  top = lua_gettop(L);
  fz_allocsleft = n < 0 ? 0 : (long)n;
  status = lua_pcall(L, top - 1, LUA_MULTRET, 0);
  fz_allocsleft = -1;
  lua_pushboolean(L, status == LUA_OK);
  lua_insert(L, 1);
  return lua_gettop(L);
}

static int fz_fail (lua_State *L) {
  if (fz_allocsleft >= 0)  /* a model cannot foresee memory errors */
    return luaL_error(L, "property not checked under memory pressure");
  fprintf(stderr, "fuzz: property broken: %s\n", luaL_tolstring(L, 1, NULL));
  abort();
  return 0;
}

/* The chunk of a driver, compiled once and kept as binary. */
typedef struct FzDriver {
  const char *name;
  const char *source;
  char *binary;
  size_t len;
} FzDriver;

static int fz_dumpwriter (lua_State *L, const void *p, size_t sz, void *ud) {
  FzDriver *d = (FzDriver *)ud;
  (void)L;
  d->binary = (char *)realloc(d->binary, d->len + sz);
  if (d->binary == NULL) abort();
  memcpy(d->binary + d->len, p, sz);
  d->len += sz;
  return 0;
}

static void fz_compile (FzDriver *d) {
  lua_State *L = luaL_newstate();
  if (luaL_loadbuffer(L, d->source, strlen(d->source), d->name) != LUA_OK) {
    fprintf(stderr, "fuzz: driver %s: %s\n", d->name, lua_tostring(L, -1));
    abort();
  }
  lua_dump(L, fz_dumpwriter, d, 0);
  lua_close(L);
}

/* Runs driver 'd' in L with the input as its argument (then closes L). */
static inline void fz_rundriver (lua_State *L, FzDriver *d, const uint8_t *data,
                          size_t size) {
  int status;
  if (d->binary == NULL) fz_compile(d);
  lua_pushcfunction(L, fz_fail);
  lua_setglobal(L, "FAIL");
  lua_pushcfunction(L, fz_failalloc);
  lua_setglobal(L, "FAILALLOC");
  if (luaL_loadbufferx(L, d->binary, d->len, d->name, "b") != LUA_OK) {
    fprintf(stderr, "fuzz: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_pushlstring(L, (const char *)data, size);
  status = lua_pcall(L, 1, 0, 0);
  fz_allocsleft = -1;
  if (status != LUA_OK && status != LUA_ERRMEM) {
    const char *msg = lua_tostring(L, -1);
    /* the heap limit may also surface as "not enough memory" raised by
       the library itself (memory.resize, cu_values_checksave) */
    if (msg == NULL || strstr(msg, "not enough memory") == NULL) {
      fprintf(stderr, "fuzz: driver %s raised: %s\n", d->name,
              msg ? msg : "(no message)");
      abort();
    }
  }
  lua_close(L);
}

/* The Lua side every driver starts with: a reader of the input. */
#define FZ_PRELUDE \
  "local data = ...\n" \
  "local pos = 1\n" \
  "local function more () return pos <= #data end\n" \
  "local function byte ()\n" \
  "  local b = data:byte(pos) or 0\n" \
  "  pos = pos + 1\n" \
  "  return b\n" \
  "end\n" \
  "local function bytes (n)\n" \
  "  local s = data:sub(pos, pos + n - 1)\n" \
  "  pos = pos + n\n" \
  "  return s\n" \
  "end\n" \
  "local SPECIAL = {0, 1, -1, 2, 255, 256, 65535, 65536, 1 << 31,\n" \
  "  -(1 << 31), math.maxinteger, math.mininteger, math.maxinteger - 1,\n" \
  "  math.mininteger + 1, 4, 8, 16, 17, 100, 4096}\n" \
  "local function int ()\n" \
  "  local t = byte()\n" \
  "  local k = t % 4\n" \
  "  if k == 0 then return t // 4 - 32\n" \
  "  elseif k == 1 then return byte() - 128 + (t // 4) * 256\n" \
  "  elseif k == 2 then\n" \
  "    local s = bytes(8)\n" \
  "    if #s < 8 then return 0 end\n" \
  "    return (string.unpack('<i8', s))\n" \
  "  end\n" \
  "  return SPECIAL[t // 4 % #SPECIAL + 1]\n" \
  "end\n" \
  "local function str ()\n" \
  "  local n = byte()\n" \
  "  if n == 255 then n = byte() * 256 + byte() end\n" \
  "  return bytes(n)\n" \
  "end\n" \
  "local function pick (list) return list[byte() % #list + 1] end\n"

#endif
