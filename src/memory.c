/*
** memory.c: the `memory` module (spec: memory-module.md) and the buffer
** accessors of memory.h. Compiled into memory.so and into coutil.so, so
** the two copies agree only through registry names and data layouts,
** never through addresses of statics. Fixed memories keep their bytes
** inline; a resizable one owns a block from the state's allocator.
*/
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "memory.h"

#define MEMORY_CLASS "char[]"       /* fixed and resizable memories */
#define EXTERNAL_CLASS "luamem_Ref" /* LuaMemory's external memories */

/* A resizable memory: a "char[]" userdata of this size whose first user
   value is the integer LAYOUT (fixed memories have none or nil there, so
   Lua code cannot forge one; another number means another layout, from
   another build, and is refused rather than misread). 'closed' is set
   by __close: size 0, type "other". While 'pins' > 0 libuv may still use
   the bytes: they cannot move, and bytes released meanwhile wait in
   'orphan' for the last cu_memory_unpin. */
#define LAYOUT 2  /* change with the struct below */
typedef struct Resizable {
  char *data;  /* NULL while size is 0 or once closed */
  size_t size;
  int closed;
  unsigned pins;
  char *orphan;
  size_t orphansize;
} Resizable;

/* Layout of LuaMemory's external memories (luamem_Ref). */
typedef struct ExternalRef {
  char *memory;  /* NULL once released */
  size_t len;
  void (*unref) (lua_State *L, void *memory, size_t len);
} ExternalRef;

typedef enum { MEM_NONE, MEM_FIXED, MEM_RESIZABLE, MEM_OTHER } MemKind;

typedef struct Memory {
  MemKind kind;
  char *data;        /* never NULL for a memory: 'emptybytes' when empty */
  size_t len;
  Resizable *rsz;    /* set for resizable and closed memories */
} Memory;

static char emptybytes[1];

static const char *const kindnames[] = {NULL, "fixed", "resizable", "other"};

static int isclass (lua_State *L, const char *name) {
  int same;
  luaL_getmetatable(L, name);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 1);
  return same;
}

/* Fills 'm' from the value at 'arg'; returns its kind (MEM_NONE for a
   value that is not a memory). 'mt' is the stack index of the "char[]"
   metatable (cu_memory_pushclass) when the caller has it at hand, or 0:
   comparing with it saves a registry lookup by name on the hot path of
   every socket read and write. */
static MemKind tomemory (lua_State *L, int arg, Memory *m, int mt) {
  void *p;
  int ours;
  if (mt) mt = lua_absindex(L, mt);
  m->kind = MEM_NONE;
  m->data = NULL;
  m->len = 0;
  m->rsz = NULL;
  if (lua_type(L, arg) != LUA_TUSERDATA)
    return MEM_NONE;  /* strings, the usual data to write, leave here */
  p = lua_touserdata(L, arg);
  arg = lua_absindex(L, arg);
  luaL_checkstack(L, 3, NULL);  /* callers may have a full stack */
  if (!lua_getmetatable(L, arg)) return MEM_NONE;
  ours = (mt != 0 && lua_topointer(L, -1) == lua_topointer(L, mt)) ||
         isclass(L, MEMORY_CLASS);  /* addresses of live tables: see
                                       cu_socket_toref */
  if (ours) {
    size_t size = lua_rawlen(L, arg);
    /* only a block the size of a Resizable can be one: the common fixed
       memory needs no look at its user value */
    int marked = size == sizeof(Resizable) &&
                 lua_getiuservalue(L, arg, 1) > LUA_TNIL;
    int layout = marked && lua_isinteger(L, -1) &&
                 lua_tointeger(L, -1) == LAYOUT;
    if (size == sizeof(Resizable)) lua_pop(L, 1);
    if (!marked) {
      m->kind = MEM_FIXED;
      m->data = (char *)p;
      m->len = size;
    }
    else if (layout) {
      Resizable *r = (Resizable *)p;
      m->rsz = r;
      m->kind = r->closed ? MEM_OTHER : MEM_RESIZABLE;
      m->data = r->data;
      m->len = r->size;
    }  /* else another build's layout: refused, not misread */
  }
  else if (isclass(L, EXTERNAL_CLASS)) {
    ExternalRef *ref = (ExternalRef *)p;
    m->kind = MEM_OTHER;
    m->data = ref->memory;
    m->len = ref->memory ? ref->len : 0;
  }
  lua_pop(L, 1);  /* metatable */
  if (m->kind != MEM_NONE && m->data == NULL) {
    m->data = emptybytes;
    m->len = 0;
  }
  return m->kind;
}

/* The memory module's own functions and metamethods have the "char[]"
   metatable as upvalue 1 (see setupclass). */
#define OWNCLASS lua_upvalueindex(1)

static Memory checkmemory (lua_State *L, int arg, int mt) {
  Memory m;
  if (tomemory(L, arg, &m, mt) == MEM_NONE) luaL_typeerror(L, arg, "memory");
  return m;
}

/* Bytes of a string, number or memory at 'arg' (patterns, data). Strings
   first: they are the usual data to write, and never memories. */
