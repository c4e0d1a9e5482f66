-- bench/lib/stats.lua: what the harness and the benchmarks that run their own
-- children (bench/conn_scale.lua, bench/coro_scale.lua) share.
--   local S = dofile("bench/lib/stats.lua")

local S = {}

-- Shell quoting of one word.
function S.q (s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The median of a list of numbers (nil for an empty one).
function S.median (list)
  if #list == 0 then return nil end
  local t = table.move(list, 1, #list, 1, {})
  table.sort(t)
  local m = #t // 2
  if #t % 2 == 1 then return t[m + 1] end
  return (t[m] + t[m + 1]) / 2
end

-- A new list of the items in random order. Contenders take turns in a new
-- order every round: in a fixed order each one would always run right
-- after the same other one, and runs of a few tenths of a second are
-- measurably faster or slower after some contenders than after others
-- (the system's socket and page caches; see RESULTS.md).
function S.shuffled (list)
  local t = table.move(list, 1, #list, 1, {})
  for i = #t, 2, -1 do
    local j = math.random(i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

return S
