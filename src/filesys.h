/*
** filesys.h: what file objects share with the path functions of
** filesys.c (manual, "File System").
*/
#ifndef coutil_filesys_h
#define coutil_filesys_h

#include "common.h"

/* The permission bits at 'arg': an integer, or a string of the chars of
   file:grant ("UGSrwxRWX421"); raises 'unknown perm char (got 'c')'. */
int cu_filesys_checkperm (lua_State *L, int arg);

/* Pushes one value for each char of 'mode' that file:info knows (type,
   mode bits, ids, sizes, times, permission booleans) and skips the others
   ('~', 'l', fileinfo's own chars). Returns the number pushed. */
int cu_filesys_pushinfo (lua_State *L, const uv_stat_t *st,
                         const char *mode);

#endif