static const char *checkbytes (lua_State *L, int arg, size_t *len,
                               int mt) {
  Memory m;
  int t = lua_type(L, arg);
  if (t == LUA_TSTRING) return lua_tolstring(L, arg, len);
  if (tomemory(L, arg, &m, mt) != MEM_NONE) {
    *len = m.len;
    return m.data;
  }
  if (t == LUA_TNUMBER) return lua_tolstring(L, arg, len);
  luaL_typeerror(L, arg, "string or memory");
  return NULL;
}

/* --- positions, corrected like string.sub ------------------------------ */

/* A start position: negative counts from the end; below 1 becomes 1. */
static size_t startpos (lua_Integer pos, size_t len) {
  if (pos > 0) return (size_t)pos;
  if (pos == 0 || pos < -(lua_Integer)len) return 1;
  return len + (size_t)pos + 1;
}

/* An end position: beyond the end becomes the end; below -len is 0. */
static size_t endpos (lua_Integer pos, size_t len) {
  if (pos > (lua_Integer)len) return len;
  if (pos >= 0) return (size_t)pos;
  if (pos < -(lua_Integer)len) return 0;
  return len + (size_t)pos + 1;
}

/* luaL_optinteger, with its common cases (absent, an integer) first */
static lua_Integer optinteger (lua_State *L, int arg, lua_Integer def) {
  int isint;
  lua_Integer n;
  if (lua_type(L, arg) <= LUA_TNIL) return def;
  n = lua_tointegerx(L, arg, &isint);
  return isint ? n : luaL_checkinteger(L, arg);
}

/* Range from the optional i (at 'arg', default 1) and j (at arg+1,
   default -1): sets *start (0-based) and returns the byte count. */
static size_t checkrange (lua_State *L, int arg, size_t len, size_t *start) {
  int top = lua_gettop(L);  /* usually neither is given, or only i */
  size_t i = startpos(top < arg ? 1 : optinteger(L, arg, 1), len);
  size_t j = endpos(top <= arg ? -1 : optinteger(L, arg + 1, -1), len);
  *start = i - 1;
  return i > j ? 0 : j - i + 1;
}

/* The range of the 'size' bytes at 'data' that i and j (at 'arg' and
   arg+1) select: its first byte, and its size in *len. */
static char *inrange (lua_State *L, int arg, const char *data, size_t size,
                      size_t *len) {
  size_t start;
  *len = checkrange(L, arg, size, &start);
  return (char *)(*len > 0 ? data + start : data);
}

/* --- accessors of memory.h --------------------------------------------- */

static char *tobytes (lua_State *L, int arg, size_t *len, int mt) {
  Memory m;
  if (tomemory(L, arg, &m, mt) == MEM_NONE) return NULL;
  if (len) *len = m.len;
  return m.data;
}

char *cu_memory_to (lua_State *L, int arg, size_t *len) {
  return tobytes(L, arg, len, 0);
}

char *cu_memory_check (lua_State *L, int arg, size_t *len) {
  Memory m = checkmemory(L, arg, 0);
  if (len) *len = m.len;
  return m.data;
}

char *cu_memory_checkbuffer (lua_State *L, int arg, size_t *len, int mt) {
  Memory m = checkmemory(L, arg, mt);
  return inrange(L, arg + 1, m.data, m.len, len);
}

const char *cu_memory_checkdata (lua_State *L, int arg, size_t *len, int mt) {
  size_t size;
  const char *data = checkbytes(L, arg, &size, mt);
  return inrange(L, arg + 1, data, size, len);
}

/* --- remembered memories ------------------------------------------------
** A socket reads into and writes from the same memory call after call.
** Recognising it costs a metatable comparison and several API calls; a
** cache that names the last memory seen (kept alive by its owner's user
** value, so the address cannot be reused by another object meanwhile)
** turns that into one comparison. A fixed memory's size never changes;
** a resizable one is read through its struct every time.
*/

/* Fills 'm' from the cache when the value at 'arg' is the memory it names. */
static int fromcache (lua_State *L, int arg, const cu_MemoryCache *c,
                      Memory *m) {
  const void *p;
  if (c->ud == NULL || lua_type(L, arg) != LUA_TUSERDATA) return 0;
  p = lua_touserdata(L, arg);
  if (p != c->ud) return 0;
  m->rsz = NULL;
  if (!c->resizable) {
    m->kind = MEM_FIXED;
    m->data = (char *)p;
    m->len = c->len;
  }
  else {
    Resizable *r = (Resizable *)p;
    m->rsz = r;
    m->kind = r->closed ? MEM_OTHER : MEM_RESIZABLE;
    m->data = r->data ? r->data : emptybytes;
    m->len = r->data ? r->size : 0;
  }
  return 1;
}

/* Names the memory 'm' at 'arg' in the cache, anchored as user value 1 of
   the userdata at 'owner'. Only our own layouts: an external memory's
   size can change behind our back. */
