/*
** state.c: independent states and transferable values (manual, "Basic
** Concepts"). Values are encoded into a cu_Values buffer on the thread that
** runs the source state and decoded on the thread that runs the target
** state; channels, state coroutines and thread pools all use these two
** functions, so no thread ever writes into a state another may be running.
*/
#include <stdlib.h>
#include <string.h>
#include <lualib.h>
#include "state.h"

/* --- transferable values ------------------------------------------------
** Encoding: one tag byte per value, followed by its payload: an 8-byte
** integer, an 8-byte float, a pointer, or a size_t length and the bytes of
** a string (binary safe). memcpy keeps the payload free of alignment rules.
*/

enum { TNIL, TFALSE, TTRUE, TINT, TFLOAT, TLIGHT, TSTRING };

void cu_values_init (cu_Values *v) {
  v->data = v->inl;
  v->len = 0;
  v->size = CU_VALUES_INLINE;
  v->n = 0;
}

void cu_values_free (cu_Values *v) {
  if (v->data != v->inl) free(v->data);
  cu_values_init(v);
}

void cu_values_move (cu_Values *dst, cu_Values *src) {
  cu_values_free(dst);
  if (src->data == src->inl) {
    memcpy(dst->inl, src->inl, src->len);
    dst->len = src->len;
  }
  else {  /* steal the heap block */
    dst->data = src->data;
    dst->size = src->size;
    dst->len = src->len;
    src->data = src->inl;
    src->size = CU_VALUES_INLINE;
  }
  dst->n = src->n;
  src->len = 0;
  src->n = 0;
}

/* Room for 'extra' more bytes; 0 when out of memory. */
static int reserve (cu_Values *v, size_t extra) {
  size_t need = v->len + extra;
  char *mem;
  size_t size;
  if (need <= v->size) return 1;
  if (need < extra) return 0;  /* overflow */
  size = v->size * 2 > need ? v->size * 2 : need;
  if (v->data == v->inl) {
    mem = malloc(size);
    if (mem) memcpy(mem, v->inl, v->len);
  }
  else mem = realloc(v->data, size);
  if (mem == NULL) return 0;
  v->data = mem;
  v->size = size;
  return 1;
}

static void put (cu_Values *v, const void *bytes, size_t n) {
  memcpy(v->data + v->len, bytes, n);
  v->len += n;
}

/* Encodes the value at 'idx': 1 done, 0 not transferable, -1 no memory. */
static int encode (cu_Values *v, lua_State *L, int idx) {
  unsigned char tag;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: tag = TNIL; break;
    case LUA_TBOOLEAN: tag = lua_toboolean(L, idx) ? TTRUE : TFALSE; break;
    case LUA_TNUMBER: {
      if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        if (!reserve(v, 1 + sizeof(i))) return -1;
        tag = TINT;
        put(v, &tag, 1);
        put(v, &i, sizeof(i));
      }
      else {
        lua_Number d = lua_tonumber(L, idx);
        if (!reserve(v, 1 + sizeof(d))) return -1;
        tag = TFLOAT;
        put(v, &tag, 1);
        put(v, &d, sizeof(d));
      }
      return 1;
    }
    case LUA_TLIGHTUSERDATA: {
      void *p = lua_touserdata(L, idx);
      if (!reserve(v, 1 + sizeof(p))) return -1;
      tag = TLIGHT;
      put(v, &tag, 1);
      put(v, &p, sizeof(p));
      return 1;
    }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      if (!reserve(v, 1 + sizeof(len) + len)) return -1;
      tag = TSTRING;
      put(v, &tag, 1);
      put(v, &len, sizeof(len));
      put(v, s, len);
      return 1;
    }
    default: return 0;
  }
  if (!reserve(v, 1)) return -1;
  put(v, &tag, 1);
  return 1;
}

int cu_values_save (cu_Values *v, lua_State *L, int first, int last) {
  int idx;
  v->len = 0;
  v->n = 0;
  for (idx = first; idx <= last; idx++) {
    int res = encode(v, L, idx);
    if (res <= 0) {
      v->len = 0;
      return res < 0 ? -1 : idx;
    }
    v->n++;
  }
  return 0;
}

