-- test/fuzz.lua: seeded random-argument robustness test.
--
-- Every group below calls the library's functions with random argument
-- lists built from awkward values (nil, extreme integers, NaN, infinities,
-- huge strings, strings with zeros, tables, functions, coroutines, light
-- userdata, memories of each kind, sockets, addresses, channels, pools).
-- A call may return anything or raise a Lua error; it must never crash,
-- hang or leak (the sanitizer builds catch the last ones). Each group is
-- one H.case, so the harness also checks that the loop ends idle and that
-- the tracked objects are collected. One group instead checks a property
-- under random disruption: a stream's bytes all arrive, once, in order.
--
-- The seeds are fixed and printed; COUTIL_FUZZ_SEED=<n> replaces them and
-- COUTIL_FUZZ_SCALE=<x> multiplies the number of rounds. Under a sanitizer
-- or another interpreter (COUTIL_SANITIZER, COUTIL_LUA) fewer rounds run.

local H = require "helpers"
local memory = H.cmodule "memory"
local system = require "coutil.system"
local event = require "coutil.event"
local queued = require "coutil.queued"
local mutex = require "coutil.mutex"
local promise = require "coutil.promise"
local spawn = require "coutil.spawn"
local channel = require "coutil.channel"
local threads = require "coutil.threads"
local cocoutil = require "coutil.coroutine"

local slow = os.getenv("COUTIL_SANITIZER") or os.getenv("COUTIL_LUA")
local scale = (tonumber(os.getenv("COUTIL_FUZZ_SCALE")) or 10) *
              (slow and 0.25 or 1)
local function rounds (n) return math.max(1, math.floor(n * scale)) end

local seedbase = tonumber(os.getenv("COUTIL_FUZZ_SEED")) or 20261126
io.stdout:write("fuzz: seed base ", seedbase, ", scale ", scale, "\n")

local function seed (n)
  io.stdout:write("fuzz: group seed ", seedbase + n, "\n")
  io.stdout:flush()
  math.randomseed(seedbase + n)
end

local random = math.random