static void remember (lua_State *L, int arg, const Memory *m,
                      cu_MemoryCache *c, int owner) {
  if (m->kind != MEM_FIXED && m->rsz == NULL) return;
  lua_pushvalue(L, arg);
  lua_setiuservalue(L, owner, 1);
  c->ud = lua_touserdata(L, arg);
  c->len = m->len;
  c->resizable = m->rsz != NULL;
}

/* The range of the memory at 'arg' through the cache; NULL when 'arg' is
   not a memory and 'strict' is 0 (with 'strict' set, that raises). */
static char *cachedrange (lua_State *L, int arg, size_t *len, int mt,
                          cu_MemoryCache *c, int owner, int strict) {
  Memory m;
  char *p;
  int hit = fromcache(L, arg, c, &m);
  if (!hit) {
    if (strict) m = checkmemory(L, arg, mt);
    else if (tomemory(L, arg, &m, mt) == MEM_NONE) return NULL;
  }
  p = inrange(L, arg + 1, m.data, m.len, len);
  if (!hit) remember(L, arg, &m, c, owner);  /* the arguments were valid */
  return p;
}

char *cu_memory_checkbufferc (lua_State *L, int arg, size_t *len, int mt,
                       cu_MemoryCache *c, int owner) {
  return cachedrange(L, arg, len, mt, c, owner, 1);
}

const char *cu_memory_checkdatac (lua_State *L, int arg, size_t *len, int mt,
                           cu_MemoryCache *c, int owner) {
  const char *p = lua_type(L, arg) == LUA_TSTRING ? NULL :
                  cachedrange(L, arg, len, mt, c, owner, 0);
  return p ? p : cu_memory_checkdata(L, arg, len, mt);  /* string, number */
}

/* --- creation, type, size ---------------------------------------------- */

static char *newfixed (lua_State *L, size_t size) {
  char *p = (char *)lua_newuserdatauv(L, size, 0);
  luaL_setmetatable(L, MEMORY_CLASS);
  return p;
}

/* Born empty, so nothing is half-built if setting the marker fails. */
static Resizable *newresizable (lua_State *L) {
  Resizable *r = (Resizable *)lua_newuserdatauv(L, sizeof(Resizable), 1);
  r->data = NULL;
  r->size = 0;
  r->closed = 0;
  r->pins = 0;
  r->orphan = NULL;
  r->orphansize = 0;
  lua_pushinteger(L, LAYOUT);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, MEMORY_CLASS);
  return r;
}

/* memory.create([m [, i [, j]]]) */
static int memory_create (lua_State *L) {
  if (lua_isnoneornil(L, 1)) newresizable(L);
  else if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0, 1, "invalid size");
    memset(newfixed(L, (size_t)n), 0, (size_t)n);
  }
  else {
    size_t len, start, count;
    const char *s;
    if (lua_type(L, 1) != LUA_TSTRING && tobytes(L, 1, NULL, OWNCLASS) == NULL)
      return luaL_typeerror(L, 1, "number, string or memory");
    s = checkbytes(L, 1, &len, OWNCLASS);
    count = checkrange(L, 2, len, &start);
    /* 's' stays valid: a new userdata never moves existing bytes */
    if (count > 0) memcpy(newfixed(L, count), s + start, count);
    else newfixed(L, 0);
  }
  return 1;
}

/* memory.type(m) */
static int memory_type (lua_State *L) {
  Memory m;
  luaL_checkany(L, 1);
  if (tomemory(L, 1, &m, OWNCLASS) == MEM_NONE) lua_pushnil(L);
  else lua_pushstring(L, kindnames[m.kind]);
  return 1;
}

/* memory.len(m), also #m */
static int memory_len (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)checkmemory(L, 1, OWNCLASS).len);
  return 1;
}

/* Copies 'plen' bytes of 'pat' over and over into 'dst' ('n' bytes). */
static void repeatbytes (char *dst, size_t n, const char *pat, size_t plen) {
  if (plen == 1) {
    memset(dst, (unsigned char)pat[0], n);
    return;
  }
  while (n > 0) {
    size_t k = n < plen ? n : plen;
    memcpy(dst, pat, k);
    dst += k;
    n -= k;
  }
}

/* Gives bytes of a resizable memory back to the state's allocator. */
static void freebytes (lua_State *L, char *p, size_t size) {
  void *ud;
  lua_Alloc allocf = lua_getallocf(L, &ud);
  if (p) allocf(ud, p, size, 0);
}

