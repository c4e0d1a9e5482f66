/*
** signal.h: signal names and numbers (manual, system.emitsig and
** system.awaitsig), for the other areas that take or report signals
** (system.execute). Quoted includes find this file; the system's
** <signal.h> is only ever included with angle brackets.
*/
#ifndef coutil_signal_h
#define coutil_signal_h

#include "common.h"

/* The emitsig name of 'signum' (an awaitsig name, "STOP" or
   "TERMINATE"), or NULL when it has none. */
const char *cu_signal_name (int signum);

/* The signal number named by the string, or given as the integer, at
   'arg'; raises 'invalid signal' as system.emitsig does. */
int cu_signal_check (lua_State *L, int arg);

#endif
