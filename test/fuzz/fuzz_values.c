/*
** fuzz_values: transferable values (src/state.c) copied between two Lua
** states by the C functions every transfer uses: cu_values_save on the
** source state, cu_values_push on the target, cu_values_move between
** records, cu_values_checksave (through lua_pcall) for its errors.
** The input builds the source stack: nil, booleans, integers, floats of
** any bit pattern (NaN, infinities, -0.0), light userdata, strings of any
** bytes (inline and heap sizes) and values that are not transferable:
** tables (nested too), functions, full userdata, coroutines.
** Properties: saving a range succeeds exactly when every value in it is
** transferable, and otherwise names the first one that is not and leaves
** the record empty; what is pushed on the other state is the same values
** (same type and subtype, same bits, same bytes), also after a move and
** after the record is reused.
*/
#include "fuzz.h"
#include "../../src/state.h"

typedef struct Input {
  const uint8_t *p, *end;
} Input;

static int more (Input *in) { return in->p < in->end; }

static uint8_t byte (Input *in) { return more(in) ? *in->p++ : 0; }

static void take (Input *in, void *dst, size_t n) {
  size_t avail = (size_t)(in->end - in->p);
  memset(dst, 0, n);
  if (n > avail) n = avail;
  memcpy(dst, in->p, n);
  in->p += n;
}

static int transferable (int type) {
  return type == LUA_TNIL || type == LUA_TBOOLEAN || type == LUA_TNUMBER ||
         type == LUA_TLIGHTUSERDATA || type == LUA_TSTRING;
}

/* Pushes one value built from the input onto L. */
static void pushvalue (lua_State *L, Input *in, int depth) {
  uint8_t k = byte(in);
  switch (k % 12) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, k & 0x10); break;
    case 2: {
      lua_Integer i;
      take(in, &i, sizeof(i));
      lua_pushinteger(L, i);
      break;
    }
    case 3: {
      lua_Number d;
      take(in, &d, sizeof(d));
      lua_pushnumber(L, d);
      break;
    }
    case 4: {
      uintptr_t p;
      take(in, &p, sizeof(p));
      lua_pushlightuserdata(L, (void *)p);
      break;
    }
    case 5: case 6: {  /* short strings, any bytes */
      size_t n = byte(in);
      size_t avail = (size_t)(in->end - in->p);
      if (n > avail) n = avail;
      lua_pushlstring(L, (const char *)in->p, n);
      in->p += n;
      break;
    }
    case 7: {  /* a long string: beyond the record's inline bytes */
      size_t n = (size_t)byte(in) * 64 + byte(in);
      char *s = (char *)malloc(n + 1);
      size_t i;
      if (s == NULL) abort();
      for (i = 0; i < n; i++) s[i] = (char)(i * 131 + k);
      lua_pushlstring(L, s, n);
      free(s);
      break;
    }
    case 8: {  /* a table, maybe holding tables */
      int n = byte(in) % 4, i;
      lua_createtable(L, n, 0);
      for (i = 1; i <= n; i++) {
        if (depth < 4) pushvalue(L, in, depth + 1);
        else lua_pushinteger(L, i);
        lua_rawseti(L, -2, i);
      }
      break;
    }
    case 9: lua_pushcfunction(L, fz_fail); break;
    case 10: lua_newuserdatauv(L, byte(in) % 16, 0); break;
    default: lua_newthread(L); break;
  }
}

/* Are the values at i (of A) and j (of B) the same transferred value? */
static int samevalue (lua_State *A, int i, lua_State *B, int j) {
  int t = lua_type(A, i);
  if (t != lua_type(B, j)) return 0;
  switch (t) {
    case LUA_TNIL: return 1;
    case LUA_TBOOLEAN: return lua_toboolean(A, i) == lua_toboolean(B, j);
    case LUA_TNUMBER: {
      if (lua_isinteger(A, i) != lua_isinteger(B, j)) return 0;
      if (lua_isinteger(A, i))
        return lua_tointeger(A, i) == lua_tointeger(B, j);
      else {
        lua_Number x = lua_tonumber(A, i), y = lua_tonumber(B, j);
        return memcmp(&x, &y, sizeof(x)) == 0;
      }
    }
    case LUA_TLIGHTUSERDATA: return lua_touserdata(A, i) == lua_touserdata(B, j);
    case LUA_TSTRING: {
      size_t l1, l2;
      const char *s1 = lua_tolstring(A, i, &l1);
      const char *s2 = lua_tolstring(B, j, &l2);
      return l1 == l2 && memcmp(s1, s2, l1) == 0;
    }
    default: return 0;
  }
}

