/*
** address.h: network address objects (system.address; manual "Network &
** IPC"), shared by address.c (which implements them) and socket.c.
** An address is a full userdata holding a sockaddr_storage (for "ipv4"
** and "ipv6") with metatable CU_ADDRESS_CLASS.
*/
#ifndef coutil_address_h
#define coutil_address_h

#include <sys/socket.h>
#include <netinet/in.h>
#include "common.h"

#define CU_ADDRESS_CLASS "coutil.address"

typedef struct cu_Address {
  struct sockaddr_storage ss;  /* ss_family is AF_INET or AF_INET6 */
} cu_Address;

/* The address object at 'arg' or raises "address expected". */
cu_Address *cu_address_check (lua_State *L, int arg);
/* The address object at 'arg', or NULL if it is not one. */
cu_Address *cu_address_to (lua_State *L, int arg);
/* Pushes a new address of 'family' (AF_INET/AF_INET6), zeroed. */
cu_Address *cu_address_new (lua_State *L, int family);
/* Size of the sockaddr actually used by 'a' (for bind/connect). */
#define cu_addrlen(a) ((a)->ss.ss_family == AF_INET6 ? \
  sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in))

#endif
