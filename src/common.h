/*
** common.h: helpers every area of coutil shares: the failure triple of
** the manual's "Failures", the one mode-string parser, class creation,
** warnings for errors nobody can catch, and libuv version guards.
*/
#ifndef coutil_common_h
#define coutil_common_h

#include <stddef.h>
#include <lua.h>
#include <lauxlib.h>
#include <uv.h>

#define CU_EXPORT __attribute__((visibility("default")))

/* For the few functions of a hot path that the compiler would keep out
   of line (one caller, but long): event.c's resume of a waiter. */
#if defined(__GNUC__)
#define CU_ALWAYS_INLINE __attribute__((always_inline))
#else
#define CU_ALWAYS_INLINE
#endif

/* Built with AddressSanitizer or ThreadSanitizer (gcc tells by macros,
   clang by __has_feature): our own allocators then give way, so that the
   sanitizer sees every block (await.c's slabs, state.c's regions). */
#if defined(__SANITIZE_ADDRESS__)
#define CU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CU_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CU_TSAN 1
#endif
#endif

/* Newer libuv calls sit behind this guard (Debian 12 ships 1.44). */
#define CU_UV_AT_LEAST(maj, min) \
  (UV_VERSION_MAJOR > (maj) || \
   (UV_VERSION_MAJOR == (maj) && UV_VERSION_MINOR >= (min)))

#define cu_container_of(ptr, type, field) \
  ((type *)((char *)(ptr) - offsetof(type, field)))

/* Pushes 'true' when err >= 0, else the triple false, message, errno.
   Returns the number of values pushed: 'return cu_pushresult(L, err);' */
int cu_pushresult (lua_State *L, int err);
/* Always the failure triple (err < 0). */
int cu_pushfail (lua_State *L, int err);

/* Checks the optional mode string at 'arg'. Every char must be in
   'allowed'; '~' (blocking mode) is valid only as the first char and only
   where 'allowed' contains it. Raises the phrases of conventions.md.
   Returns the string, "" when the argument is absent or nil. */
const char *cu_checkmode (lua_State *L, int arg, const char *allowed);
/* The same for modes that are sets of flags (no char yields a value), where
   the original library finds '~' anywhere (removefile(path, "d~")). */
const char *cu_checkflags (lua_State *L, int arg, const char *allowed);
#define cu_blocking(mode) ((mode)[0] == '~')
#define cu_hasmode(mode, c) (strchr((mode), (c)) != NULL)

/* Creates metatable 'name' in the registry with __index = a table of
   'methods' (plus 'metamethods' set on the metatable itself); leaves the
   metatable on the stack. Functions get 'nup' upvalues copied from the
   stack top (which are popped), like luaL_setfuncs. */
void cu_newclass (lua_State *L, const char *name, const luaL_Reg *methods,
                  const luaL_Reg *metamethods, int nup);

/* With a class metatable (cu_newclass) on top of a module table: the
   module table takes the class's methods and becomes its method table,
   as in modules whose functions are also the methods of their objects
   (channel, coroutine, threads). Pops the metatable. */
void cu_classmodule (lua_State *L);

/* Reports the error value at the top of 'co' (left there) through
   lua_warning, with the fixed prefix CU_WARN_PREFIX and, when 'co' is
   not L (a coroutine that failed), the traceback of where it failed. */
#define CU_WARN_PREFIX "coutil: unhandled error in coroutine: "
void cu_warnerror (lua_State *L, lua_State *co);
/* The same with another prefix. */
void cu_warnerrorwith (lua_State *L, lua_State *co, const char *prefix);

/* Raises "unable to yield" when the caller cannot yield: the one check
   of every function that suspends, and of await functions that may end
   without waiting (called first, so they behave the same either way). */
void cu_checkyield (lua_State *L);

/* Pushes false, "closed": what a coroutine awaiting on an object gets
   when the object is closed. Returns 2. */
int cu_pushclosed (lua_State *L);

/* Pushes a string that libuv writes into a caller's buffer (a path, a
   host name, an environment variable's value): get(name, buf, &len)
   fills 'buf', or fails with UV_ENOBUFS and the size needed in 'len',
   and is then called again with a buffer that large. 'name' is passed
   through (uv_os_getenv's first parameter). Returns 0 with the string
   pushed, or libuv's error with nothing pushed. */
typedef int (*cu_SizedGet) (const char *name, char *buf, size_t *len);
int cu_pushsized (lua_State *L, cu_SizedGet get, const char *name);

/* Ensures there is room for 'n' more values on 'L' or raises. */
void cu_checkstack (lua_State *L, int n);


#endif