/* memory.resize(m, l [, s]) */
static int memory_resize (lua_State *L) {
  Memory m;
  lua_Integer l;
  size_t old, plen = 0;
  const char *pat;
  if (tomemory(L, 1, &m, OWNCLASS) != MEM_RESIZABLE) {
    const char *got = m.kind == MEM_NONE ? luaL_typename(L, 1)
                                         : kindnames[m.kind];
    return luaL_argerror(L, 1, lua_pushfstring(L,
                         "resizable memory expected, got %s", got));
  }
  l = luaL_checkinteger(L, 2);
  luaL_argcheck(L, l >= 0, 2, "invalid size");
  if (!lua_isnoneornil(L, 3)) checkbytes(L, 3, &plen, OWNCLASS);  /* check first */
  old = m.rsz->size;
  if ((size_t)l == old) return 0;
  if (m.rsz->pins > 0) return luaL_error(L, "in use");
  if (l == 0) {
    freebytes(L, m.rsz->data, old);
    m.rsz->data = NULL;
  }
  else {
    void *ud;
    lua_Alloc allocf = lua_getallocf(L, &ud);
    char *p = (char *)allocf(ud, m.rsz->data, m.rsz->data ? old : 0,
                             (size_t)l);
    if (p == NULL) return luaL_error(L, "not enough memory");
    m.rsz->data = p;
  }
  m.rsz->size = (size_t)l;
  if ((size_t)l > old) {
    /* looked up after the move: 's' may be 'm' itself (its old bytes) */
    pat = lua_isnoneornil(L, 3) ? NULL : checkbytes(L, 3, &plen, OWNCLASS);
    if (lua_rawequal(L, 1, 3)) plen = old;
    if (plen == 0) memset(m.rsz->data + old, 0, (size_t)l - old);
    else repeatbytes(m.rsz->data + old, (size_t)l - old, pat, plen);
  }
  return 0;
}

/* Frees the bytes of a resizable memory, or leaves them to the last
   unpin. __gc and __close both run it: only __close makes it "other". */
static void release (lua_State *L, Resizable *r) {
  if (r->data && r->pins > 0) {
    r->orphan = r->data;
    r->orphansize = r->size;
  }
  else freebytes(L, r->data, r->size);
  r->data = NULL;
  r->size = 0;
}

void *cu_memory_pin (lua_State *L, int arg) {
  Memory m;
  if (tomemory(L, arg, &m, 0) != MEM_RESIZABLE) return NULL;
  m.rsz->pins++;
  return m.rsz;
}

void cu_memory_unpin (lua_State *L, void *token) {
  Resizable *r = (Resizable *)token;
  if (r == NULL || r->pins == 0 || --r->pins > 0 || r->orphan == NULL)
    return;
  freebytes(L, r->orphan, r->orphansize);
  r->orphan = NULL;
  r->orphansize = 0;
}

void *cu_memory_pinbytes (lua_State *L, int arg, const char *p, size_t len) {
  const char *block = (const char *)lua_touserdata(L, arg);
  /* bytes inside the userdata block itself (a fixed memory) never move:
     Lua does not move userdata; this saves a lookup on every read */
  if (block == NULL ||
      (p >= block && p + len <= block + lua_rawlen(L, arg)))
    return NULL;
  return cu_memory_pin(L, arg);
}

static int memory_gc (lua_State *L) {
  Memory m;
  if (tomemory(L, 1, &m, OWNCLASS) != MEM_NONE && m.rsz) release(L, m.rsz);
  return 0;
}

/* Closing a fixed memory has no effect: its bytes are part of it. */
static int memory_close (lua_State *L) {
  Memory m;
  if (tomemory(L, 1, &m, OWNCLASS) != MEM_NONE && m.rsz) {
    release(L, m.rsz);
    m.rsz->closed = 1;
  }
  return 0;
}

/* --- reading ----------------------------------------------------------- */

/* memory.diff(m1, m2) */
static int memory_diff (lua_State *L) {
  size_t l1, l2, n, k;
  const unsigned char *a = (const unsigned char *)checkbytes(L, 1, &l1, OWNCLASS);
  const unsigned char *b = (const unsigned char *)checkbytes(L, 2, &l2, OWNCLASS);
  n = l1 < l2 ? l1 : l2;
  for (k = 0; k < n && a[k] == b[k]; k++) continue;
  if (k < n) {
    lua_pushinteger(L, (lua_Integer)k + 1);
    lua_pushboolean(L, a[k] < b[k]);
  }
  else if (l1 != l2) {
    lua_pushinteger(L, (lua_Integer)n + 1);
    lua_pushboolean(L, l1 < l2);
  }
  else {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
  }
  return 2;
}

/* memory.tostring(m [, i [, j]]), also tostring(m) */
static int memory_tostring (lua_State *L) {
  Memory m = checkmemory(L, 1, OWNCLASS);
  size_t start, count = checkrange(L, 2, m.len, &start);
  lua_pushlstring(L, m.data + (count > 0 ? start : 0), count);
  return 1;
}

/* memory.get(m, i [, j]) */
static int memory_get (lua_State *L) {
  Memory m = checkmemory(L, 1, OWNCLASS);
  size_t i = startpos(luaL_checkinteger(L, 2), m.len);
  size_t j = endpos(luaL_optinteger(L, 3, (lua_Integer)i), m.len);
  size_t k;
  if (i > j) return 0;
  if (j - i >= (size_t)INT_MAX) return luaL_error(L, "memory slice too long");
  luaL_checkstack(L, (int)(j - i + 1), "memory slice too long");
  for (k = i; k <= j; k++)
    lua_pushinteger(L, (unsigned char)m.data[k - 1]);
  return (int)(j - i + 1);
}

