/*
** areas.h: the opener of every API area, all with one signature. Each
** adds its functions to the module table on the top of the stack and
** leaves the stack as it was; module.c builds the modules from them.
** A new area adds its opener here and one call in module.c
** (docs/design.md, "How to add an area").
*/
#ifndef coutil_areas_h
#define coutil_areas_h

#include "common.h"

/* coutil.system */
void cu_open_loop (lua_State *L);     /* loop.c: run, isrunning, halt */
void cu_open_time (lua_State *L);     /* time.c: nanosecs, time, suspend */
void cu_open_awaitch (lua_State *L);  /* channel.c: awaitch */
void cu_open_resume (lua_State *L);   /* coroutine.c: resume */
void cu_open_address (lua_State *L);  /* address.c: address, findaddr,
                                         nameaddr */
void cu_open_socket (lua_State *L);   /* socket.c: socket */
void cu_open_stdio (lua_State *L);    /* stdio.c: stdin, stdout, stderr */
void cu_open_info (lua_State *L);     /* info.c: procinfo, cpuinfo,
                                         netinfo, random */
void cu_open_environ (lua_State *L);  /* environ.c: getpriority,
                                         setpriority, getdir, setdir,
                                         getenv, setenv, packenv,
                                         unpackenv */
void cu_open_signal (lua_State *L);   /* signal.c: emitsig, awaitsig */
void cu_open_process (lua_State *L);  /* process.c: execute */
void cu_open_filesys (lua_State *L);  /* filesys.c: linkfile, copyfile,
                                         movefile, removefile, maketemp,
                                         makedir, listdir, touchfile,
                                         ownfile, grantfile, fileinfo,
                                         filebits */
void cu_open_file (lua_State *L);     /* file.c: openfile, file objects */

/* the other modules, one area each */
void cu_open_event (lua_State *L);     /* event.c: coutil.event */
void cu_open_queued (lua_State *L);    /* event.c: coutil.queued */
void cu_open_mutex (lua_State *L);     /* mutex.c: coutil.mutex */
void cu_open_promise (lua_State *L);   /* promise.c: coutil.promise */
void cu_open_spawn (lua_State *L);     /* spawn.c: coutil.spawn */
void cu_open_timeout (lua_State *L);   /* timeout.c: coutil.timeout */
void cu_open_channel (lua_State *L);   /* channel.c: coutil.channel */
void cu_open_coroutine (lua_State *L); /* coroutine.c: coutil.coroutine */
void cu_open_threads (lua_State *L);   /* threads.c: coutil.threads */

#endif
