-- bench/socket_rr.lua: request/reply on one TCP connection over
-- 127.0.0.1 (TCP_NODELAY): a client writes 64 bytes, the server echoes
-- them, the client reads them back; n round trips. Client and server run
-- in one process and loop. Contenders in bench/socket/common.lua; floor:
-- bench/floor_socket.c on plain libuv.

local S = dofile("bench/socket/common.lua")
S.loadfloor()

local function contender (name, lib, needs)
  return {name = name, floor = name == "floor", needs = needs,
          run = function (n) return S[lib].pingpong(1, n, 64) end}
end

return {
  title = "TCP request/reply, 64 bytes, one client",
  unit = "round trip",
  n = 50000,
  contenders = {
    contender("floor", "floor"),
    contender("coutil", "coutil", {"coutil.system", "memory"}),
    contender("luv", "luv", {"luv"}),
    contender("cqueues", "cqueues", {"cqueues", "cqueues.socket"}),
  },
  targets = {
    {slower = "coutil", than = "floor", atmost = 1.1},
    {faster = "coutil", than = "luv", atleast = 1.0},
    {faster = "coutil", than = "cqueues", atleast = 1.0},
  },
  callgrind = {n = 5000, contenders = {"coutil", "luv", "floor"}},
}