/* memory.find(m, s [, i [, j [, o]]]) */
static int memory_find (lua_State *L) {
  Memory m = checkmemory(L, 1, OWNCLASS);
  size_t slen, start, count, o;
  const char *s = checkbytes(L, 2, &slen, OWNCLASS);
  const char *found;
  count = checkrange(L, 3, m.len, &start);
  o = startpos(luaL_optinteger(L, 5, 1), slen);
  if (o > slen) {  /* empty needle: found where the range begins */
    lua_Integer i = (lua_Integer)start + 1;
    size_t j = endpos(luaL_optinteger(L, 4, -1), m.len);
    if (start <= j) lua_pushinteger(L, i);
    else lua_pushnil(L);
    return 1;
  }
  s += o - 1;
  slen -= o - 1;
  found = count >= slen ? memmem(m.data + start, count, s, slen) : NULL;
  if (found) lua_pushinteger(L, (lua_Integer)(found - m.data) + 1);
  else lua_pushnil(L);
  return 1;
}

/* --- writing ----------------------------------------------------------- */

static unsigned char checkbyte (lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, 0 <= v && v <= UCHAR_MAX, arg, "value out of range");
  return (unsigned char)v;
}

/* memory.set(m, i, ...) */
static int memory_set (lua_State *L) {
  Memory m = checkmemory(L, 1, OWNCLASS);
  size_t i = startpos(luaL_checkinteger(L, 2), m.len);
  int top = lua_gettop(L), arg;
  for (arg = 3; arg <= top; arg++) checkbyte(L, arg);  /* all or nothing */
  for (arg = 3; arg <= top && i <= m.len; arg++, i++)
    m.data[i - 1] = (char)checkbyte(L, arg);
  return 0;
}

/* memory.fill(m, s [, i [, j [, o]]]) */
static int memory_fill (lua_State *L) {
  Memory m = checkmemory(L, 1, OWNCLASS);
  size_t start, count;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    unsigned char byte = checkbyte(L, 2);
    count = checkrange(L, 3, m.len, &start);
    if (count > 0) memset(m.data + start, byte, count);
  }
  else {
    size_t plen, o;
    const char *pat = checkbytes(L, 2, &plen, OWNCLASS);
    count = checkrange(L, 3, m.len, &start);
    o = startpos(luaL_optinteger(L, 5, 1), plen);
    if (count == 0 || o > plen) return 0;  /* nothing to fill or repeat */
    pat += o - 1;
    plen -= o - 1;
    if ((uintptr_t)pat < (uintptr_t)(m.data + start + count) &&
        (uintptr_t)(m.data + start) < (uintptr_t)(pat + plen)) {
      /* the pattern overlaps the bytes to fill: repeat a copy of it */
      pat = lua_pushlstring(L, pat, plen);
    }
    repeatbytes(m.data + start, count, pat, plen);
  }
  return 0;
}

/* --- pack and unpack: the formats of string.pack ----------------------- */

#define MAXINTSIZE 16        /* largest size of i[n], I[n], s[n] */
#define NATIVEINT ((int)sizeof(lua_Integer))

/* Largest alignment '!' gives when it has no number. */
struct nativealign { char c; union { lua_Number n; double d; void *p;
                     lua_Integer i; long l; } u; };
#define NATIVEALIGN (offsetof(struct nativealign, u))

typedef enum {
  OP_INT, OP_UINT, OP_FLOAT, OP_DOUBLE, OP_NUMBER,
  OP_CHARS,     /* c[n]: fixed-size string */
  OP_LENSTR,    /* s[n]: string after its length */
  OP_ZSTR,      /* z: zero-terminated string */
  OP_PAD,       /* x: one zero byte */
  OP_ALIGN,     /* X<op>: padding only */
  OP_NONE       /* settings and spaces */
} OpKind;

typedef struct Format {
  lua_State *L;
  int arg;          /* argument index of the format (for errors) */
  const char *p;    /* next option */
  int little;       /* byte order in use */
  size_t maxalign;  /* set by '!' */
} Format;

typedef struct Item {
  OpKind kind;
  size_t size;      /* bytes of the item (for s[n]: of its length) */
  size_t pad;       /* alignment bytes before it */
} Item;

static int nativelittle (void) {
  const union { int one; char bytes[sizeof(int)]; } probe = {1};
  return probe.bytes[0] == 1;
}

static int isdigitc (char c) { return '0' <= c && c <= '9'; }

/* Number after an option, or 'dflt' when none. */
static int readsize (Format *f, int dflt) {
  int n = 0;
  if (!isdigitc(*f->p)) return dflt;
  while (isdigitc(*f->p) && n <= (INT_MAX - 9) / 10)
    n = n * 10 + (*f->p++ - '0');
  return n;
}

static int readintsize (Format *f, int dflt) {
  int n = readsize(f, dflt);
  if (n < 1 || n > MAXINTSIZE)
    luaL_error(f->L, "integral size (%d) out of limits [1,%d]", n,
               MAXINTSIZE);
  return n;
}

