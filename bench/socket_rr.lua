-- bench/socket_rr.lua: request/reply on one TCP connection over
-- 127.0.0.1 (TCP_NODELAY): a client writes 64 bytes, the server echoes
-- them, the client reads them back; n round trips. Client and server run
-- in one process and loop. Contenders in bench/socket/common.lua; floor:
-- bench/floor_socket.c on plain libuv.

local S = dofile("bench/socket/common.lua")
S.loadfloor()

return {
  title = "TCP request/reply, 64 bytes, one client",
  unit = "round trip",
  n = 50000,
  contenders = S.contenders(function (impl, n)
    return impl.pingpong(1, n, 64)
  end),
  reps = 11,  -- system time varies much from run to run
  targets = S.targets(1.1),
  callgrind = {n = 5000, contenders = {"coutil", "luv", "floor"}},
}
