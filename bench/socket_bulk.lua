-- bench/socket_bulk.lua: one TCP client uploads 512 MiB in 64 KiB writes
-- (each awaited before the next) to a server in the same process that
-- reads and discards them (127.0.0.1, TCP_NODELAY). n counts the writes.

local S = dofile("bench/socket/common.lua")
S.loadfloor()

local CHUNK = 65536

local function contender (name, lib, needs)
  return {name = name, floor = name == "floor", needs = needs,
          run = function (n) return S[lib].bulk(n * CHUNK, CHUNK) end}
end

return {
  title = "TCP bulk upload, 512 MiB in 64 KiB writes",
  unit = "64 KiB write",
  n = 8192,
  contenders = {
    contender("floor", "floor"),
    contender("coutil", "coutil", {"coutil.system", "memory"}),
    contender("luv", "luv", {"luv"}),
    contender("cqueues", "cqueues", {"cqueues", "cqueues.socket"}),
  },
  targets = {
    -- throughput at least 0.95x the floor's: time at most 1/0.95 of it
    {slower = "coutil", than = "floor", atmost = 1 / 0.95},
    {faster = "coutil", than = "luv", atleast = 1.0},
    {faster = "coutil", than = "cqueues", atleast = 1.0},
  },
}
