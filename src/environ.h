/*
** environ.h: packed environments (environ.c) for other areas, such as
** system.execute, which hands one to the new process.
*/
#ifndef coutil_environ_h
#define coutil_environ_h

#include "common.h"

/* The environment at 'arg' as execve wants it: a NULL-terminated list of
   "NAME=value" strings. A packed environment gives its own list; a table
   is packed first (raising on bad names or values, as system.packenv)
   and the packed environment replaces the table at 'arg', so the list
   lives as long as that stack slot. Anything else raises a type error
   on argument 'arg'. */
char **cu_environ_check (lua_State *L, int arg);

#endif
