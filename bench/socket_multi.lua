-- bench/socket_multi.lua: 50 TCP clients at once, each doing n/50 round
-- trips of 64 bytes with an echo server in the same process and loop
-- (127.0.0.1, TCP_NODELAY). n counts the round trips of all clients.

local S = dofile("bench/socket/common.lua")
S.loadfloor()

local CLIENTS = 50

return {
  title = "TCP request/reply, 64 bytes, 50 concurrent clients",
  unit = "round trip",
  n = 50000,
  contenders = S.contenders(function (impl, n)
    return impl.pingpong(CLIENTS, n // CLIENTS, 64)
  end),
  reps = 11,  -- system time varies much from run to run
  targets = S.targets(1.15),
}