/* Reads one option; sets *size; changes the settings options ask for. */
static OpKind readoption (Format *f, size_t *size) {
  char c = *f->p++;
  *size = 0;
  switch (c) {
    case 'b': *size = 1; return OP_INT;
    case 'B': *size = 1; return OP_UINT;
    case 'h': *size = sizeof(short); return OP_INT;
    case 'H': *size = sizeof(short); return OP_UINT;
    case 'l': *size = sizeof(long); return OP_INT;
    case 'L': *size = sizeof(long); return OP_UINT;
    case 'j': *size = sizeof(lua_Integer); return OP_INT;
    case 'J': *size = sizeof(lua_Integer); return OP_UINT;
    case 'T': *size = sizeof(size_t); return OP_UINT;
    case 'f': *size = sizeof(float); return OP_FLOAT;
    case 'd': *size = sizeof(double); return OP_DOUBLE;
    case 'n': *size = sizeof(lua_Number); return OP_NUMBER;
    case 'i': *size = (size_t)readintsize(f, sizeof(int)); return OP_INT;
    case 'I': *size = (size_t)readintsize(f, sizeof(int)); return OP_UINT;
    case 's': *size = (size_t)readintsize(f, sizeof(size_t));
              return OP_LENSTR;
    case 'c': {
      int n = readsize(f, -1);
      if (n == -1) luaL_error(f->L, "missing size for format option 'c'");
      *size = (size_t)n;
      return OP_CHARS;
    }
    case 'z': return OP_ZSTR;
    case 'x': *size = 1; return OP_PAD;
    case 'X': return OP_ALIGN;
    case ' ': return OP_NONE;
    case '<': f->little = 1; return OP_NONE;
    case '>': f->little = 0; return OP_NONE;
    case '=': f->little = nativelittle(); return OP_NONE;
    case '!': f->maxalign = (size_t)readintsize(f, (int)NATIVEALIGN);
              return OP_NONE;
    default: luaL_error(f->L, "invalid format option '%c'", c);
  }
  return OP_NONE;
}

/* Next item of the format, with the padding that aligns it when it
   starts at 0-based offset 'pos' of the memory. */
static Item nextitem (Format *f, size_t pos) {
  Item it;
  size_t align;
  it.kind = readoption(f, &it.size);
  align = it.size;
  it.pad = 0;
  if (it.kind == OP_ALIGN) {
    if (*f->p == '\0' || readoption(f, &align) == OP_CHARS || align == 0)
      luaL_argerror(f->L, f->arg, "invalid next option for option 'X'");
  }
  if (align > 1 && it.kind != OP_CHARS) {
    if (align > f->maxalign) align = f->maxalign;
    if ((align & (align - 1)) != 0)
      luaL_argerror(f->L, f->arg, "format asks for alignment not power of 2");
    it.pad = (align - (pos & (align - 1))) & (align - 1);
  }
  return it;
}

static void initformat (lua_State *L, Format *f, int arg) {
  f->L = L;
  f->arg = arg;
  f->p = luaL_checkstring(L, arg);
  f->little = nativelittle();
  f->maxalign = 1;
}

/* Writes 'size' bytes of 'v' in the byte order asked for; bytes past the
   width of lua_Unsigned extend the sign ('negative'). */
static void putint (char *dst, lua_Unsigned v, int little, size_t size,
                    int negative) {
  size_t k;
  for (k = 0; k < size; k++) {
    unsigned char byte = k < sizeof(v) ? (unsigned char)(v >> (8 * k))
                                       : (negative ? 0xff : 0);
    dst[little ? k : size - 1 - k] = (char)byte;
  }
}

static lua_Integer getint (lua_State *L, const char *src, int little,
                           size_t size, int issigned) {
  lua_Unsigned v = 0;
  size_t used = size < sizeof(v) ? size : sizeof(v), k;
  for (k = used; k-- > 0;)
    v = (v << 8) | (unsigned char)src[little ? k : size - 1 - k];
  if (size < sizeof(v)) {
    if (issigned) {  /* extend the sign bit of the narrow value */
      lua_Unsigned mask = (lua_Unsigned)1 << (size * 8 - 1);
      v = (v ^ mask) - mask;
    }
  }
  else if (size > sizeof(v)) {  /* the extra bytes must only extend */
    unsigned char fill = issigned && (lua_Integer)v < 0 ? 0xff : 0;
    for (k = sizeof(v); k < size; k++) {
      if ((unsigned char)src[little ? k : size - 1 - k] != fill)
        luaL_error(L, "%d-byte integer does not fit into Lua Integer",
                   (int)size);
    }
  }
  return (lua_Integer)v;
}

/* Copies a float's bytes in the byte order asked for. */
static void copyordered (char *dst, const char *src, size_t size,
                         int little) {
  size_t k;
  if (little == nativelittle()) memcpy(dst, src, size);
  else for (k = 0; k < size; k++) dst[k] = src[size - 1 - k];
}

/* String value at 'arg'; a number is converted in a copy pushed on the
   stack, so values given back as "not packed" keep their type. */
static const char *packstring (lua_State *L, int arg, size_t *len) {
  if (lua_type(L, arg) != LUA_TNUMBER) return luaL_checklstring(L, arg, len);
  lua_pushvalue(L, arg);
  return lua_tolstring(L, -1, len);
}