local function pick (list) return list[random(#list)] end

-- Temporary directory for local socket paths (nothing is created
-- anywhere else).
local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p '" .. tmpdir .. "'"))

-- Random values ----------------------------------------------------------

local huge = string.rep("x", 1 << 16)
local hugezero = string.rep("\0", 70000)
local lightud = debug.upvalueid(function () return huge end, 1)
local deadco = coroutine.create(function () end)
coroutine.resume(deadco)
local raising = setmetatable({}, {
  __index = function () error("index trap") end,
  __newindex = function () error("newindex trap") end,
  __len = function () error("len trap") end,
  __tostring = function () error("tostring trap") end,
  __eq = function () error("eq trap") end,
})

local ints = {0, -1, 1, 2, 3, 4, 7, 8, 16, 255, 256, 1023, 65535, 65536,
  -2, -255, -65536, math.mininteger, math.maxinteger, math.mininteger + 1,
  math.maxinteger - 1, 0x7fffffff, -0x80000000, 0xffffffff}
local floats = {0.5, -0.0, 0.0, 0 / 0, 1 / 0, -1 / 0, 1e308, -1e308,
  2.0 ^ 53, 2.0 ^ 63, -2.0 ^ 63, 3.7, -3.7, 1e-9, 4.0, 5e-324}
local words = {"", "\0", "a\0b", "~", "~~", "t", "b", "tb", "~t", "x", "r",
  "w", "a", "ipv4", "ipv6", "local", "share", "stream", "passive",
  "datagram", "in", "out", "any", "loop", "step", "ready", "cached",
  "updated", "epoch", "cpu", "process", "thread", "this", "peer", "self",
  "nearb", "enaprs", "keepalive", "nodelay", "broadcast", "mcastloop",
  "mcastttl", "mcastiface", "mcastjoin", "mcastleave", "linger", "ttl",
  "literal", "binary", "port", "type", "~b", "t~", "~bt", "\255\254",
  "127.0.0.1", "::1", "127.0.0.1:80", "[::1]:80"}

-- Extra values a group adds to the pool (sockets, channels, ...).
local extras = {}

local function randstring ()
  local r = random(6)
  if r == 1 then return pick(words)
  elseif r == 2 then return random(8) == 1 and hugezero or huge
  else
    local n = random(0, 12)
    local t = {}
    for i = 1, n do t[i] = string.char(random(0, 255)) end
    return table.concat(t)
  end
end

local memkinds = {"fixed", "resizable", "other"}
local function randmemory (kind)
  kind = kind or pick(memkinds)
  if kind == "fixed" then
    return memory.create(pick{0, 1, 3, 8, 64})
  end
  local m = memory.create()
  memory.resize(m, pick{0, 1, 5, 32})
  if kind == "other" then
    local close <close> = m  -- closing turns it into "other"
  end
  return m
end

local rv
local function randkey ()
  local k = rv()
  if k == nil or k ~= k then return "k" end
  return k
end

local function randtable ()
  local r = random(4)
  if r == 1 then return {} elseif r == 2 then return {1, "a", true}
  elseif r == 3 then return raising
  else return {[randkey()] = rv(), x = rv()} end
end

-- A random suspend time that never waits long: valid times are short.
local function shortsecs ()
  local s = rv()
  local n = type(s) ~= "table" and tonumber(s)  -- "7" counts too
  if n and n == n and n > 0.01 and n < 1e17 then
    return random(2) == 1 and 0 or 0.001
  end
  return s
end

function rv ()
  local r = random(20)
  if r == 1 then return nil
  elseif r == 2 then return random(2) == 1
  elseif r <= 6 then
    return random(2) == 1 and pick(ints) or random(-300, 300)
  elseif r == 7 then return pick(floats)
  elseif r <= 11 then return randstring()
  elseif r == 12 then return randtable()
  elseif r == 13 then return pick{tostring, function () end,
                                  function () error("fn trap") end}
  elseif r == 14 then
    return pick{deadco, coroutine.running(),
                coroutine.create(function () coroutine.yield() end)}
  elseif r == 15 then return lightud
  elseif r == 16 then return randmemory()
  elseif r == 17 then return io.stdout
  elseif #extras > 0 then return pick(extras)
  else return pick(ints) end
end

-- Random argument list: returns a table with 'n'.
local function randargs (max, first)
  local n = random(0, max or 5)
  local args = {n = n}
  for i = 1, n do args[i] = rv() end
  if first ~= nil and n > 0 and random(3) > 1 then args[1] = first end
  return args
end

-- Calls f with the argument list; only Lua errors may come out.
local calls = 0
local function try (f, args)
  calls = calls + 1
  return pcall(f, table.unpack(args, 1, args.n))
end

-- Sorted function list of a module (deterministic order).
local function functions (mod)
  local names = {}
  for k, v in pairs(mod) do
    if type(v) == "function" then names[#names + 1] = k end
  end
  table.sort(names)
  return names
end

-- Resumes or closes every still-suspended coroutine of 'list' (in random
-- order), then drains the loop and closes whatever still waits.
local function settle (list)
  for _ = 1, 3 do
    for i = #list, 2, -1 do
      local j = random(i)
      list[i], list[j] = list[j], list[i]
    end
    for _, co in ipairs(list) do
      if coroutine.status(co) == "suspended" then
        if random(2) == 1 then coroutine.close(co)
        else coroutine.resume(co, rv(), rv()) end
      end
    end
    system.run("ready")
  end
  for _, co in ipairs(list) do
    while coroutine.status(co) == "suspended" do coroutine.close(co) end
  end
  H.drain(10)
end

-- Groups -----------------------------------------------------------------

local packchars = {"<", ">", "=", "!", "!4", "!16", "b", "B", "h", "H",
  "i", "I", "i3", "I7", "i16", "i17", "i0", "l", "L", "j", "J", "T", "f",
  "d", "n", "s", "s1", "s2", "s9", "z", "x", "X", "Xi4", "X8", "c", "c0",
  "c3", "c99999999999", " ", "i4", "q", "!0", "%", "s0"}

local function randformat ()
  local t = {}
  for i = 1, random(0, 6) do t[i] = pick(packchars) end
  return table.concat(t)
end

H.case("memory functions with random arguments", function ()
  seed(1)
  local names = functions(memory)
  for _ = 1, rounds(40000) do
    local m = randmemory(random(4) == 1 and nil or
                         pick{"fixed", "resizable"})
    local name = pick(names)
    local args = randargs(6, m)
    if name == "pack" and args.n >= 2 then
      args[2] = randformat()
    elseif name == "unpack" and args.n >= 2 then
      args[2] = randformat()
    elseif (name == "create" or name == "resize") then
      -- sizes stay small enough to allocate quickly; the extremes still
      -- come through (math.maxinteger, 2^63 and such)
      for i = 1, args.n do
        local v = args[i]
        -- (under ASan a request past 1 TiB aborts instead of failing)
        if type(v) == "number" and v > 1 << 20 and
           (v < math.maxinteger - 1 or os.getenv("COUTIL_SANITIZER")) then
          args[i] = 1 << 20
        end
      end
    end
    try(memory[name], args)
    local r = random(8)
    if r == 1 then pcall(function () return #m end)
    elseif r == 2 then pcall(tostring, m)
    elseif r == 3 then pcall(function () return m .. rv() end)
    elseif r == 4 then pcall(function () return rv() .. m end)
    elseif r == 5 then pcall(function () return m[rv()] end)
    elseif r == 6 then pcall(function () m[rv()] = rv() end)
    end
  end
end)

local uriparts = {"127", "0", "1", "255", "256", "999999", "4294967296",
  ".", ":", "::", "[", "]", "ffff", "g", "-", "+", "%", "0x7f", " ", "\0",
  "65535", "65536", "-1", "80", "::ffff:", "abc", "1.2.3.4", "[::1]"}

local function randuri ()
  if random(5) == 1 then return rv() end
  local t = {}
  for i = 1, random(0, 8) do t[i] = pick(uriparts) end
  return table.concat(t)
end

H.case("system.address with random data, ports, modes and fields",
function ()
  seed(2)
  local fields = {"literal", "binary", "port", "type"}
  local made = {}
  for _ = 1, rounds(30000) do
    local r = random(4)
    local ok, a
    if r == 1 then
      ok, a = try(system.address, randargs(5))
    else
      local args = {n = random(1, 4), pick{"ipv4", "ipv6", "ipv4", rv()}}
      args[2] = randuri()
      args[3] = random(2) == 1 and pick(ints) or rv()
      args[4] = random(2) == 1 and pick{"t", "b", "", "~", "tb", "bt"}
                                 or rv()
      if args[4] == "b" and random(2) == 1 then
        args[2] = string.rep("\1", pick{0, 3, 4, 5, 15, 16, 17})
      end
      ok, a = try(system.address, args)
    end
    if ok and type(a) == "userdata" then
      made[#made % 8 + 1] = a
      local n = random(0, 4)
      for _ = 1, n do
        local k = random(4) > 1 and pick(fields) or rv()
        local v = rv()
        if k == "port" and random(2) == 1 then v = pick(ints)
        elseif k == "literal" and random(2) == 1 then v = randuri()
        elseif k == "binary" and random(2) == 1 then
          v = string.rep("\2", random(0, 20))
        end
        pcall(function () a[k] = v end)
        pcall(function () return a[k] end)
      end
      pcall(tostring, a)
      local other = made[random(#made)]
      pcall(function () return a == other end)
    end
  end
end)

-- An event, mutex or promise argument: nil (an error), one of the
-- group's, or a fresh collectable value. Never a permanent value such as
-- 5 or "x": the manual keeps a waiter on a value until that value is
-- garbage, and a closed waiter on a permanent value lingers until the
-- next emission on it, which would fail the harness's collection check.
local function evarg (evs)
  local r = random(6)
  if r == 1 then return nil
  elseif r == 2 then return {}
  elseif r == 3 then return randmemory()
  else return pick(evs) end
end

-- Calls a random function of a random synchronisation module.
local function anysync (evs)
  local args = randargs(4)
  local mod = pick{event, queued, mutex, promise, spawn}
  if mod ~= spawn then  -- every argument may be awaited on
    for i = 1, args.n do args[i] = evarg(evs) end
  end
  return mod[pick(functions(mod))](table.unpack(args, 1, args.n))
end

local function awaitop (evs, proms, mtxs)
  local r = random(16)
  local e = pick(evs)
  if r == 1 then return event.await(e)
  elseif r == 2 then
    return event.awaitall(pick(evs), pick(evs), evarg(evs))
  elseif r == 3 then
    return event.awaitany(pick(evs), evarg(evs), pick(evs))
  elseif r == 4 then return queued.await(e)
  elseif r == 5 then return queued.awaitall(pick(evs), evarg(evs))
  elseif r == 6 then return queued.awaitany(evarg(evs), pick(evs))
  elseif r == 7 then return mutex.lock(pick(mtxs))
  elseif r == 8 then return mutex.unlock(pick(mtxs))
  elseif r == 9 then return pick(proms)[1]()
  elseif r == 10 then
    return promise.awaitall(pick(proms)[1], pick(proms)[1], evarg(evs))
  elseif r == 11 then return promise.awaitany(pick(proms)[1], evarg(evs))
  elseif r == 12 then return system.suspend(shortsecs())
  elseif r == 13 then
    return spawn.catch(rv(), function (...)
      return event.await(pick(evs)), ...
    end, rv())
  elseif r == 14 then
    return spawn.trap(function () end, function () error(rv()) end)
  elseif r == 15 then return coroutine.yield(rv())
  else return anysync(evs) end
end

local function emitop (evs, proms, mtxs)
  local r = random(10)
  if r == 1 then return event.emitall(pick(evs), rv(), rv())
  elseif r == 2 then return event.emitone(pick(evs), rv())
  elseif r == 3 then return queued.emitall(pick(evs), rv())
  elseif r == 4 then return queued.emitone(pick(evs), rv(), rv())
  elseif r == 5 then return pick(proms)[2](rv(), rv())
  elseif r == 6 then return mutex.unlock(pick(mtxs))
  elseif r == 7 then
    return event.pending(pick(evs)), queued.pending(pick(evs)),
           queued.isqueued(pick(evs)), mutex.islocked(pick(mtxs)),
           mutex.ownlock(pick(mtxs))
  elseif r == 8 then
    return promise.onlypending(pick(proms)[1], evarg(evs)),
           promise.pickready(pick(proms)[1], evarg(evs))
  elseif r == 9 then return system.run(pick{"step", "ready"})
  else return anysync(evs) end
end

H.case("events, queues, mutexes, promises and spawn in random order",
function ()
  seed(3)
  for _ = 1, rounds(300) do
    -- only collectable event values: a queued emission on a permanent
    -- value (1, "ev") rightly keeps its values until someone awaits it
    local evs = {H.track({}), H.track({}), H.track(function () end)}
    local mtxs = {H.track({}), H.track({}), evs[1]}
    local proms = {}
    for i = 1, 3 do
      local p, f = promise.create()
      proms[i] = {H.track(p), f}
    end
    local cos = {}
    for i = 1, random(1, 8) do
      local co = H.track(coroutine.create(function ()
        for _ = 1, random(1, 6) do pcall(awaitop, evs, proms, mtxs) end
      end))
      cos[i] = co
      coroutine.resume(co)
    end
    for _ = 1, random(0, 12) do
      local r = random(4)
      if r == 1 then
        local co = pick(cos)
        if coroutine.status(co) == "suspended" then
          coroutine.resume(co, rv(), rv())
        end
      elseif r == 2 then
        local co = pick(cos)
        if coroutine.status(co) == "suspended" then coroutine.close(co) end
      elseif r == 3 then
        pcall(awaitop, evs, proms, mtxs)  -- from the main chunk
      else
        pcall(emitop, evs, proms, mtxs)
      end
    end
    settle(cos)
    for _, e in ipairs(evs) do event.emitall(e) queued.emitall(e) end
    H.drain(10)
  end
end)

H.case("system.suspend, time and run argument checking", function ()
  seed(4)
  local names = {"suspend", "time", "run", "nanosecs", "isrunning", "halt",
                 "resume"}
  for _ = 1, rounds(200) do
    local cos = {}
    for i = 1, random(0, 6) do
      local co = H.track(coroutine.create(function ()
        for _ = 1, random(1, 4) do
          local s, m = shortsecs(), rv()
          if random(3) == 1 then
            pcall(system.suspend, pick{0, 0.001, 1e-6}, m)
          else
            pcall(system.suspend, s, m)
          end
        end
      end))
      cos[i] = co
      coroutine.resume(co)
    end
    for _ = 1, random(0, 10) do
      local name = pick(names)
      local args = randargs(4)
      if name == "suspend" then
        -- from the main chunk: only '~' modes may block, so keep them short
        if args.n >= 1 then args[1] = shortsecs() end
      elseif name == "run" then
        if args.n >= 1 and random(2) == 1 then
          args[1] = pick{"step", "ready", "loop", "x", "", "steps", "\0",
                         "loop\0", "~"}
        end
        -- 'loop' waits for the suspended coroutines: they are short
      elseif name == "resume" then
        if args.n >= 1 and random(2) == 1 then args[1] = pick(cos) end
      end
      try(system[name], args)
    end
    settle(cos)
  end
end)

H.case("channel functions and system.awaitch argument errors", function ()
  seed(5)
  local names = functions(channel)
  local chnames = {"fuzz1", "fuzz2", "", "fuzz\0x", "fuzz1"}
  for _ = 1, rounds(400) do
    local chs = {}
    for i = 1, random(1, 4) do
      local ok, ch = pcall(channel.create, pick(chnames))
      if ok and ch then chs[#chs + 1] = H.track(ch) end
    end
    extras = chs
    local cos = {}
    for i = 1, random(0, 5) do
      local co = H.track(coroutine.create(function ()
        for _ = 1, random(1, 3) do
          local args = randargs(5, pick(chs))
          if args.n >= 2 and random(2) == 1 then
            args[2] = pick{"in", "out", "any", nil, "x", "~in", "in\0"}
          end
          -- a blocking awaitch would wait for a partner forever
          if args[2] ~= nil and type(args[2]) == "string" and
             args[2]:find("~", 1, true) then args[2] = "x" end
          try(system.awaitch, args)
        end
      end))
      cos[i] = co
      coroutine.resume(co)
    end
    for _ = 1, random(0, 8) do
      local name = pick(names)
      local args = randargs(5, pick(chs))
      if name == "getnames" and random(2) == 1 then
        args = {n = 1, {fuzz1 = rv(), fuzz2 = rv(), [1] = "fuzz1",
                        [randkey()] = rv()}}
      elseif name == "create" and args.n >= 1 and random(2) == 1 then
        args[1] = pick(chnames)
      end
      local ok, ch = try(channel[name], args)
      if name == "create" and ok and ch then H.track(ch) end
      if random(4) == 1 then
        try(system.awaitch, randargs(4, pick(chs)))  -- main chunk
      end
    end
    settle(cos)
    extras = {}
    for _, ch in ipairs(chs) do pcall(channel.close, ch) end
  end
end)

-- Socket arguments: strings that could name a file are always paths in
-- tmpdir (a local socket's bind creates one).
local pathn = 0
local function sockarg (forpath)
  local v = rv()
  if type(v) == "string" and forpath then
    local r = random(5)
    if r == 1 then return "" elseif r == 2 then return huge
    elseif r == 3 then return "\0fuzz" .. random(100)
    elseif r == 4 then return tmpdir .. "/\0z" end
    pathn = pathn + 1
    return tmpdir .. "/s" .. pathn
  end
  return v
end

H.case("sockets: constructors and methods with bad arguments", function ()
  seed(6)
  local types = {"stream", "passive", "datagram"}
  local domains = {"ipv4", "ipv6", "local", "share"}
  local addrs = {
    system.address("ipv4", "127.0.0.1", 0),
    system.address("ipv4", "127.0.0.1", 9),
    system.address("ipv4", "127.0.0.1", 65535),
    system.address("ipv6", "::1", 0),
    system.address("ipv6", "::1", 9),
  }
  local methods = {"bind", "close", "connect", "getaddress", "getdomain",
    "read", "setoption", "shutdown", "write", "accept", "listen"}
  for _ = 1, rounds(400) do
    local socks = {}
    for i = 1, random(1, 4) do
      local t, d = pick(types), pick(domains)
      if random(6) == 1 then t = rv() end
      if random(6) == 1 then d = rv() end
      local ok, s = pcall(system.socket, t, d)
      if ok and s then socks[#socks + 1] = H.track(s) end
    end
    extras = {pick(addrs), pick(addrs), socks[1] or addrs[1]}
    local cos = {}
    local function callmethod ()
      if #socks == 0 then return end
      local s = pick(socks)
      local name = pick(methods)
      local forpath = name == "bind" or name == "connect" or
                      name == "write"
      local args = {n = random(0, 5)}
      for i = 1, args.n do args[i] = sockarg(forpath) end
      if name == "bind" or name == "connect" then
        if random(2) == 1 then args[1] = pick(addrs) end
      elseif name == "read" and random(2) == 1 then
        args[1] = randmemory()
      elseif name == "setoption" and random(2) == 1 then
        args[1] = pick(words)
      elseif name == "getaddress" and random(2) == 1 then
        args[1] = pick{"this", "peer", "self", "x"}
        args[2] = random(2) == 1 and pick(addrs) or rv()
      elseif name == "write" and args.n >= 4 and random(2) == 1 then
        args[4] = pick(addrs)
      elseif name == "listen" and random(2) == 1 then
        args[1] = pick{0, 1, 128, -1, math.maxinteger, 1.5}
      end
      local f = s[name]
      if f == nil then f = s.close end
      table.insert(args, 1, s)
      args.n = args.n + 1
      return try(f, args)
    end
    for i = 1, random(0, 4) do
      local co = H.track(coroutine.create(function ()
        for _ = 1, random(1, 4) do callmethod() end
      end))
      cos[i] = co
      coroutine.resume(co)
    end
    for _ = 1, random(0, 8) do
      if random(3) == 1 then
        try(system.socket, randargs(3))
      else
        callmethod()  -- from the main chunk
      end
    end
    -- the sockets are closed before settle drains the loop: a shutdown
    -- awaited while a connect is pending never ends otherwise (see
    -- test/regress.lua)
    local early = random(2) == 1
    -- (close raises on a socket closed already: the calls above may have)
    if early then for _, s in ipairs(socks) do pcall(s.close, s) end end
    for _, co in ipairs(cos) do
      if coroutine.status(co) == "suspended" and random(2) == 1 then
        coroutine.close(co)
      end
    end
    for _, s in ipairs(socks) do pcall(s.close, s) end
    settle(cos)
    extras = {}
  end
  os.execute("rm -rf '" .. tmpdir .. "'")
end)

-- A random byte stream sent in random pieces (strings, memories, ranges
-- of memories) and read with random buffers (fixed and resizable, reused
-- or new, small ones filled from the socket's stash and large ones filled
-- directly or read at once), while the reader is resumed early, closed
-- and replaced by a new one, its memories resized and the collector
-- runs: every byte must arrive exactly once, in order, then the end of
-- file.
local stream = {}  -- byte k is k % 251: a shifted piece never matches
for k = 0, 250 do stream[k + 1] = string.char(k) end
stream = string.rep(table.concat(stream), 1200):sub(1, 300000)

H.case("streams: every byte once and in order under disruption", function ()
  seed(8)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  for round = 1, rounds(4) do
    local domain = pick{"ipv4", "local"}
    local where = domain == "ipv4" and system.address("ipv4", "127.0.0.1", 0)
                  or dir .. "/s" .. round
    local srv = H.track(assert(system.socket("passive", domain)))
    assert(srv:bind(where))
    assert(srv:listen(1))
    if domain == "ipv4" then assert(srv:getaddress("self", where)) end
    local total = random(0, #stream)
    local got, eof, sent = 0, false, false
    local cli, conn
    H.run(function ()
      local acc = coroutine.wrap(function () conn = H.track(srv:accept()) end)
      acc()
      cli = H.track(assert(system.socket("stream", domain)))
      assert(cli:connect(where))
      while not conn do system.suspend(0) end
      local writer = H.track(coroutine.create(function ()
        local at = 0
        while at < total do
          local n = math.min(total - at, pick{1, 7, 64, 1000, 16384, 20000,
                                              65536, 100000})
          local piece, r, ok, err = stream:sub(at + 1, at + n), random(3)
          if r == 1 then ok, err = cli:write(piece)
          elseif r == 2 then ok, err = cli:write(memory.create(piece))
          else
            local pad = random(0, 5)
            local m = memory.create(string.rep("#", pad) .. piece .. "##")
            ok, err = cli:write(m, pad + 1, pad + n)
          end
          assert(ok == true, err)
          at = at + n
          if random(8) == 1 then collectgarbage() end
        end
        assert(cli:shutdown())
        sent = true
      end))
      local bufs = {}
      local function newbuffer ()
        local size = pick{1, 5, 64, 4096, 16384, 16385, 65536, 80000}
        if random(2) == 1 then return memory.create(size + 2) end
        local m = memory.create()
        memory.resize(m, size + 2)
        return m
      end
      local function reader ()
        while true do
          local buf = bufs[random(#bufs + 1)] or newbuffer()
          bufs[random(3)] = buf
          local len = #buf - 2
          local n, err = conn:read(buf, 2, len + 1)
          if n == false then
            assert(err == "end of file", err)
            eof = true
            return
          elseif math.type(n) == "integer" then
            assert(n >= 1 and n <= len, n)
            assert(memory.tostring(buf, 2, n + 1) ==
                   stream:sub(got + 1, got + n), "bytes out of order")
            got = got + n
          end  -- else resumed early: read on
        end
      end
      local rd = H.track(coroutine.create(reader))
      coroutine.resume(writer)
      coroutine.resume(rd)
      for _ = 1, 100000 do
        if eof then break end
        system.suspend(0)
        local r = random(5)
        if coroutine.status(rd) == "suspended" then
          if r == 1 then
            coroutine.resume(rd, "early")
          elseif r == 2 then
            coroutine.close(rd)
            rd = H.track(coroutine.create(reader))
            coroutine.resume(rd)
          end
        end
        if r == 3 then collectgarbage()
        elseif r == 4 and #bufs > 0 then  -- "in use" while read into
          pcall(memory.resize, bufs[random(#bufs)], pick{3, 100, 70000})
        end
      end
      assert(eof and sent, "the stream did not end")
      assert(got == total, got .. " of " .. total .. " bytes")
      cli:close()
      conn:close()
      srv:close()
    end, 60)
  end
  os.execute("rm -rf '" .. dir .. "'")
end)

H.case("threads and coroutine loading with bad arguments", function ()
  seed(7)
  local small = {-1, 0, 1, 2, math.mininteger, math.maxinteger, 1.5,
                 0 / 0, 1 / 0, -0.0, 2.0 ^ 63, "1", "x"}
  local names = functions(threads)
  for _ = 1, rounds(300) do
    local pools = {}
    for _ = 1, random(0, 2) do
      local ok, p = pcall(threads.create, random(3) == 1 and
                          pick(small) or random(0, 2))
      if ok and p then pools[#pools + 1] = H.track(p) end
    end
    extras = pools
    for _ = 1, random(1, 6) do
      local name = pick(names)
      local args = randargs(4, pick(pools))
      for i = 2, args.n do
        if type(args[i]) == "number" and random(2) == 1 then
          args[i] = pick(small)
        elseif math.type(args[i]) == "integer" and args[i] > 4 then
          args[i] = 4  -- resize to a huge count would start the threads
        end
      end
      if name == "create" then
        args = {n = 1, pick(small)}
      elseif name == "count" and args.n >= 2 and random(2) == 1 then
        args[2] = pick{"nrpsea", "x", "", "n\0", "eeee", "~"}
      elseif name == "dostring" and args.n >= 2 and random(2) == 1 then
        args[2] = pick{"return", "return ...", "error'x'", "x x", "\27Lua",
                       "local a = ... return a"}
        if args.n >= 4 then args[4] = pick{"t", "b", "bt", "x", "~"} end
      elseif name == "dofile" and args.n >= 2 then
        args[2] = pick{"/nonexistent/fuzz.lua", "", tmpdir .. "/none"}
      end
      try(threads[name], args)
    end
    local cnames = functions(cocoutil)
    for _ = 1, random(0, 3) do
      local name = pick(cnames)
      local args = randargs(3)
      if name == "load" and args.n >= 1 and random(2) == 1 then
        args[1] = pick{"return 1", "x x", "coroutine.yield()", "\27Lua"}
      elseif name == "loadfile" and args.n >= 1 then
        args[1] = pick{"/nonexistent/fuzz.lua", tmpdir .. "/none"}
      end
      local ok, co = try(cocoutil[name], args)
      if ok and type(co) == "userdata" then
        pcall(cocoutil.status, co)
        pcall(system.resume, co, rv())
        pcall(cocoutil.close, co)
      end
    end
    extras = {}
    for _, p in ipairs(pools) do pcall(threads.close, p) end
    H.drain(10)
  end
end)

io.stdout:write("fuzz: ", calls, " calls\n")
H.done()
