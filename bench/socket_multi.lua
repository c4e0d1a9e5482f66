-- bench/socket_multi.lua: 50 TCP clients at once, each doing n/50 round
-- trips of 64 bytes with an echo server in the same process and loop
-- (127.0.0.1, TCP_NODELAY). n counts the round trips of all clients.

local S = dofile("bench/socket/common.lua")
S.loadfloor()

local CLIENTS = 50

local function contender (name, lib, needs)
  return {name = name, floor = name == "floor", needs = needs,
          run = function (n)
            return S[lib].pingpong(CLIENTS, n // CLIENTS, 64)
          end}
end

return {
  title = "TCP request/reply, 64 bytes, 50 concurrent clients",
  unit = "round trip",
  n = 50000,
  contenders = {
    contender("floor", "floor"),
    contender("coutil", "coutil", {"coutil.system", "memory"}),
    contender("luv", "luv", {"luv"}),
    contender("cqueues", "cqueues", {"cqueues", "cqueues.socket"}),
  },
  targets = {
    {slower = "coutil", than = "floor", atmost = 1.15},
    {faster = "coutil", than = "luv", atleast = 1.0},
    {faster = "coutil", than = "cqueues", atleast = 1.0},
  },
}
