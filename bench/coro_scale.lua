-- bench/coro_scale.lua: up to 1,000,000 coroutines waiting at once.
--
-- Memory: n coroutines each in system.suspend(60), resident memory
-- (VmRSS) and Lua heap (collectgarbage "count") with all n waiting, minus
-- before, per coroutine; "beyond bare" subtracts the same numbers for n
-- bare coroutines that called coroutine.yield() (so the Lua coroutine,
-- its stack and the table that holds it cancel out: what is left is the
-- library's own memory). RSS minus Lua heap is the memory malloc'ed
-- outside Lua (coutil's operation records, luv's handles).
-- Time (CPU time of the child): start = create and suspend all n;
-- wake = the loop's run until all n (waiting 1 to 10 ms) have woken and
-- returned; halt = coroutine.close of all n waiting 60 s. Each should be
-- linear in n: the cost per coroutine at 1,000,000 within 1.2x of 100,000.
-- luv (a timer per coroutine whose callback resumes it) for reference.
--
-- Every number comes from a fresh child (bench/scale/coro.lua), the
-- children taking turns in a new random order every round, as in
-- bench/harness.lua; the tables give medians. Run it with the harness
-- (sh bench/run.sh build/lib bench/coro_scale.lua): it has no timed
-- run(n) contenders but a 'main' of its own.

local S = dofile("bench/lib/stats.lua")
local q, median, shuffled = S.q, S.median, S.shuffled

local KINDS = {"bare", "coutil", "luv"}
local SIZES = {100000, 200000, 1000000}
local MEMSIZES = {200000, 1000000}




local function main (libdir, reps)
  local lua = os.getenv("BENCH_LUA") or "lua5.4"
  local env = "env LUA_CPATH=" .. q(libdir .. "/?.so;;")
  local runs = {}
  for _, kind in ipairs(KINDS) do
    for _, n in ipairs(SIZES) do
      for _, what in ipairs{"mem", "wake"} do
        runs[#runs + 1] = {kind = kind, n = n, what = what, out = {}}
      end
    end
  end
  local failed = {}
  math.randomseed(1)
  for _ = 1, reps do
    for _, r in ipairs(shuffled(runs)) do
      local key = r.kind .. "-" .. r.what
      if not failed[key] then
        local p = assert(io.popen(string.format("%s %s bench/scale/coro.lua %s %d %s 2>&1",
          env, lua, r.kind, r.n, r.what)))
        local line = p:read("a")
        p:close()
        local nums = {}
        for x in line:gmatch("%S+") do nums[#nums + 1] = tonumber(x) end
        if #nums == (r.what == "mem" and 6 or 2) then
          table.insert(r.out, nums)
        else
          failed[key] = line:match("[^\n]*")
        end
      end
    end
  end

  -- median of field 'i' of the runs of kind, n, what (nil if none)
  local function m (kind, n, what, i)
    for _, r in ipairs(runs) do
      if r.kind == kind and r.n == n and r.what == what then
        local l = {}
        for _, nums in ipairs(r.out) do l[#l + 1] = nums[i] end
        return median(l)
      end
    end
  end
  local function permem (kind, n)  -- rss, lua heap bytes per coroutine
    local rss0, rss1 = m(kind, n, "mem", 1), m(kind, n, "mem", 2)
    local lua0, lua1 = m(kind, n, "mem", 3), m(kind, n, "mem", 4)
    if not (rss0 and lua0) then return nil end
    -- medians of the differences, not differences of medians
    local dr, dl = {}, {}
    for _, r in ipairs(runs) do
      if r.kind == kind and r.n == n and r.what == "mem" then
        for _, x in ipairs(r.out) do
          dr[#dr + 1] = (x[2] - x[1]) / n
          dl[#dl + 1] = (x[4] - x[3]) / n
        end
      end
    end
    return median(dr), median(dl)
  end

  print(string.format("## 1,000,000 coroutines waiting at once: memory per coroutine " ..
    "(median of %d runs)", reps))
  print()
  print("| contender | coroutines | RSS B/coroutine | Lua heap B/coroutine | " ..
        "RSS beyond bare | Lua heap beyond bare | outside Lua beyond bare |")
  print("|---|---:|---:|---:|---:|---:|---:|")
  local beyond = {}
  for _, kind in ipairs(KINDS) do
    for _, n in ipairs(MEMSIZES) do
      local r, l = permem(kind, n)
      local br, bl = permem("bare", n)
      if r then
        local ex = ""
        if kind ~= "bare" and br then
          ex = string.format("%.0f | %.0f | %.0f", r - br, l - bl,
                             (r - br) - (l - bl))
          beyond[kind .. n] = r - br
        else
          ex = "| |"
        end
        print(string.format("| %s | %d | %.0f | %.0f | %s |", kind, n, r, l, ex))
      else
        print(string.format("| %s | %d | %s | | | | |", kind, n,
                            failed[kind .. "-mem"] or "not measured"))
      end
    end
  end
  print()

  print(string.format("## 1,000,000 coroutines waiting at once: CPU time per coroutine " ..
    "(median of %d runs)", reps))
  print()
  print("| contender | coroutines | start ns | wake ns | halt ns |")
  print("|---|---:|---:|---:|---:|")
  local function ns (kind, n, what, i)
    local s = m(kind, n, what, i)
    return s and s / n * 1e9
  end
  local function fmt (x) return x and string.format("%.0f", x) or "-" end
  for _, kind in ipairs(KINDS) do
    for _, n in ipairs(SIZES) do
      print(string.format("| %s | %d | %s | %s | %s |", kind, n,
        fmt(ns(kind, n, "mem", 5)), fmt(ns(kind, n, "wake", 2)),
        fmt(ns(kind, n, "mem", 6))))
    end
  end
  print()

  local function target (label, x, limit)
    if not x then
      print(string.format("- target: %s: not measured", label))
    else
      print(string.format("- target: %s at most %g: %.2f (%s)", label, limit, x,
                          x <= limit and "met" or "NOT met"))
    end
  end
  for _, n in ipairs(MEMSIZES) do
    target(string.format("coutil bytes per waiting coroutine beyond bare, %d", n),
           beyond["coutil" .. n], 200)
  end
  local big, small = SIZES[#SIZES], SIZES[1]
  local function ratio (kind, what, i)
    local a, b = ns(kind, big, what, i), ns(kind, small, what, i)
    return a and b and a / b
  end
  target("coutil start cost per coroutine, 1,000,000 / 100,000",
         ratio("coutil", "mem", 5), 1.2)
  target("coutil wake-up cost per coroutine, 1,000,000 / 100,000",
         ratio("coutil", "wake", 2), 1.2)
  print(string.format("- for reference, 1,000,000 / 100,000: halt coutil %.2f; " ..
    "start bare %.2f, luv %.2f; wake bare %.2f, luv %.2f",
    ratio("coutil", "mem", 6) or 0, ratio("bare", "mem", 5) or 0,
    ratio("luv", "mem", 5) or 0, ratio("bare", "wake", 2) or 0,
    ratio("luv", "wake", 2) or 0))
  print()
end

return {
  title = "1,000,000 coroutines waiting at once",
  main = main,
}