static void broken (const char *what, int first, int last, int res) {
  fprintf(stderr, "fuzz_values: %s (values %d..%d, result %d)\n", what,
          first, last, res);
  abort();
}

/* Pushes the record onto B and compares with A's values first..last. */
static void compare (cu_Values *v, lua_State *A, int first, int last,
                     lua_State *B) {
  int n = last >= first ? last - first + 1 : 0, base, i;
  if (v->n != n) broken("wrong count", first, last, v->n);
  if (!lua_checkstack(B, n + 1)) return;
  base = lua_gettop(B);
  if (cu_values_push(v, B) != n) broken("push count", first, last, n);
  if (lua_gettop(B) != base + n) broken("push stack", first, last, n);
  for (i = 0; i < n; i++)
    if (!samevalue(A, first + i, B, base + 1 + i))
      broken("value differs", first, last, i);
  lua_settop(B, base);
}

/* cu_values_checksave under lua_pcall: upvalue 1 the record. */
static int checksave (lua_State *L) {
  cu_Values *v = (cu_Values *)lua_touserdata(L, lua_upvalueindex(1));
  cu_values_checksave(v, L, 1, lua_gettop(L), 0);
  lua_pushinteger(L, v->n);
  return 1;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  Input in = {data, data + size};
  lua_State *A = fz_newstate(0, 0);
  lua_State *B = fz_newstate(0, 0);
  cu_Values v, w;
  int top, rounds = 0;
  cu_values_init(&v);
  cu_values_init(&w);
  /* the stack of A: up to 40 values */
  top = byte(&in) % 40;
  lua_checkstack(A, top + 8);
  for (int i = 0; i < top; i++) pushvalue(A, &in, 0);
  while (more(&in) && rounds++ < 64) {
    int first = top > 0 ? byte(&in) % (top + 1) + 1 : 1;
    int last = top > 0 ? byte(&in) % (top + 1) : 0;
    int bad = 0, res, i;
    uint8_t how = byte(&in);
    if (last > top) last = top;
    if (first > top + 1) first = top + 1;
    for (i = first; i <= last; i++)
      if (!transferable(lua_type(A, i))) { bad = i; break; }
    res = cu_values_save(&v, A, first, last);
    if (res < 0) continue;  /* out of memory */
    if (res != bad) broken("save result", first, last, res);
    if (res > 0) {
      if (v.len != 0) broken("refused save left bytes", first, last, res);
      continue;
    }
    compare(&v, A, first, last, B);
    compare(&v, A, first, last, A);  /* into the source state too */
    if (how & 1) {  /* moved to another record, which may hold values */
      cu_values_move(&w, &v);
      if (v.n != 0 || v.len != 0) broken("move left values", first, last, 0);
      compare(&w, A, first, last, B);
      if (how & 2) cu_values_move(&v, &w);
    }
    if (how & 4) cu_values_free(&v);
    if (how & 8) {  /* the checked save, under lua_pcall, on a copy */
      int n = last >= first ? last - first + 1 : 0, status;
      lua_pushlightuserdata(B, &w);
      lua_pushcclosure(B, checksave, 1);
      if (!lua_checkstack(B, n + 2)) continue;
      cu_values_push(&w, B);  /* w: whatever it holds now */
      status = lua_pcall(B, w.n, 1, 0);
      if (status == LUA_OK && lua_tointeger(B, -1) != w.n)
        broken("checksave count", first, last, (int)lua_tointeger(B, -1));
      lua_settop(B, 0);
    }
  }
  /* a refused range through cu_values_checksave: an error, no leak */
  if (top > 0) {
    int status;
    lua_pushlightuserdata(A, &w);
    lua_pushcclosure(A, checksave, 1);
    lua_checkstack(A, top + 2);
    for (int i = 1; i <= top; i++) lua_pushvalue(A, i);
    status = lua_pcall(A, top, 1, 0);
    {
      int bad = 0;
      for (int i = 1; i <= top; i++)
        if (!transferable(lua_type(A, i))) { bad = i; break; }
      if ((status == LUA_OK) != (bad == 0) && status != LUA_ERRMEM)
        broken("checksave status", 1, top, status);
      if (status != LUA_OK && bad > 0) {
        char expect[64];
        snprintf(expect, sizeof(expect), "unable to transfer argument #%d",
                 bad);
        if (strstr(lua_tostring(A, -1), expect) == NULL)
          broken("checksave message", 1, top, bad);
      }
    }
  }
  cu_values_free(&v);
  cu_values_free(&w);
  lua_close(A);
  lua_close(B);
  return 0;
}