int cu_values_push (cu_Values *v, lua_State *L) {
  const char *p = v->data;
  int i;
  for (i = 0; i < v->n; i++) {
    unsigned char tag = (unsigned char)*p++;
    switch (tag) {
      case TNIL: lua_pushnil(L); break;
      case TFALSE: lua_pushboolean(L, 0); break;
      case TTRUE: lua_pushboolean(L, 1); break;
      case TINT: {
        lua_Integer n;
        memcpy(&n, p, sizeof(n));
        p += sizeof(n);
        lua_pushinteger(L, n);
        break;
      }
      case TFLOAT: {
        lua_Number d;
        memcpy(&d, p, sizeof(d));
        p += sizeof(d);
        lua_pushnumber(L, d);
        break;
      }
      case TLIGHT: {
        void *ptr;
        memcpy(&ptr, p, sizeof(ptr));
        p += sizeof(ptr);
        lua_pushlightuserdata(L, ptr);
        break;
      }
      default: {  /* TSTRING */
        size_t len;
        memcpy(&len, p, sizeof(len));
        p += sizeof(len);
        lua_pushlstring(L, p, len);
        p += len;
      }
    }
  }
  return v->n;
}

void cu_values_pusherror (lua_State *L, const char *what, int n,
                           const char *tname) {
  if (n > 0)
    lua_pushfstring(L, "unable to transfer %s #%d (got %s)", what, n, tname);
  else
    lua_pushfstring(L, "unable to transfer %s (got %s)", what, tname);
}

void cu_values_checksave (cu_Values *v, lua_State *L, int first, int last,
                          int shift) {
  int bad = cu_values_save(v, L, first, last);
  if (bad != 0) cu_values_free(v);  /* it may have grown */
  if (bad < 0) luaL_error(L, "not enough memory");
  if (bad > 0) {
    cu_values_pusherror(L, "argument", bad + shift,
                         cu_values_typename(L, bad));
    lua_error(L);
  }
}

/* --- warnings of independent states -------------------------------------
** Like the standalone interpreter: off until "@on", messages go to stderr
** with the prefix "Lua warning: ". Without a warning function a task's
** errors (reported as warnings, manual "threads.dostring") would vanish.
*/

static void warnoff (void *ud, const char *msg, int tocont);
static void warnon (void *ud, const char *msg, int tocont);

static void warncont (void *ud, const char *msg, int tocont) {
  lua_State *L = (lua_State *)ud;
  fputs(msg, stderr);
  if (tocont) lua_setwarnf(L, warncont, L);  /* more pieces follow */
  else {
    fputs("\n", stderr);
    fflush(stderr);
    lua_setwarnf(L, warnon, L);
  }
}

/* A control message ("@on", "@off") in a single piece: 1, else 0. */
static int warncontrol (lua_State *L, const char *msg, int tocont) {
  if (tocont || msg[0] != '@') return 0;
  if (strcmp(msg, "@on") == 0) lua_setwarnf(L, warnon, L);
  else if (strcmp(msg, "@off") == 0) lua_setwarnf(L, warnoff, L);
  return 1;
}

static void warnoff (void *ud, const char *msg, int tocont) {
  warncontrol((lua_State *)ud, msg, tocont);
}

static void warnon (void *ud, const char *msg, int tocont) {
  lua_State *L = (lua_State *)ud;
  if (warncontrol(L, msg, tocont)) return;
  fputs("Lua warning: ", stderr);
  warncont(ud, msg, tocont);
}

/* --- the allocator of independent states --------------------------------
** A new state's small blocks come from one region of its own, taken from
** the creator's allocator (the manual: the states share the caller's
** memory allocation) in a single call: a bump pointer, then free lists of
** 16-byte size classes, with no header per block (Lua tells the size of
** every block it frees or resizes). A block outside the region, or too big
** for a class, or asked for once the region is used up, goes to the
** creator's allocator as before. The region's size is fixed, so a state
** holds at most REGION bytes more than it uses, however long it lives.
** Freeing the state's main block (the first one asked for, the last one
** freed by lua_close) gives the region back. A task state makes some 400
** small allocations and frees them all at lua_close: through malloc they
** were 40% of a tiny task's instructions. Under AddressSanitizer the
** region's free bytes are poisoned, so that misuse of a block in it is
** still reported; COUTIL_ARENA=off (read once) sends every block to the
** creator's allocator, as before.
*/

