/*
** state.h: independent states (manual, "Independent State") and the one
** way values cross from one Lua state to another ("Transferable Values"):
** they are saved into a C buffer on the sender's thread and pushed back
** on the receiver's thread, so no thread ever touches a foreign state.
*/
#ifndef coutil_state_h
#define coutil_state_h

#include "common.h"

/* Small messages fit in the record itself: no allocation on the hot path
   of a channel ping-pong. */
#define CU_VALUES_INLINE 96

typedef struct cu_Values {
  char *data;      /* 'inl' or a heap block */
  size_t len;      /* bytes used */
  size_t size;     /* bytes available at 'data' */
  int n;           /* number of values */
  char inl[CU_VALUES_INLINE];
} cu_Values;

/* An empty list of values. */
void cu_values_init (cu_Values *v);

/* Releases the memory of 'v' (it becomes empty). */
void cu_values_free (cu_Values *v);

/* Moves the values of 'src' into 'dst' (freed first); 'src' is left
   empty. */
void cu_values_move (cu_Values *dst, cu_Values *src);

/* Replaces the contents of 'v' with the values first..last of L's stack
   (first > last saves none). Returns 0, the stack index of the first value
   that is not transferable, or -1 when out of memory. Never raises. */
int cu_values_save (cu_Values *v, lua_State *L, int first, int last);

/* Pushes the values of 'v' onto L (which needs room for v->n values) and
   returns how many. 'v' is left unchanged. */
int cu_values_push (cu_Values *v, lua_State *L);

/* The type name of the value at the stack index cu_values_save returned:
   the "got ..." part of the messages below. */
#define cu_values_typename(L, idx) luaL_typename((L), (idx))

/* Pushes onto L "unable to transfer <what> #<n> (got <tname>)", or
   "unable to transfer <what> (got <tname>)" when n is 0. */
void cu_values_pusherror (lua_State *L, const char *what, int n,
                           const char *tname);

/* Saves values first..last of L or raises "unable to transfer argument
   #N (got type)", N being the value's argument number (its stack index
   plus 'shift'). Raises "not enough memory" on allocation failure. */
void cu_values_checksave (cu_Values *v, lua_State *L, int first, int last,
                          int shift);

/* A new independent state sharing L's allocator and panic function, with
   only 'package' loaded, the standard libraries and coutil's modules
   preloaded and L's preloads inherited (C functions without upvalues as
   they are, Lua functions dumped and loaded again). NULL on failure
   (out of memory); the error message is then pushed onto L. */
lua_State *cu_state_new (lua_State *L);

/* The same in two steps, so that the first can run on another thread
   ahead of time (thread pools keep a few spare states): */
/* Blocks of the states' regions (state.c, "the allocator of independent
   states") kept for the next states by their owner (a thread pool), and
   given back with cu_regions_free before the allocator may go. */
#define CU_NREGIONS 8

typedef struct cu_Regions {
  uv_mutex_t mutex;  /* taken by lua_close and the making of a state */
  int n;
  void *block[CU_NREGIONS];
} cu_Regions;

typedef struct cu_StateOrigin {
  lua_Alloc alloc;
  void *ud;
  lua_CFunction panic;
  int warn;  /* warnings start on: COUTIL_WARNINGS=on (the coutil command) */
  cu_Regions *cache;  /* NULL: regions go back to 'alloc' */
} cu_StateOrigin;

/* What a new state takes from L (its allocator and panic function) and
   the process (whether its warnings start on); no cache. */
void cu_state_origin (lua_State *L, cu_StateOrigin *o);

/* An empty cache; a libuv error code. */
int cu_regions_init (cu_Regions *c);

/* Frees the cached blocks with o's allocator, and the cache's mutex. */
void cu_regions_free (cu_Regions *c, const cu_StateOrigin *o);

/* NL's region goes back to the allocator at lua_close, not to a cache
   (an orphan task outlives its pool). */
void cu_state_uncache (lua_State *NL);

/* Step 1, on any thread: a fresh state with 'package' loaded and the
   standard libraries and coutil's modules preloaded; NULL when out of
   memory. */
lua_State *cu_state_newbare (const cu_StateOrigin *o);

/* A state with nothing loaded and warnings off, made as the states above
   (the same allocator, regions included, and panic function): where a
   caller compiles chunks for its tasks. NULL when out of memory. */
lua_State *cu_state_newplain (const cu_StateOrigin *o);

/* Emits, on stderr, the warning prefix..msg as a fresh state made by
   cu_state_newbare(o) would (nothing when its warnings start off): for a
   task whose state could not be made. */
void cu_state_warnorigin (const cu_StateOrigin *o, const char *prefix,
                          const char *msg);

/* Step 2, on L's thread: adds L's preloads to NL. Returns NL,
   or NULL after closing NL and pushing an error message onto L. */
lua_State *cu_state_inheritpreloads (lua_State *L, lua_State *NL);

/* The preload entries of a state that can cross to a new one (as
   cu_state_inheritpreloads adds them), saved in C memory on the caller's
   thread and added to the new state later, on any thread. */
typedef struct cu_Preloads cu_Preloads;

/* Saves L's entries into a new list, or NULL when it has none. Returns
   0, or -1 when out of memory (*list is then NULL). Never raises. */
int cu_preloads_save (lua_State *L, cu_Preloads **list);

/* Adds the entries to NL's preload table; a NULL list adds none. Raises
   (memory errors): call it protected. */
void cu_preloads_add (lua_State *NL, cu_Preloads *list);

/* Frees the list (NULL is fine). */
void cu_preloads_free (cu_Preloads *list);

#endif
