/*
** socket.h: sockets and terminals (manual "Network & IPC", "Standard
** Streams"), shared by socket.c, stream.c and stdio.c. A socket userdata
** holds only a pointer to malloc'd memory embedding the libuv handle
** (NULL once closed); on_closed frees that memory, never __gc.
*/
#ifndef coutil_socket_h
#define coutil_socket_h

#include "await.h"
#include "address.h"
#include "memory.h"

/* kinds: each has its own class (and so its own methods) */
enum { CU_DATAGRAM, CU_STREAM, CU_PASSIVE, CU_TERMINAL };
#define CU_KIND(k) (1 << (k))
#define CU_ANYSOCKET (CU_KIND(CU_DATAGRAM) | CU_KIND(CU_STREAM) | \
                      CU_KIND(CU_PASSIVE))

/* domains, in the order of system.socket's names */
enum { CU_IPV4, CU_IPV6, CU_LOCAL, CU_SHARE, CU_NODOMAIN };
#define cu_islocal(s) ((s)->domain == CU_LOCAL || (s)->domain == CU_SHARE)

typedef struct cu_Socket {
  union {  /* first member: a handle pointer is a socket pointer */
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_tty_t tty;
    uv_udp_t udp;
  } h;
  cu_Loop *loop;
  cu_Await *reader;     /* the read or accept awaiting on this socket */
  cu_Await *connwait;   /* a connect awaiting the end of a pending one */
  char *rbuf;           /* that reader's buffer range */
  size_t rlen;
  cu_Address *raddr;    /* datagram read: where to store the source */
  void *rpin;           /* that reader's memory pin (memory.h) */
  int selfref;          /* registry slot anchoring the closed userdata
                           until on_closed, or LUA_NOREF */
  char *stash;          /* stream bytes that came with no reader */
  size_t stashpos, stashlen;
  int rerr;             /* sticky read failure (end of file) */
  unsigned char kind, domain;
  unsigned char reading;    /* uv_read_start is in effect */
  unsigned char toreader;   /* the last allocation was the reader's */
  unsigned char listening;
  unsigned char pending;    /* a connection waits for accept */
  unsigned char connecting; /* a stream connect has not completed yet */
  unsigned char peer;       /* datagram: connect gave it a peer */
  unsigned char ttymode;    /* terminal: mode set by setmode */
  unsigned char more;       /* the last system read filled the reader's
                               buffer: more bytes are likely there */
  unsigned char direct;     /* reads done at once in this loop round */
  unsigned round;           /* that round (cu_loop_round) */
  char scratch;             /* datagram read into an empty range */
  cu_MemoryCache mcache;    /* the memory last read into or written from,
                               anchored as the userdata's user value 1 */
} cu_Socket;

/* Creates the class of 'kind': its functions get the loop as upvalue 1,
   the class's metatable as upvalue 2 (a quick self check) and the memory
   metatable as upvalue 3 (CU_MEMCLASS, a quick buffer check). */
#define CU_MEMCLASS lua_upvalueindex(3)
void cu_socket_newclass (lua_State *L, int kind, const luaL_Reg *methods,
                        const luaL_Reg *metamethods);
/* How a new socket gets its libuv handle (cu_socket_new): 'init' is a
   uv_<type>_init (on failure libuv kept nothing); 'open', if not NULL,
   then gives the handle its descriptor or connection (uv_<type>_open,
   uv_accept; on failure the handle is closed). 'arg' is theirs. */
typedef int (*cu_SocketInit) (uv_loop_t *uv, cu_Socket *s, void *arg);
typedef int (*cu_SocketOpen) (cu_Socket *s, void *arg);

/* Pushes a new socket object of 'kind' and 'domain' (open may change the
   domain) and returns it; or pushes nothing and returns NULL with the
   libuv error in *err. Raises only when out of memory. The one way
   sockets are made: system.socket, accept, stdio, received sockets,
   execute's pipes. */
cu_Socket *cu_socket_new (lua_State *L, int kind, int domain,
                          cu_SocketInit init, cu_SocketOpen open,
                          void *arg, int *err);
/* For a cu_Start of a method: the socket 'self' (argument 1) of the
   suspended call, or NULL when it was closed since. */
cu_Socket *cu_socket_ofstart (lua_State *L);
/* Closes the socket object at 'idx' (a socket userdata) if it is open:
   for objects that must not stay behind after a failure. */
void cu_socket_discard (lua_State *L, int idx);
/* A TCP or UDP socket made from an existing descriptor or connection
   takes the domain of its address family (IPv4 when unknown). */
void cu_socket_setfamily (cu_Socket *s);
/* The open socket at 'arg' of one of the kinds in 'kinds', or raises. */
cu_Socket *cu_socket_check (lua_State *L, int arg, int kinds);
/* The open socket 'self' (argument 1) of a method, which must be of the
   method's own class (upvalue 2): "<class> expected, got <class>". */
cu_Socket *cu_socket_checkself (lua_State *L);
/* The socket pointer slot at 'arg' if it is one of 'kinds', or NULL. */
cu_Socket **cu_socket_toref (lua_State *L, int arg, int kinds);
/* uv_close for a socket whose userdata is already detached. */
void cu_socket_closehandle (cu_Socket *s);
/* Makes 'op' the reader of 's' filling 'p' (len bytes), the memory at
   stack index 2, which stays pinned until the reader is cleared. */
void cu_stream_startread (lua_State *L, cu_Socket *s, cu_Await *op, char *p,
                   size_t len);

/* stream.c: methods of stream sockets and terminals */
int cu_stream_read (lua_State *L);
int cu_stream_write (lua_State *L);
int cu_stream_shutdown (lua_State *L);
/* Sets or clears the reader; a socket keeps the loop alive only while
   a coroutine awaits on it. */
void cu_stream_setreader (cu_Socket *s, cu_Await *op);

/* socket.c: methods shared with terminals */
int cu_socket_close (lua_State *L);
int cu_socket_toclose (lua_State *L);  /* __close */
int cu_socket_gc (lua_State *L);       /* __gc */
int cu_socket_tostring (lua_State *L);


#endif