#ifdef CU_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define GRAIN 16               /* block sizes are multiples; alignment */
#define NCLASS 64              /* blocks of up to NCLASS * GRAIN bytes */
#define REGION (20 * 1024)     /* a task state uses ~12 KiB at its start */

typedef struct Arena {
  lua_Alloc alloc;             /* the creator's allocator, for the rest */
  void *ud;
  void *main;                  /* the state's main block */
  cu_Regions *cache;           /* where the region goes at the end */
  char *next, *end;            /* the region's bytes never handed out */
  char *base;                  /* start of the region */
  void *free[NCLASS + 1];      /* free blocks of each class (1..NCLASS) */
} Arena;

#define ARENASIZE ((sizeof(Arena) + GRAIN - 1) / GRAIN * GRAIN)

#define classof(n) (((n) + GRAIN - 1) / GRAIN)
#define inregion(a, p) ((char *)(p) >= (a)->base && (char *)(p) < (a)->end)

/* A block of class 'c' (1..NCLASS) from the region; NULL when none. */
static void *takeblock (Arena *a, size_t c) {
  void *p = a->free[c];
  if (p != NULL) {
    UNPOISON(p, c * GRAIN);
    a->free[c] = *(void **)p;
    return p;
  }
  if ((size_t)(a->end - a->next) >= c * GRAIN) {
    p = a->next;
    a->next += c * GRAIN;
    UNPOISON(p, c * GRAIN);
    return p;
  }
  return NULL;
}

static void giveblock (Arena *a, void *p, size_t c) {
  *(void **)p = a->free[c];
  a->free[c] = p;
  POISON(p, c * GRAIN);
}

static void *newblock (Arena *a, size_t n, size_t tag) {
  void *p = n <= NCLASS * GRAIN ? takeblock(a, classof(n)) : NULL;
  return p != NULL ? p : a->alloc(a->ud, NULL, tag, n);
}

/* The last block lua_close frees: the region and the arena go too, to
   the pool's cache when there is room (a block of REGION bytes given back
   to malloc and asked for again at once made glibc trim and grow its heap:
   1.7 page faults per tiny task, more kernel time than the task). */
static void closearena (Arena *a) {
  lua_Alloc alloc = a->alloc;
  void *ud = a->ud;
  cu_Regions *c = a->cache;
  if (c != NULL) {
    uv_mutex_lock(&c->mutex);
    if (c->n < CU_NREGIONS) {
      c->block[c->n++] = a;
      POISON(a, ARENASIZE + REGION);
      a = NULL;
    }
    uv_mutex_unlock(&c->mutex);
    if (a == NULL) return;
  }
  UNPOISON(a, ARENASIZE + REGION);
  alloc(ud, a, ARENASIZE + REGION, 0);
}

int cu_regions_init (cu_Regions *c) {
  c->n = 0;
  return uv_mutex_init(&c->mutex);
}

void cu_regions_free (cu_Regions *c, const cu_StateOrigin *o) {
  while (c->n > 0) {
    void *b = c->block[--c->n];
    UNPOISON(b, ARENASIZE + REGION);
    o->alloc(o->ud, b, ARENASIZE + REGION, 0);
  }
  uv_mutex_destroy(&c->mutex);
}


static void *arenaalloc (void *ud, void *p, size_t osize, size_t nsize) {
  Arena *a = (Arena *)ud;
  void *np;
  if (p == NULL) {
    if (nsize == 0) return NULL;  /* luaM_free of an empty block */
    if (a->main == NULL) {  /* bigger than a class; never on a list */
      a->main = a->next;
      a->next += classof(nsize) * GRAIN;
      UNPOISON(a->main, nsize);
      return a->main;
    }
    return newblock(a, nsize, osize);
  }
  if (!inregion(a, p)) {
    if (nsize == 0) {
      a->alloc(a->ud, p, osize, 0);
      return NULL;
    }
    return a->alloc(a->ud, p, osize, nsize);
  }
  if (nsize == 0) {
    if (p == a->main) closearena(a);
    else giveblock(a, p, classof(osize));
    return NULL;
  }
  if (nsize <= osize) {  /* never fails: the block may stay bigger */
    size_t c = classof(nsize);
    if (c == classof(osize) || a->free[c] == NULL) return p;
    np = takeblock(a, c);
  }
  else {
    if (classof(nsize) == classof(osize)) return p;
    if ((np = newblock(a, nsize, LUA_TNONE)) == NULL) return NULL;
  }
  memcpy(np, p, osize < nsize ? osize : nsize);
  giveblock(a, p, classof(osize));
  return np;
}

