/*
** memory.h: the `memory` module (spec: memory-module.md) and the
** accessors every read/write function uses for its (buffer, i, j) or
** (data, i, j) arguments. memory.o is linked into both memory.so and
** coutil.so; buffers are recognised by their registry names ("char[]" for
** fixed and resizable memories, "luamem_Ref" for external ones), so
** buffers made by either library (or by LuaMemory itself) are accepted.
*/
#ifndef coutil_memory_h
#define coutil_memory_h

#include <lua.h>
#include <lauxlib.h>

/* Bytes and size of the memory at 'arg', or NULL when it is not a memory
   (a closed/emptied memory gives a non-NULL pointer and size 0). */
char *cu_memory_to (lua_State *L, int arg, size_t *len);

/* Same, but raises "bad argument #arg to 'f' (memory expected, got X)". */
char *cu_memory_check (lua_State *L, int arg, size_t *len);

/* Pushes the "char[]" metatable of memories, making it (with the memory
   module's metamethods) when the memory module was not loaded yet. */
void cu_memory_pushclass (lua_State *L);

/* Buffer at 'arg' and the range given by the optional integers at
   arg+1 (i, default 1) and arg+2 (j, default -1), corrected like
   string.sub. Returns the first byte of the range and its size in *len
   (0 for an empty range). Raises on a non-memory or non-integer i/j.
   'mt' is the index (an upvalue) of the metatable cu_memory_pushclass
   pushed, or 0: memories are then recognised by a registry lookup. */
char *cu_memory_checkbuffer (lua_State *L, int arg, size_t *len, int mt);

/* Like cu_memory_checkbuffer, but 'arg' may also be a string (data to
   write). */
const char *cu_memory_checkdata (lua_State *L, int arg, size_t *len, int mt);

/* What a function that gets the same memory call after call (a socket's
   read and write) remembers of the last one it saw. Zero it to start. */
typedef struct cu_MemoryCache {
  const void *ud;  /* the memory's userdata, or NULL */
  size_t len;      /* a fixed memory's size */
  int resizable;
} cu_MemoryCache;

/* cu_memory_checkbuffer and cu_memory_checkdata with a cache: when the
   value at 'arg' is the memory 'c' names, no type check is needed. A
   memory seen anew is named in 'c' and anchored as user value 1 of the
   userdata at the absolute index 'owner', so no other object can take
   its address while 'c' names it. Callers clear that user value when
   they drop 'c'. */
char *cu_memory_checkbufferc (lua_State *L, int arg, size_t *len, int mt,
                       cu_MemoryCache *c, int owner);
const char *cu_memory_checkdatac (lua_State *L, int arg, size_t *len, int mt,
                           cu_MemoryCache *c, int owner);

/* For a request that libuv fills or reads later: keeps the bytes of the
   memory at 'arg' where they are until cu_memory_unpin(L, token). Meanwhile
   memory.resize raises "in use", and closing or collecting the memory
   hides its bytes at once but frees them only at the last unpin. Returns
   the token (NULL for memories whose bytes never move: fixed, external,
   closed; cu_memory_unpin(L, NULL) does nothing). Pins nest. */
void *cu_memory_pin (lua_State *L, int arg);
/* Calls no Lua code: fine inside libuv callbacks and loop teardown, as
   long as the memory's userdata (anchored with the request) still exists
   (userdata memory outlives every finalizer at lua_close). */
void cu_memory_unpin (lua_State *L, void *token);
/* Pins the memory at 'arg' whose bytes p..p+len a request uses, unless
   they cannot move anyway (strings, fixed memories): the token for
   cu_memory_unpin, or NULL. */
void *cu_memory_pinbytes (lua_State *L, int arg, const char *p, size_t len);

#endif
