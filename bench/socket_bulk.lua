-- bench/socket_bulk.lua: one TCP client uploads 512 MiB in 64 KiB writes
-- (each awaited before the next) to a server in the same process that
-- reads and discards them (127.0.0.1, TCP_NODELAY). n counts the writes.

local S = dofile("bench/socket/common.lua")
S.loadfloor()

local CHUNK = 65536

return {
  title = "TCP bulk upload, 512 MiB in 64 KiB writes",
  unit = "64 KiB write",
  n = 8192,
  contenders = S.contenders(function (impl, n)
    return impl.bulk(n * CHUNK, CHUNK)
  end),
  -- throughput at least 0.95x the floor's: time at most 1/0.95 of it
  reps = 11,  -- system time varies much from run to run
  targets = S.targets(1 / 0.95),
}