void cu_state_uncache (lua_State *L) {
  void *ud;
  if (lua_getallocf(L, &ud) == arenaalloc) ((Arena *)ud)->cache = NULL;
}

static uv_once_t arenaonce = UV_ONCE_INIT;
static int arenaoff;

static void readarena (void) {
  const char *v = getenv("COUTIL_ARENA");
  arenaoff = v != NULL && strcmp(v, "off") == 0;
}

/* A state whose blocks come first from a region of its own. */
static lua_State *newstate (const cu_StateOrigin *o) {
  lua_Alloc alloc = o->alloc;
  void *ud = o->ud;
  Arena *a = NULL;
  lua_State *L;
  uv_once(&arenaonce, readarena);
  if (arenaoff) return lua_newstate(alloc, ud);
  if (o->cache != NULL) {  /* made with the same allocator */
    uv_mutex_lock(&o->cache->mutex);
    if (o->cache->n > 0) a = (Arena *)o->cache->block[--o->cache->n];
    uv_mutex_unlock(&o->cache->mutex);
    if (a != NULL) UNPOISON(a, ARENASIZE);
  }
  if (a == NULL &&
      (a = (Arena *)alloc(ud, NULL, LUA_TNONE, ARENASIZE + REGION)) == NULL)
    return NULL;
  memset(a, 0, sizeof(Arena));
  a->alloc = alloc;
  a->ud = ud;
  a->base = a->next = (char *)a + ARENASIZE;
  a->end = a->base + REGION;
  a->cache = o->cache;
  POISON(a->base, REGION);
  L = lua_newstate(arenaalloc, a);
  /* the main block comes first from the fresh region, so lua_newstate
     fails only after it, and then frees it: the arena is gone too */
  return L;
}

/* The allocator that new states made from L's share. */
static lua_Alloc rootalloc (lua_State *L, void **ud) {
  lua_Alloc alloc = lua_getallocf(L, ud);
  if (alloc == arenaalloc) {
    Arena *a = (Arena *)*ud;
    *ud = a->ud;
    return a->alloc;
  }
  return alloc;
}

/* --- independent states ------------------------------------------------- */

typedef struct Preload {
  const char *name;
  lua_CFunction open;
} Preload;

/* coutil's own modules (module.c). Every new state gets them preloaded:
   the state then uses this very copy of the library, whose channels and
   pools are the ones its creator sees, even with package.cpath cleared
   or pointing at another build. */
int luaopen_coutil_system (lua_State *L);
int luaopen_coutil_event (lua_State *L);
int luaopen_coutil_queued (lua_State *L);
int luaopen_coutil_mutex (lua_State *L);
int luaopen_coutil_promise (lua_State *L);
int luaopen_coutil_spawn (lua_State *L);
int luaopen_coutil_channel (lua_State *L);
int luaopen_coutil_coroutine (lua_State *L);
int luaopen_coutil_threads (lua_State *L);

/* Runs protected inside a new state: memory errors become a status. */
static int setupstate (lua_State *L) {
  static const Preload preloads[] = {
    {LUA_GNAME, luaopen_base},
    {LUA_COLIBNAME, luaopen_coroutine},
    {LUA_TABLIBNAME, luaopen_table},
    {LUA_IOLIBNAME, luaopen_io},
    {LUA_OSLIBNAME, luaopen_os},
    {LUA_STRLIBNAME, luaopen_string},
    {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8},
    {LUA_DBLIBNAME, luaopen_debug},
    {"coutil.system", luaopen_coutil_system},
    {"coutil.event", luaopen_coutil_event},
    {"coutil.queued", luaopen_coutil_queued},
    {"coutil.mutex", luaopen_coutil_mutex},
    {"coutil.promise", luaopen_coutil_promise},
    {"coutil.spawn", luaopen_coutil_spawn},
    {"coutil.channel", luaopen_coutil_channel},
    {"coutil.coroutine", luaopen_coutil_coroutine},
    {"coutil.threads", luaopen_coutil_threads},
    {NULL, NULL}
  };
  const Preload *p;
  /* made with room for every entry, before luaopen_package finds it:
     filled from empty it would be rehashed 6 times */
  lua_createtable(L, 0, sizeof(preloads) / sizeof(preloads[0]) - 1);
  lua_setfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 0);
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (p = preloads; p->name; p++) {
    lua_pushcfunction(L, p->open);
    lua_setfield(L, -2, p->name);
  }
  return 0;
}

