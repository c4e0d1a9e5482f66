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

void cu_pushtransfererror (lua_State *L, const char *what, int n,
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
    cu_pushtransfererror(L, "argument", bad + shift,
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

/* --- independent states ------------------------------------------------- */

typedef struct Preload {
  const char *name;
  lua_CFunction open;
} Preload;

/* Runs protected inside a new state: memory errors become a status. */
static int setupstate (lua_State *L) {
  static const Preload stdlibs[] = {
    {LUA_GNAME, luaopen_base},
    {LUA_COLIBNAME, luaopen_coroutine},
    {LUA_TABLIBNAME, luaopen_table},
    {LUA_IOLIBNAME, luaopen_io},
    {LUA_OSLIBNAME, luaopen_os},
    {LUA_STRLIBNAME, luaopen_string},
    {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8},
    {LUA_DBLIBNAME, luaopen_debug},
    {NULL, NULL}
  };
  const Preload *p;
  luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 0);
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (p = stdlibs; p->name; p++) {
    lua_pushcfunction(L, p->open);
    lua_setfield(L, -2, p->name);
  }
  return 0;
}

typedef struct Inherited {
  Preload *list;
  int n;
} Inherited;

/* Protected too: adds the caller's entries, which win over the standard
   ones of the same name. */
static int addpreloads (lua_State *L) {
  Inherited *in = (Inherited *)lua_touserdata(L, 1);
  int i;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (i = 0; i < in->n; i++) {
    lua_pushcfunction(L, in->list[i].open);
    lua_setfield(L, -2, in->list[i].name);
  }
  return 0;
}

/* The caller's preloads a new state can share: C functions without
   upvalues under string keys. Names point into L's strings, which stay
   in L's preload table while the new state is set up. */
static int inheritable (lua_State *L, Preload **list) {
  int n = 0, cap = 0;
  *list = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_CFunction f = lua_tocfunction(L, -1);
    int ok = f != NULL && lua_type(L, -2) == LUA_TSTRING;
    if (ok && lua_getupvalue(L, -1, 1) != NULL) {  /* has upvalues */
      lua_pop(L, 1);
      ok = 0;
    }
    if (ok) {
      if (n == cap) {
        Preload *more;
        cap = cap ? 2 * cap : 8;
        more = realloc(*list, cap * sizeof(Preload));
        if (more == NULL) {
          free(*list);
          *list = NULL;
          lua_pop(L, 3);
          return -1;
        }
        *list = more;
      }
      (*list)[n].name = lua_tostring(L, -2);
      (*list)[n].open = f;
      n++;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

void cu_stateorigin (lua_State *L, cu_StateOrigin *o) {
  o->alloc = lua_getallocf(L, &o->ud);
  o->panic = lua_atpanic(L, NULL);
  lua_atpanic(L, o->panic);  /* only read it */
}

lua_State *cu_newbarestate (const cu_StateOrigin *o) {
  lua_State *NL = lua_newstate(o->alloc, o->ud);
  if (NL == NULL) return NULL;
  lua_atpanic(NL, o->panic);
  lua_setwarnf(NL, warnoff, NL);
  lua_pushcfunction(NL, setupstate);
  if (lua_pcall(NL, 0, 0, 0) != LUA_OK) {
    lua_close(NL);
    return NULL;
  }
  return NL;
}

lua_State *cu_inheritpreloads (lua_State *L, lua_State *NL) {
  Inherited in;
  in.n = inheritable(L, &in.list);
  if (in.n < 0) {
    lua_close(NL);
    lua_pushliteral(L, "not enough memory");
    return NULL;
  }
  if (in.n > 0) {
    lua_pushcfunction(NL, addpreloads);
    lua_pushlightuserdata(NL, &in);
    if (lua_pcall(NL, 1, 0, 0) != LUA_OK) {
      lua_pushstring(L, lua_tostring(NL, -1));
      lua_close(NL);
      NL = NULL;
    }
  }
  free(in.list);
  return NL;
}

lua_State *cu_newstate (lua_State *L) {
  cu_StateOrigin o;
  lua_State *NL;
  cu_stateorigin(L, &o);
  NL = cu_newbarestate(&o);
  if (NL == NULL) {
    lua_pushliteral(L, "not enough memory");
    return NULL;
  }
  return cu_inheritpreloads(L, NL);
}