/* Checks the value at 'arg' for item 'it' and returns the bytes it takes
   (alignment excluded); the string, if any, goes to *s / *slen. */
static size_t checkvalue (lua_State *L, const Item *it, int arg,
                          const char **s, size_t *slen) {
  switch (it->kind) {
    case OP_INT: {
      lua_Integer v = luaL_checkinteger(L, arg);
      if (it->size < sizeof(lua_Integer)) {
        lua_Integer lim = (lua_Integer)1 << (it->size * 8 - 1);
        luaL_argcheck(L, -lim <= v && v < lim, arg, "integer overflow");
      }
      return it->size;
    }
    case OP_UINT: {
      lua_Integer v = luaL_checkinteger(L, arg);
      if (it->size < sizeof(lua_Integer))
        luaL_argcheck(L, (lua_Unsigned)v < (lua_Unsigned)1 << (it->size * 8),
                      arg, "unsigned overflow");
      return it->size;
    }
    case OP_FLOAT: case OP_DOUBLE: case OP_NUMBER:
      luaL_checknumber(L, arg);
      return it->size;
    case OP_CHARS:
      *s = packstring(L, arg, slen);
      luaL_argcheck(L, *slen <= it->size, arg,
                    "string longer than given size");
      return it->size;
    case OP_LENSTR:
      *s = packstring(L, arg, slen);
      luaL_argcheck(L, it->size >= sizeof(size_t) ||
                       *slen < (size_t)1 << (it->size * 8),
                    arg, "string length does not fit in given size");
      return it->size + *slen;
    case OP_ZSTR:
      *s = packstring(L, arg, slen);
      luaL_argcheck(L, strlen(*s) == *slen, arg, "string contains zeros");
      return *slen + 1;
    case OP_PAD: return 1;
    default: return 0;
  }
}

/* Writes the checked value at 'arg' as item 'it' at 'dst'. */
static void putvalue (lua_State *L, const Item *it, int little, int arg,
                      char *dst, const char *s, size_t slen) {
  switch (it->kind) {
    case OP_INT: case OP_UINT: {
      lua_Integer v = lua_tointeger(L, arg);
      putint(dst, (lua_Unsigned)v, little, it->size,
             it->kind == OP_INT && v < 0);
      break;
    }
    case OP_FLOAT: {
      float v = (float)lua_tonumber(L, arg);
      copyordered(dst, (const char *)&v, sizeof(v), little);
      break;
    }
    case OP_DOUBLE: {
      double v = (double)lua_tonumber(L, arg);
      copyordered(dst, (const char *)&v, sizeof(v), little);
      break;
    }
    case OP_NUMBER: {
      lua_Number v = lua_tonumber(L, arg);
      copyordered(dst, (const char *)&v, sizeof(v), little);
      break;
    }
    case OP_CHARS:
      memcpy(dst, s, slen);
      memset(dst + slen, 0, it->size - slen);
      break;
    case OP_LENSTR:
      putint(dst, (lua_Unsigned)slen, little, it->size, 0);
      memcpy(dst + it->size, s, slen);
      break;
    case OP_ZSTR:
      memcpy(dst, s, slen);
      dst[slen] = '\0';
      break;
    case OP_PAD: dst[0] = '\0'; break;
    default: break;
  }
}

static int takesvalue (OpKind kind) {
  return kind < OP_PAD;
}

/* memory.pack(m, fmt, i, v...) */
static int memory_pack (lua_State *L) {
  Memory m = checkmemory(L, 1, OWNCLASS);
  Format f;
  size_t pos;
  int arg = 4, top = lua_gettop(L);
  initformat(L, &f, 2);
  pos = startpos(luaL_checkinteger(L, 3), m.len) - 1;
  while (*f.p != '\0') {
    Item it = nextitem(&f, pos);
    const char *s = NULL;
    size_t slen = 0;
    size_t need = checkvalue(L, &it, arg, &s, &slen);
    if (pos > m.len || it.pad > m.len - pos || need > m.len - pos - it.pad) {
      int left = top >= arg ? top - arg + 1 : 0;  /* values not packed */
      lua_settop(L, top);
      luaL_checkstack(L, 2, "too many results");
      lua_pushboolean(L, 0);
      lua_insert(L, arg);
      lua_pushinteger(L, (lua_Integer)pos + 1);
      lua_insert(L, arg + 1);
      return left + 2;
    }
    memset(m.data + pos, 0, it.pad);
    pos += it.pad;
    putvalue(L, &it, f.little, arg, m.data + pos, s, slen);
    lua_settop(L, top);  /* drops a converted copy */
    pos += need;
    if (takesvalue(it.kind)) arg++;
  }
  lua_pushboolean(L, 1);
  lua_pushinteger(L, (lua_Integer)pos + 1);
  return 2;
}

/* Pushes the value of item 'it' found at 'src' ('avail' bytes left);
   returns the bytes it took. */