/* A caller's preload entry as it crosses to the new state: a C function
   (the same in every state of the process), or a Lua loader dumped into
   'code' (malloc'ed) and loaded again there, as string.dump and load
   would. The names are copied into the list's own block: a thread pool
   adds them to its task's state on a worker, after the caller's preload
   table may have changed. */
typedef struct Inherited {
  size_t name;         /* offset of the name in the list's 'names' */
  lua_CFunction open;  /* NULL for a dumped Lua loader */
  char *code;
  size_t len, size;
} Inherited;

struct cu_Preloads {
  Inherited *item;
  int n, cap;
  char *names;
  size_t nlen, nsize;
};

void cu_preloads_free (cu_Preloads *in) {
  int i;
  if (in == NULL) return;
  for (i = 0; i < in->n; i++) free(in->item[i].code);
  free(in->item);
  free(in->names);
  free(in);
}

/* lua_Writer of lua_dump: appends to the entry's code; 1 (an error for
   lua_dump) when out of memory. */
static int dumpwriter (lua_State *L, const void *p, size_t sz, void *ud) {
  Inherited *e = (Inherited *)ud;
  (void)L;
  if (e->len + sz > e->size) {
    size_t size = e->size ? e->size * 2 : 256;
    char *mem;
    while (size < e->len + sz) size *= 2;
    if ((mem = realloc(e->code, size)) == NULL) return 1;
    e->code = mem;
    e->size = size;
  }
  memcpy(e->code + e->len, p, sz);
  e->len += sz;
  return 0;
}

/* A new entry named 'name' at the end of the list; NULL when out of
   memory. */
static Inherited *addentry (cu_Preloads *in, const char *name, size_t len) {
  Inherited *e;
  if (in->nlen + len + 1 > in->nsize) {
    size_t size = in->nsize ? in->nsize * 2 : 256;
    char *mem;
    while (size < in->nlen + len + 1) size *= 2;
    if ((mem = realloc(in->names, size)) == NULL) return NULL;
    in->names = mem;
    in->nsize = size;
  }
  if (in->n == in->cap) {
    int cap = in->cap ? 2 * in->cap : 8;
    Inherited *more = realloc(in->item, cap * sizeof(Inherited));
    if (more == NULL) return NULL;
    in->item = more;
    in->cap = cap;
  }
  e = &in->item[in->n++];
  memset(e, 0, sizeof(Inherited));
  e->name = in->nlen;
  memcpy(in->names + in->nlen, name, len + 1);
  in->nlen += len + 1;
  return e;
}

/* Adds the preload entry at the top of L (key below it) if it can cross:
   string keys with a C function without upvalues or a Lua function. 0 on
   success or when skipped, -1 when out of memory. */
static int inheritentry (lua_State *L, cu_Preloads *in) {
  Inherited *e;
  size_t len;
  const char *name;
  if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TFUNCTION)
    return 0;
  name = lua_tolstring(L, -2, &len);
  if (lua_iscfunction(L, -1)) {
    if (lua_getupvalue(L, -1, 1) != NULL) {  /* a closure of its state */
      lua_pop(L, 1);
      return 0;
    }
    if ((e = addentry(in, name, len)) == NULL) return -1;
    e->open = lua_tocfunction(L, -1);
    return 0;
  }
  if ((e = addentry(in, name, len)) == NULL) return -1;
  return lua_dump(L, dumpwriter, e, 0) == 0 ? 0 : -1;
}

