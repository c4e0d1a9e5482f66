/*
** fuzz_memory: a byte-code interpreter over the input that calls the
** functions of the memory module (create, resize, set, get, fill, find,
** diff, pack, unpack, tostring, len, type, #, .., close) with arguments
** taken from the input, on up to 8 slots holding memories (fixed,
** resizable, closed, LuaMemory's external ones) and strings; and the C
** accessors of memory.h that sockets and files use (cu_memory_checkbuffer,
** cu_memory_checkdata, their cached variants, cu_memory_pin/unpin with
** resizes and closes in between).
** Properties: a memory's bytes agree with memory.tostring, #m and
** memory.len; memory.get and memory.set agree with the bytes;
** memory.unpack gives what string.unpack gives on the same bytes, and
** memory.pack at 1 writes what string.pack makes (when it fits); the
** accessors give the bytes memory.tostring (or string.sub) gives.
*/
#include "fuzz.h"
#include "../../src/memory.h"

/* --- the accessors of memory.h, as sockets and files call them ------- */

/* checkbuffer(m, i, j) and checkdata(d, i, j): the bytes of the range */
static int l_checkbuffer (lua_State *L) {
  size_t len;
  const char *p = cu_memory_checkbuffer(L, 1, &len, 0);
  lua_pushlstring(L, p, len);
  return 1;
}

static int l_checkdata (lua_State *L) {
  size_t len;
  const char *p = cu_memory_checkdata(L, 1, &len, 0);
  lua_pushlstring(L, p, len);
  return 1;
}

/* An owner of a cache, as a socket is. */
static int l_newowner (lua_State *L) {
  cu_MemoryCache *c = (cu_MemoryCache *)lua_newuserdatauv(L, sizeof(*c), 1);
  memset(c, 0, sizeof(*c));
  return 1;
}

/* cached(owner, m, i, j, strict): through the cache of 'owner' */
static int l_cached (lua_State *L) {
  cu_MemoryCache *c = (cu_MemoryCache *)lua_touserdata(L, 1);
  int strict = lua_toboolean(L, 5);
  size_t len;
  const char *p;
  luaL_checktype(L, 1, LUA_TUSERDATA);
  lua_settop(L, 4);
  p = strict ? cu_memory_checkbufferc(L, 2, &len, 0, c, 1)
             : cu_memory_checkdatac(L, 2, &len, 0, c, 1);
  lua_pushlstring(L, p, len);
  return 1;
}

/* forget(owner): drops the cache, as closing a socket does */
static int l_forget (lua_State *L) {
  cu_MemoryCache *c = (cu_MemoryCache *)lua_touserdata(L, 1);
  luaL_checktype(L, 1, LUA_TUSERDATA);
  memset(c, 0, sizeof(*c));
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  return 0;
}

/* pin(m) gives the token (a light userdata, or nil); unpin(token) */
static int l_pin (lua_State *L) {
  void *token = cu_memory_pin(L, 1);
  if (token) lua_pushlightuserdata(L, token);
  else lua_pushnil(L);
  return 1;
}

static int l_unpin (lua_State *L) {
  cu_memory_unpin(L, lua_touserdata(L, 1));
  return 0;
}

/* LuaMemory's external memories ("luamem_Ref"): bytes the memory
   module does not own; released with release(x) or by the collector. */
typedef struct ExternalRef {
  char *memory;
  size_t len;
  void (*unref) (lua_State *L, void *memory, size_t len);
} ExternalRef;

static int l_external (lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  ExternalRef *r = (ExternalRef *)lua_newuserdatauv(L, sizeof(*r), 0);
  r->memory = NULL;
  r->len = 0;
  r->unref = NULL;
  luaL_setmetatable(L, "luamem_Ref");
  r->memory = (char *)malloc(len ? len : 1);
  if (r->memory == NULL) return luaL_error(L, "not enough memory");
  memcpy(r->memory, s, len);
  r->len = len;
  return 1;
}

static int l_release (lua_State *L) {
  ExternalRef *r = (ExternalRef *)luaL_checkudata(L, 1, "luamem_Ref");
  free(r->memory);
  r->memory = NULL;
  r->len = 0;
  return 0;
}

static void openaccessors (lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"checkbuffer", l_checkbuffer}, {"checkdata", l_checkdata},
    {"newowner", l_newowner}, {"cached", l_cached}, {"forget", l_forget},
    {"pin", l_pin}, {"unpin", l_unpin}, {"external", l_external},
    {"release", l_release}, {NULL, NULL}
  };
  const luaL_Reg *f;
  for (f = funcs; f->name; f++) lua_register(L, f->name, f->func);
  luaL_newmetatable(L, "luamem_Ref");
  lua_pushcfunction(L, l_release);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}