static size_t pushvalue (lua_State *L, const Item *it, int little,
                         const char *src, size_t avail) {
  switch (it->kind) {
    case OP_INT: case OP_UINT:
      lua_pushinteger(L, getint(L, src, little, it->size,
                                it->kind == OP_INT));
      return it->size;
    case OP_FLOAT: {
      float v;
      copyordered((char *)&v, src, sizeof(v), little);
      lua_pushnumber(L, (lua_Number)v);
      return it->size;
    }
    case OP_DOUBLE: {
      double v;
      copyordered((char *)&v, src, sizeof(v), little);
      lua_pushnumber(L, (lua_Number)v);
      return it->size;
    }
    case OP_NUMBER: {
      lua_Number v;
      copyordered((char *)&v, src, sizeof(v), little);
      lua_pushnumber(L, v);
      return it->size;
    }
    case OP_CHARS:
      lua_pushlstring(L, src, it->size);
      return it->size;
    case OP_LENSTR: {
      size_t len = (size_t)getint(L, src, little, it->size, 0);
      luaL_argcheck(L, len <= avail - it->size, 1, "data string too short");
      lua_pushlstring(L, src + it->size, len);
      return it->size + len;
    }
    case OP_ZSTR: {
      const char *end = memchr(src, '\0', avail);
      luaL_argcheck(L, end != NULL, 1, "unfinished string for format 'z'");
      lua_pushlstring(L, src, (size_t)(end - src));
      return (size_t)(end - src) + 1;
    }
    default:
      return it->size;
  }
}

/* memory.unpack(m, fmt [, i]) */
static int memory_unpack (lua_State *L) {
  Memory m = checkmemory(L, 1, OWNCLASS);
  Format f;
  size_t pos;
  int n = 0;
  initformat(L, &f, 2);
  pos = startpos(luaL_optinteger(L, 3, 1), m.len) - 1;
  luaL_argcheck(L, pos <= m.len, 3, "initial position out of string");
  while (*f.p != '\0') {
    Item it = nextitem(&f, pos);
    luaL_argcheck(L, it.pad <= m.len - pos &&
                     it.size <= m.len - pos - it.pad,
                  1, "data string too short");
    pos += it.pad;
    luaL_checkstack(L, 2, "too many results");
    pos += pushvalue(L, &it, f.little, m.data + pos, m.len - pos);
    if (takesvalue(it.kind)) n++;
  }
  lua_pushinteger(L, (lua_Integer)pos + 1);
  return n + 1;
}

/* --- metamethods ------------------------------------------------------- */

/* m1 .. m2 with a memory on either side (or both): a string */
static int memory_concat (lua_State *L) {
  size_t l1, l2;
  const char *s1, *s2;
  luaL_Buffer b;
  int arg;
  for (arg = 1; arg <= 2; arg++) {
    if (lua_type(L, arg) != LUA_TSTRING && lua_type(L, arg) != LUA_TNUMBER &&
        tobytes(L, arg, NULL, OWNCLASS) == NULL)
      return luaL_error(L, "attempt to concatenate a %s value",
                        luaL_typename(L, arg));
  }
  s1 = checkbytes(L, 1, &l1, OWNCLASS);
  s2 = checkbytes(L, 2, &l2, OWNCLASS);
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, s1, l1);
  /* the buffer may have pushed a userdata: 's2' still points at bytes
     that slot 2 keeps alive */
  luaL_addlstring(&b, s2, l2);
  luaL_pushresult(&b);
  return 1;
}

static const luaL_Reg functions[] = {
  {"create", memory_create},
  {"type", memory_type},
  {"len", memory_len},
  {"resize", memory_resize},
  {"diff", memory_diff},
  {"find", memory_find},
  {"fill", memory_fill},
  {"get", memory_get},
  {"set", memory_set},
  {"tostring", memory_tostring},
  {"pack", memory_pack},
  {"unpack", memory_unpack},
  {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
  {"__gc", memory_gc},
  {"__close", memory_close},
  {"__len", memory_len},
  {"__tostring", memory_tostring},
  {"__concat", memory_concat},
  {NULL, NULL}
};

/* Pushes the functions table and above it the "char[]" metatable, with
   our metamethods and the functions as __index; each of them gets the
   metatable as upvalue 1 (OWNCLASS). */
static void setupclass (lua_State *L) {
  luaL_newmetatable(L, MEMORY_CLASS);
  lua_newtable(L);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, functions, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_insert(L, -2);  /* functions below the metatable */
  lua_pushvalue(L, -1);
  luaL_setfuncs(L, metamethods, 1);
}

void cu_memory_pushclass (lua_State *L) {
  if (luaL_getmetatable(L, MEMORY_CLASS) == LUA_TTABLE) return;
  lua_pop(L, 1);
  setupclass(L);  /* no memory module yet: memories made later use it */
  lua_remove(L, -2);
}

/* The metatable fields are set even when "char[]" already exists (made
   by LuaMemory or by the other copy of this file): these functions
   handle every layout that name can carry. */
__attribute__((visibility("default")))
int luaopen_memory (lua_State *L) {
  setupclass(L);
  lua_pop(L, 1);
  return 1;  /* the functions */
}