int cu_preloads_save (lua_State *L, cu_Preloads **list) {
  cu_Preloads *in;
  *list = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushnil(L);
  if (!lua_next(L, -2)) {  /* the usual case: nothing to inherit */
    lua_pop(L, 1);
    return 0;
  }
  if ((in = (cu_Preloads *)calloc(1, sizeof(cu_Preloads))) == NULL) {
    lua_pop(L, 3);
    return -1;
  }
  do {
    if (inheritentry(L, in) < 0) {
      lua_pop(L, 3);
      cu_preloads_free(in);
      return -1;
    }
    lua_pop(L, 1);
  } while (lua_next(L, -2));
  lua_pop(L, 1);
  if (in->n == 0) cu_preloads_free(in);
  else *list = in;
  return 0;
}

void cu_preloads_add (lua_State *L, cu_Preloads *in) {
  int i;
  if (in == NULL) return;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (i = 0; i < in->n; i++) {
    Inherited *e = &in->item[i];
    const char *name = in->names + e->name;
    if (e->open) lua_pushcfunction(L, e->open);
    else if (luaL_loadbufferx(L, e->code, e->len, name, "b") != LUA_OK)
      lua_error(L);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 1);
}

/* Protected: adds the caller's entries, which win over the ones of
   setupstate of the same name. */
static int addpreloads (lua_State *L) {
  cu_preloads_add(L, (cu_Preloads *)lua_touserdata(L, 1));
  return 0;
}

/* Lua cannot tell whether warnings are on in a state: the coutil command
   says so for every state of the process, before it makes any, with
   COUTIL_WARNINGS=on. Read once: getenv costs more than a small task. */
static uv_once_t warnonce = UV_ONCE_INIT;
static int warnflag;

static void readwarnings (void) {
  const char *v = getenv("COUTIL_WARNINGS");
  warnflag = v != NULL && strcmp(v, "on") == 0;
}

static int warningson (void) {
  uv_once(&warnonce, readwarnings);
  return warnflag;
}

void cu_state_origin (lua_State *L, cu_StateOrigin *o) {
  o->alloc = rootalloc(L, &o->ud);
  o->panic = lua_atpanic(L, NULL);
  lua_atpanic(L, o->panic);  /* only read it */
  o->warn = warningson();
  o->cache = NULL;
}

lua_State *cu_state_newplain (const cu_StateOrigin *o) {
  lua_State *NL = newstate(o);
  if (NL == NULL) return NULL;
  lua_atpanic(NL, o->panic);
  lua_setwarnf(NL, warnoff, NL);
  return NL;
}

void cu_state_warnorigin (const cu_StateOrigin *o, const char *prefix,
                          const char *msg) {
  if (!o->warn) return;  /* a fresh state's warnings are off */
  fprintf(stderr, "Lua warning: %s%s\n", prefix, msg);
  fflush(stderr);
}

lua_State *cu_state_newbare (const cu_StateOrigin *o) {
  lua_State *NL = newstate(o);
  if (NL == NULL) return NULL;
  lua_atpanic(NL, o->panic);
  lua_setwarnf(NL, o->warn ? warnon : warnoff, NL);
  lua_pushcfunction(NL, setupstate);
  if (lua_pcall(NL, 0, 0, 0) != LUA_OK) {
    lua_close(NL);
    return NULL;
  }
  return NL;
}

lua_State *cu_state_inheritpreloads (lua_State *L, lua_State *NL) {
  cu_Preloads *in;
  if (cu_preloads_save(L, &in) < 0) {
    lua_close(NL);
    lua_pushliteral(L, "not enough memory");
    return NULL;
  }
  if (in != NULL) {
    int status;
    lua_pushcfunction(NL, addpreloads);
    lua_pushlightuserdata(NL, in);
    status = lua_pcall(NL, 1, 0, 0);
    cu_preloads_free(in);
    if (status != LUA_OK) {
      /* only a memory error can come (addpreloads runs no Lua code);
         Lua's own message is always interned: pushing it allocates
         nothing, where copying NL's could raise and leak NL */
      lua_close(NL);
      lua_pushliteral(L, "not enough memory");
      return NULL;
    }
  }
  return NL;
}

lua_State *cu_state_new (lua_State *L) {
  cu_StateOrigin o;
  lua_State *NL;
  cu_state_origin(L, &o);
  NL = cu_state_newbare(&o);
  if (NL == NULL) {
    lua_pushliteral(L, "not enough memory");
    return NULL;
  }
  return cu_state_inheritpreloads(L, NL);
}