static FzDriver driver = {"=fuzz_memory", FZ_PRELUDE
"local M = memory\n"
"local owners = {newowner(), newowner()}\n"
"local pins = {}\n"
"local slots = {}\n"
"local NSLOTS = 8\n"
"local function slot () return slots[byte() % NSLOTS + 1] end\n"
"local function put (v) slots[byte() % NSLOTS + 1] = v end\n"
"local FMT = {'b', 'B', 'h', 'H', 'l', 'L', 'j', 'J', 'T', 'f', 'd', 'n',\n"
"  'i', 'I', 'i3', 'I7', 'i9', 'I16', 'i17', 's', 's1', 's2', 'z', 'x',\n"
"  'c3', 'c0', 'c', 'Xi4', 'X', '<', '>', '=', '!', '!4', '!8', ' ',\n"
"  'Xs', 'Xc1', 'i0'}\n"
"local function fmt ()\n"
"  if byte() % 4 == 0 then return str() end\n"
"  local t, n = {}, byte() % 8\n"
"  for k = 1, n do t[k] = pick(FMT) end\n"
"  return table.concat(t)\n"
"end\n"
"local function arg ()\n"  /* an integer position, mostly */
"  local k = byte() % 16\n"
"  if k == 0 then return nil elseif k == 1 then return 1.5\n"
"  elseif k == 2 then return '2' elseif k == 3 then return slot() end\n"
"  return int()\n"
"end\n"
"local function data ()\n"  /* a pattern, needle or source */
"  local k = byte() % 4\n"
"  if k == 0 then return slot() elseif k == 1 then return int() end\n"
"  return str()\n"
"end\n"
"local function packvalue ()\n"
"  local k = byte() % 4\n"
"  if k == 0 then return str() elseif k == 1 then\n"
"    local s = bytes(8)\n"
"    return #s == 8 and string.unpack('<d', s) or 0.0\n"
"  end\n"
"  return int()\n"
"end\n"
"local function same (a, b)\n"
"  return a == b or (a ~= a and b ~= b)\n"
"end\n"
/* the bytes of a memory, read three ways */
"local function check (m)\n"
"  if M.type(m) == nil then return end\n"
"  local s = M.tostring(m)\n"
"  if #s ~= M.len(m) then FAIL('sizes disagree') end\n"
"  if getmetatable(m).__len and #m ~= #s then FAIL('#m disagrees') end\n"
"  if #s > 0 and #s < 200 then\n"
"    local got = {M.get(m, 1, -1)}\n"
"    if #got ~= #s then FAIL('get count') end\n"
"    for k = 1, #s do\n"
"      if got[k] ~= s:byte(k) then FAIL('get byte ' .. k) end\n"
"    end\n"
"  end\n"
"end\n"
"local ops = {\n"
"  function () put(M.create()) end,\n"
"  function () put(M.create(arg())) end,\n"
"  function () put(M.create(data(), arg(), arg())) end,\n"
"  function ()\n"
"    local m = slot()\n"
"    M.resize(m, arg(), byte() % 2 == 0 and data() or nil)\n"
"    check(m)\n"
"  end,\n"
"  function ()\n"
"    local m, i = slot(), arg()\n"
"    local n = byte() % 6\n"
"    local v = {}\n"
"    for k = 1, n do v[k] = byte() % 5 == 0 and int() or byte() end\n"
"    local before = M.type(m) and M.tostring(m)\n"
"    local ok, err = pcall(M.set, m, i, table.unpack(v, 1, n))\n"
"    if not ok then error(err, 0) end\n"
"    if math.type(i) == 'integer' and i >= 1 then\n"
"      local s = M.tostring(m)\n"
"      for k = 1, n do\n"
"        if i <= #s - (k - 1) and s:byte(i + k - 1) ~= v[k] then\n"
"          FAIL(('set byte: i=%s k=%d n=%d len=%d want %s got %s type %s'):format(i, k, n, #s, v[k], s:byte(i + k - 1), M.type(m)))\n"
"        end\n"
"      end\n"
"      if #s ~= #before then FAIL('set changed the size') end\n"
"    end\n"
"  end,\n"
"  function () M.get(slot(), arg(), arg()) end,\n"
"  function ()\n"
"    local m = slot()\n"
"    M.fill(m, data(), arg(), arg(), arg())\n"
"    check(m)\n"
"  end,\n"
"  function () M.find(slot(), data(), arg(), arg(), arg()) end,\n"
"  function () M.diff(data(), data()) end,\n"
"  function ()\n"
"    local m, f, i = slot(), fmt(), arg()\n"
"    local n = byte() % 5\n"
"    local v = {}\n"
"    for k = 1, n do v[k] = packvalue() end\n"
"    local res = table.pack(M.pack(m, f, i, table.unpack(v, 1, n)))\n"
"    check(m)\n"
"    if res[1] == true and i == 1 then\n"  /* differential: string.pack */
"      local ok, s = pcall(string.pack, f, table.unpack(v, 1, n))\n"
"      if ok and M.tostring(m, 1, res[2] - 1) ~= s then\n"
"        FAIL('pack differs from string.pack: ' .. f)\n"
"      end\n"
"    end\n"
"  end,\n"
"  function ()\n"
"    local m, f, i = slot(), fmt(), arg()\n"
"    local r1 = table.pack(pcall(M.unpack, m, f, i))\n"
"    if M.type(m) and math.type(i) == 'integer' then\n"
"      local r2 = table.pack(pcall(string.unpack, f, M.tostring(m), i))\n"
"      if r1[1] ~= r2[1] and not (r1[1] == false and\n"
"         tostring(r1[2]):find('memory')) then\n"
"        FAIL('unpack and string.unpack disagree: ' .. f .. ' ' ..\n"
"             tostring(r1[2]) .. ' / ' .. tostring(r2[2]))\n"
"      end\n"
"      if r1[1] and r2[1] then\n"
"        if r1.n ~= r2.n then FAIL('unpack count: ' .. f) end\n"
"        for k = 2, r1.n do\n"
"          if not same(r1[k], r2[k]) or math.type(r1[k]) ~= math.type(r2[k])\n"
"          then FAIL('unpack value ' .. k .. ': ' .. f) end\n"
"        end\n"
"      end\n"
"    end\n"
"    if not r1[1] then error(r1[2], 0) end\n"
"  end,\n"
"  function () put(M.tostring(slot(), arg(), arg())) end,\n"
"  function () return M.len(slot()), #slot(), M.type(slot()) end,\n"
"  function () put(slot() .. data()) end,\n"
"  function ()\n"
"    local m = slot()\n"
"    local mt = getmetatable(m)\n"
"    if mt and mt.__close then mt.__close(m) end\n"
"    check(m)\n"
"  end,\n"
"  function ()\n"
"    slots[byte() % NSLOTS + 1] = nil\n"
"    collectgarbage()\n"
"  end,\n"
/* the accessors of memory.h, compared with memory.tostring */
"  function ()\n"
"    local m, i, j = slot(), arg(), arg()\n"
"    local got = checkbuffer(m, i, j)\n"
"    if M.type(m) and got ~= M.tostring(m, i, j) then\n"
"      FAIL('checkbuffer differs from tostring')\n"
"    end\n"
"  end,\n"
"  function ()\n"
"    local d, i, j = data(), arg(), arg()\n"
"    local got = checkdata(d, i, j)\n"
"    local s = M.type(d) and M.tostring(d) or tostring(d)\n"
"    if got ~= s:sub(i, j or -1) then FAIL('checkdata differs from sub') end\n"
"  end,\n"
"  function ()\n"
"    local o = owners[byte() % #owners + 1]\n"
"    local k = byte() % 4\n"
"    if k == 0 then forget(o) return end\n"
"    local m, i, j = byte() % 2 == 0 and slot() or data(), arg(), arg()\n"
"    local got = cached(o, m, i, j, k == 1)\n"
"    local s = M.type(m) and M.tostring(m) or tostring(m)\n"
"    if got ~= s:sub(i or 1, j or -1) then FAIL('cached range differs') end\n"
"  end,\n"
"  function ()\n"  /* the entry first: a memory error cannot lose a token */
"    local e = {slot(), false}\n"
"    pins[#pins + 1] = e\n"
"    e[2] = pin(e[1]) or false\n"
"  end,\n"
"  function ()\n"  /* unpinned before the entry goes, for the same reason */
"    local i = byte() % (#pins + 1) + 1\n"
"    local p = pins[i]\n"
"    if not p then return end\n"
"    if p[2] then unpin(p[2]) p[2] = false end\n"
"    table.remove(pins, i)\n"
"    check(p[1])\n"
"  end,\n"
"  function () put(external(str())) end,\n"
"  function () release(slot()) end,\n"
"}\n"
"while more() do\n"
"  local pressure = byte() % 16 == 0\n"
"  local op = ops[byte() % #ops + 1]\n"
"  if pressure then FAILALLOC(byte(), op) else pcall(op) end\n"
"end\n"
"for k = 1, NSLOTS do check(slots[k]) end\n"
"for k = #pins, 1, -1 do\n"
"  if pins[k][2] then unpin(pins[k][2]) check(pins[k][1]) end\n"
"end\n"
, NULL, 0};

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  lua_State *L = fz_newstate(0, 1);
  openaccessors(L);
  fz_rundriver(L, &driver, data, size);
  return 0;
}
