-- bench/socket_scale.lua: the cost of a round trip as the number of
-- concurrent clients grows. The same 50,000 round trips of 64 bytes are
-- spread over 10 to 200 coutil clients; the 10-client run is the
-- reference ("floor" of the table), so the ratio column is the cost per
-- round trip relative to 10 clients. The C floor at 200 clients is shown
-- for scale.

local S = dofile("bench/socket/common.lua")
S.loadfloor()

local function contender (name, lib, clients, needs, floor)
  return {name = name, floor = floor, needs = needs,
          run = function (n)
            return S[lib].pingpong(clients, n // clients, 64)
          end}
end

local needs = {"coutil.system", "memory"}
local contenders = {}
local targets = {}
for _, clients in ipairs{10, 25, 50, 100, 200} do
  local name = "coutil-" .. clients
  contenders[#contenders + 1] = contender(name, "coutil", clients, needs,
                                          clients == 10)
  if clients > 10 then
    targets[#targets + 1] = {slower = name, than = "coutil-10", atmost = 1.3}
  end
end
contenders[#contenders + 1] = contender("C floor-200", "floor", 200)

return {
  title = "TCP request/reply cost from 10 to 200 concurrent clients",
  unit = "round trip",
  n = 50000,
  contenders = contenders,
  targets = targets,
}
