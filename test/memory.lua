-- test/memory.lua: the `memory` module (spec memory-module.md): creation,
-- the three kinds, ranges corrected like string.sub, writes, search,
-- pack/unpack checked against string.pack/unpack, metamethods, closing,
-- collection and loading next to coutil.system.

local H = require "helpers"
-- this file is test/memory.lua too: look for the module in C paths only
package.path = package.path:gsub("test/%?%.lua;?", "")
local memory = require "memory"

local maxi, mini = math.maxinteger, math.mininteger

local badarg = H.badarg

-- A new resizable memory holding 's'.
local function resizable (s)
  local m = memory.create()
  m:resize(#s, s)
  return m
end

-- A resizable memory closed as a to-be-closed variable.
local function closed ()
  local m = memory.create()
  do
    local c <close> = m
    c:resize(4, "abcd")
  end
  return m
end

-- --- create --------------------------------------------------------------

H.case("create() is a resizable memory of size 0", function ()
  local m = H.track(memory.create())
  H.same({"resizable"}, memory.type(m))
  H.same({0}, #m)
  H.same({""}, tostring(m))
end)

H.case("create(nil) is like create()", function ()
  H.same({"resizable", 0}, memory.type(memory.create(nil)),
         #memory.create(nil))
end)

H.case("create(n) gives n zero bytes", function ()
  local m = H.track(memory.create(5))
  H.same({"fixed"}, memory.type(m))
  H.same({5}, #m)
  H.same({0, 0, 0, 0, 0}, m:get(1, -1))
end)

H.case("create(0) and create(3.0)", function ()
  H.same({0}, #memory.create(0))
  H.same({"fixed"}, memory.type(memory.create(0)))
  H.same({3}, #memory.create(3.0))
end)

H.case("create rejects negative and non-integer sizes", function ()
  badarg(1, "invalid size", memory.create, -1)
  badarg(1, "invalid size", memory.create, mini)
  badarg(1, "number has no integer representation", memory.create, 1.5)
  H.raises("", memory.create, maxi)  -- far too big: a memory error
end)

H.case("create rejects other types", function ()
  badarg(1, "number, string or memory expected, got boolean",
         memory.create, true)
  badarg(1, "number, string or memory expected, got table",
         memory.create, {})
  badarg(1, "number, string or memory expected, got FILE*",
         memory.create, io.stdout)
end)

H.case("create(s) copies a string", function ()
  local m = memory.create("hello")
  H.same({"fixed"}, memory.type(m))
  H.same({"hello"}, tostring(m))
  H.same({"\0a\0"}, tostring(memory.create("\0a\0")))
end)

H.case("create(s, i, j) takes the range like string.sub", function ()
  local s = "abcdef"
  local ranges = {
    {2}, {2, 3}, {-3}, {-3, -2}, {0}, {0, 0}, {10}, {3, 2}, {-100, 100},
    {1, -7}, {7, 6}, {6, 6}, {maxi}, {mini, maxi}, {maxi, mini}, {-1, -1},
  }
  for _, r in ipairs(ranges) do
    local m = memory.create(s, r[1], r[2])
    assert(memory.type(m) == "fixed")
    assert(tostring(m) == s:sub(r[1], r[2] or -1),
           "range " .. tostring(r[1]) .. ", " .. tostring(r[2]))
  end
end)

H.case("create(m, i, j) copies a memory's bytes", function ()
  local src = resizable("abcdef")
  local m = memory.create(src, 2, -2)
  H.same({"fixed", "bcde"}, memory.type(m), tostring(m))
  src:set(2, 90)
  H.same({"bcde"}, tostring(m))  -- an independent copy
  H.same({"aZcdef"}, tostring(memory.create(src)))
  H.same({"cd"}, tostring(memory.create(memory.create("abcd"), 3)))
end)

H.case("create from a closed memory is empty", function ()
  local m = memory.create(closed())
  H.same({"fixed", 0}, memory.type(m), #m)
end)

H.case("create checks i and j", function ()
  badarg(2, "number has no integer representation", memory.create, "ab", 1.5)
  badarg(3, "number expected, got string", memory.create, "ab", 1, "x")
end)

-- --- type and len --------------------------------------------------------

H.case("type of each kind", function ()
  H.same({"fixed"}, memory.type(memory.create(1)))
  H.same({"resizable"}, memory.type(memory.create()))
  H.same({"other"}, memory.type(closed()))
end)

H.case("type of non-memories is nil", function ()
  for _, v in ipairs{"abc", 1, 2.5, true, {}, print, io.stdout,
                     coroutine.create(print)} do
    H.same({nil, n = 1}, memory.type(v))
  end
  H.same({nil, n = 1}, memory.type(nil))
end)

H.case("type needs an argument", function ()
  badarg(1, "value expected", memory.type)
end)

H.case("a fixed memory of a resizable's size is still fixed", function ()
  -- a resizable memory cannot be forged from Lua with a fixed one's bytes
  for n = 0, 64 do
    assert(memory.type(memory.create(n)) == "fixed")
  end
end)

H.case("a resizable memory with a foreign marker is refused", function ()
  -- as if made by a build with another layout: not read as anything
  local r = memory.create()  -- empty: nothing to free when collected
  assert(debug.setuservalue(r, 99, 1) == r)
  H.same({nil, n = 1}, memory.type(r))
  badarg(1, "memory expected, got char[]", memory.len, r)
  assert(debug.setuservalue(r, true, 1) == r)
  H.same({nil, n = 1}, memory.type(r))
  -- fixed memories have no user value to forge a marker with
  local f = memory.create(64)
  H.same({nil, n = 1}, debug.setuservalue(f, 2, 1))
  H.same({"fixed"}, memory.type(f))
end)

H.case("len and # of each kind", function ()
  local r = memory.create()
  H.same({0, 0}, memory.len(r), #r)
  r:resize(10)
  H.same({10, 10}, memory.len(r), #r)
  H.same({4, 4}, memory.len(memory.create(4)), #memory.create("abcd"))
  H.same({0, 0}, memory.len(closed()), #closed())
end)

H.case("len rejects non-memories", function ()
  badarg(1, "memory expected, got string", memory.len, "abc")
  badarg(1, "memory expected, got no value", memory.len)
  badarg(1, "memory expected, got table", memory.len, {})
end)

-- --- resize --------------------------------------------------------------

H.case("resize grows with zeros", function ()
  local m = H.track(resizable("ab"))
  H.same({}, m:resize(5))
  H.same({"ab\0\0\0"}, tostring(m))
end)

H.case("resize shrinks keeping the first bytes", function ()
  local m = resizable("abcdef")
  m:resize(3)
  H.same({"abc", 3}, tostring(m), #m)
  m:resize(5)
  H.same({"abc\0\0"}, tostring(m))
end)

-- resize steps: new size, pattern, the bytes expected after it
local resizesteps = {
  {7, "xyz", "xyzxyzx"}, {9, "12", "xyzxyzx12"}, {10, "q", "xyzxyzx12q"},
  {12, function () return memory.create("ab") end, "xyzxyzx12qab"},
  {15, function () return resizable("XY") end, "xyzxyzx12qabXYX"},
  {16, "", "xyzxyzx12qabXYX\0"},
  {17, function () return memory.create(0) end, "xyzxyzx12qabXYX\0\0"},
  {3, "zz", "xyz"}, {5, nil, "xyz\0\0"},
}

H.case("resize fills new bytes by repeating the pattern", function ()
  local m = memory.create()
  for _, step in ipairs(resizesteps) do
    local pattern = step[2]
    if type(pattern) == "function" then pattern = pattern() end
    m:resize(step[1], pattern)
    assert(tostring(m) == step[3], step[3])
  end
end)

H.case("resize with the memory itself repeats its old bytes", function ()
  local m = resizable("abc")
  m:resize(8, m)
  H.same({"abcabcab"}, tostring(m))
  local e = memory.create()
  e:resize(3, e)  -- nothing to repeat: zeros
  H.same({"\0\0\0"}, tostring(e))
end)

H.case("resize to 0 and back, and to the same size", function ()
  local m = resizable("abc")
  m:resize(0)
  H.same({0, ""}, #m, tostring(m))
  m:resize(0)
  m:resize(2, "z")
  H.same({"zz"}, tostring(m))
  m:resize(2, "q")
  H.same({"zz"}, tostring(m))
end)

H.case("resize refuses fixed, closed and non-memories", function ()
  badarg(1, "resizable memory expected, got fixed", memory.resize,
         memory.create(2), 4)
  badarg(1, "resizable memory expected, got other", memory.resize,
         closed(), 4)
  badarg(1, "resizable memory expected, got string", memory.resize, "ab", 4)
  badarg(1, "resizable memory expected, got no value", memory.resize)
end)

H.case("resize checks the size and the pattern first", function ()
  local m = resizable("ab")
  badarg(2, "invalid size", memory.resize, m, -1)
  badarg(2, "number has no integer representation", memory.resize, m, 2.5)
  badarg(2, "number expected, got no value", memory.resize, m)
  badarg(3, "string or memory expected, got table", memory.resize, m, 9, {})
  H.same({"ab"}, tostring(m))  -- untouched
end)

-- --- diff ----------------------------------------------------------------

H.case("diff of equal contents", function ()
  H.same({nil, false}, memory.diff("abc", "abc"))
  H.same({nil, false}, memory.diff("", ""))
  H.same({nil, false}, memory.diff(memory.create("abc"), resizable("abc")))
  H.same({nil, false}, memory.diff(closed(), ""))
end)

H.case("diff gives the first differing byte and the order", function ()
  H.same({3, true}, memory.diff("abc", "abd"))
  H.same({3, false}, memory.diff("abd", "abc"))
  H.same({1, false}, memory.diff(memory.create("b"), "a"))
  H.same({2, true}, memory.diff("a\1", memory.create("a\255")))
end)

H.case("diff when one is a prefix of the other", function ()
  H.same({3, true}, memory.diff("ab", "abc"))
  H.same({3, false}, memory.diff(memory.create("abc"), "ab"))
  H.same({1, true}, memory.diff("", "x"))
  H.same({1, false}, memory.diff("x", memory.create(0)))
end)

H.case("diff agrees with string comparison", function ()
  local words = {"", "a", "ab", "b", "ba", "\0", "\0\0", "\255", "abc"}
  for _, a in ipairs(words) do
    for _, b in ipairs(words) do
      local _, less = memory.diff(memory.create(a), b)
      assert(less == (a < b), a .. " < " .. b)
    end
  end
end)

H.case("diff rejects other types", function ()
  badarg(1, "string or memory expected, got table", memory.diff, {}, "a")
  badarg(2, "string or memory expected, got no value", memory.diff, "a")
  badarg(2, "string or memory expected, got boolean", memory.diff, "a", true)
end)

-- --- tostring ------------------------------------------------------------

H.case("tostring of the whole memory", function ()
  local m = memory.create("a\0b")
  H.same({"a\0b"}, memory.tostring(m))
  H.same({"a\0b"}, tostring(m))
  H.same({""}, memory.tostring(memory.create()))
end)

H.case("tostring ranges like string.sub", function ()
  local s = "0123456789"
  local m = memory.create(s)
  for _, i in ipairs{mini, -11, -10, -3, -1, 0, 1, 2, 9, 10, 11, maxi} do
    for _, j in ipairs{mini, -11, -10, -3, -1, 0, 1, 2, 9, 10, 11, maxi} do
      assert(m:tostring(i, j) == s:sub(i, j), i .. ", " .. j)
    end
    assert(m:tostring(i) == s:sub(i), i)
  end
end)

H.case("tostring of a closed memory is empty", function ()
  H.same({"", ""}, memory.tostring(closed()), tostring(closed()))
  H.same({""}, memory.tostring(closed(), 1, 10))
end)

H.case("tostring checks its arguments", function ()
  badarg(1, "memory expected, got string", memory.tostring, "abc")
  badarg(2, "number has no integer representation", memory.tostring,
         memory.create(2), 0.5)
end)

-- --- get -----------------------------------------------------------------

H.case("get one byte; j defaults to i", function ()
  local m = memory.create("abc")
  H.same({98}, m:get(2))
  H.same({99}, m:get(-1))
  H.same({97}, m:get(-3))
  H.same({97}, m:get(0))  -- like string.byte
end)

H.case("get ranges like string.byte", function ()
  local s = "\0\1\127\128\255xyz"
  local m = memory.create(s)
  for _, i in ipairs{mini, -9, -8, -2, 0, 1, 3, 8, 9, maxi} do
    for _, j in ipairs{mini, -9, -8, -2, 0, 1, 3, 8, 9, maxi} do
      H.same(H.pack(s:byte(i, j)), m:get(i, j))
    end
  end
end)

H.case("get of an empty range gives nothing", function ()
  local m = memory.create("abc")
  H.same({n = 0}, m:get(3, 2))
  H.same({n = 0}, m:get(4))
  H.same({n = 0}, m:get(maxi))
  H.same({n = 0}, memory.get(memory.create(), 1))
  H.same({n = 0}, memory.get(closed(), 1, -1))
end)

H.case("get of too many bytes raises", function ()
  local m = memory.create(2000000)
  H.raises("memory slice too long", m.get, m, 1, -1)
  H.same({0}, select("#", m:get(1, 1000)) == 1000 and 0 or 1)
end)

H.case("get checks its arguments", function ()
  badarg(1, "memory expected, got string", memory.get, "abc", 1)
  badarg(2, "number expected, got no value", memory.get, memory.create(1))
  badarg(2, "number has no integer representation", memory.get,
         memory.create(1), 1.5)
  badarg(3, "number expected, got table", memory.get, memory.create(1), 1, {})
  local err = H.raises("", function () return memory.get("abc", 1) end)
  assert(err:find("bad argument #1 to 'get' (memory expected, got string)",
                  1, true), err)
end)

-- --- set -----------------------------------------------------------------

H.case("set one and several bytes", function ()
  local m = memory.create(4)
  H.same({}, m:set(2, 65))
  H.same({"\0A\0\0"}, tostring(m))
  m:set(1, 1, 2, 3, 4)
  H.same({1, 2, 3, 4}, m:get(1, -1))
end)

H.case("set ignores values past the end", function ()
  local m = memory.create(3)
  m:set(2, 7, 8, 9, 10, 11)
  H.same({0, 7, 8}, m:get(1, -1))
end)

H.case("set with negative, zero and huge indices", function ()
  local m = memory.create(3)
  m:set(-1, 9)
  m:set(-3, 7)
  H.same({7, 0, 9}, m:get(1, -1))
  m:set(0, 1)     -- corrected to 1
  m:set(-10, 2)   -- corrected to 1
  m:set(4, 5)     -- past the end: nothing
  m:set(maxi, 5)
  m:set(mini, 3)
  H.same({3, 0, 9}, m:get(1, -1))
end)

H.case("set with no values changes nothing", function ()
  local m = memory.create("ab")
  m:set(1)
  H.same({"ab"}, tostring(m))
end)

H.case("set takes integers in 0..255 only, all or nothing", function ()
  local m = memory.create("abc")
  badarg(4, "value out of range", memory.set, m, 1, 65, 256)
  badarg(3, "value out of range", memory.set, m, 1, -1)
  badarg(4, "number has no integer representation", memory.set, m, 1, 65, 1.5)
  badarg(3, "number expected, got string", memory.set, m, 1, "x")
  badarg(5, "value out of range", memory.set, m, 3, 1, 1, 300)  -- past end
  H.same({"abc"}, tostring(m))
  m:set(1, 255.0, "66")  -- integral float and numeric string are integers
  H.same({255, 66, 99}, m:get(1, -1))
end)

H.case("set checks the memory and the index", function ()
  badarg(1, "memory expected, got string", memory.set, "abc", 1, 1)
  badarg(2, "number expected, got no value", memory.set, memory.create(1))
  badarg(2, "number has no integer representation", memory.set,
         memory.create(1), 0.5, 1)
end)

H.case("set on a resizable memory and on a closed one", function ()
  local m = resizable("abc")
  m:set(2, 66)
  H.same({"aBc"}, tostring(m))
  local c = closed()
  c:set(1, 1, 2, 3)
  H.same({0, "other"}, #c, memory.type(c))
end)

-- --- find ----------------------------------------------------------------

H.case("find gives the position of the bytes or nil", function ()
  local m = memory.create("hello world")
  H.same({3}, m:find("ll"))
  H.same({1}, m:find("hello"))
  H.same({7}, m:find("world"))
  H.same({nil, n = 1}, m:find("xyz"))
  H.same({nil, n = 1}, m:find("hello world!"))
  H.same({5}, m:find("o"))
end)

H.case("find is plain: no patterns", function ()
  local m = memory.create("a.b%c")
  H.same({2}, m:find("."))
  H.same({4}, m:find("%"))
  H.same({nil, n = 1}, m:find("a.c"))
end)

H.case("find within i..j", function ()
  local m = memory.create("abcabcabc")
  H.same({4}, m:find("abc", 2))
  H.same({7}, m:find("abc", -3))
  H.same({nil, n = 1}, m:find("abc", 2, 5))  -- would end past j
  H.same({4}, m:find("abc", 2, 6))
  H.same({nil, n = 1}, m:find("a", 5, 4))
  H.same({1}, m:find("a", mini, maxi))
  H.same({nil, n = 1}, m:find("a", maxi))
end)

H.case("find with an offset into s", function ()
  local m = memory.create("abcdef")
  H.same({3}, m:find("xcd", 1, -1, 2))
  H.same({6}, m:find("xyzf", 1, -1, -1))
  H.same({1}, m:find("abc", 1, -1, 0))       -- corrected to 1
  H.same({1}, m:find("abc", 1, -1, mini))    -- corrected to 1
  H.same({2}, m:find("xbc", 1, -1, -2))
end)

H.case("find of empty bytes is the start of the range", function ()
  local m = memory.create("abc")
  H.same({1}, m:find(""))
  H.same({2}, m:find("", 2))
  H.same({4}, m:find("", 4))
  H.same({nil, n = 1}, m:find("", 5))
  H.same({3}, m:find("", 3, 2))
  H.same({nil, n = 1}, m:find("", 3, 1))
  H.same({2}, m:find("abc", 2, -1, 4))       -- offset past s: empty
  H.same({1}, memory.find(memory.create(), ""))
  H.same({1}, memory.find(closed(), ""))
  H.same({nil, n = 1}, memory.find(closed(), "a"))
end)

H.case("find with a memory or a number to look for", function ()
  local m = memory.create("x12y")
  H.same({2}, m:find(memory.create("12")))
  H.same({2}, m:find(resizable("1")))
  H.same({2}, m:find(12))
  H.same({1}, m:find(m))
end)

H.case("find checks its arguments", function ()
  local m = memory.create("abc")
  badarg(1, "memory expected, got string", memory.find, "abc", "a")
  badarg(2, "string or memory expected, got no value", memory.find, m)
  badarg(3, "number has no integer representation", memory.find, m, "a", 1.5)
  badarg(4, "number expected, got table", memory.find, m, "a", 1, {})
  badarg(5, "number has no integer representation", memory.find, m, "a",
         1, 2, 0.5)
end)

-- --- fill ----------------------------------------------------------------

H.case("fill the whole memory with a string", function ()
  local m = memory.create(7)
  H.same({}, m:fill("abc"))
  H.same({"abcabca"}, tostring(m))
end)

H.case("fill a range, from an offset of the pattern", function ()
  local m = memory.create("........")
  m:fill("xy", 2, 4)
  H.same({".xyx...."}, tostring(m))
  m:fill("abc", -3, -1, 2)
  H.same({".xyx.bcb"}, tostring(m))
  m:fill("12345", 1, 2, -2)
  H.same({"45yx.bcb"}, tostring(m))
  m:fill("Q", 0, 1)
  H.same({"Q5yx.bcb"}, tostring(m))
end)

H.case("fill with a number sets every byte", function ()
  local m = memory.create(4)
  m:fill(255)
  H.same({255, 255, 255, 255}, m:get(1, -1))
  m:fill(0, 2, 3)
  H.same({255, 0, 0, 255}, m:get(1, -1))
  m:fill(65, -1, -1, 99)  -- the offset means nothing for a number
  H.same({"\255\0\0A"}, tostring(m))
end)

H.case("fill with a number outside 0..255 raises", function ()
  local m = memory.create("ab")
  badarg(2, "value out of range", memory.fill, m, 256)
  badarg(2, "value out of range", memory.fill, m, -1)
  badarg(2, "number has no integer representation", memory.fill, m, 0.5)
  H.same({"ab"}, tostring(m))
end)

H.case("fill of an empty range or with empty bytes does nothing", function ()
  local m = memory.create("abc")
  m:fill("x", 3, 2)
  m:fill("x", 4)
  m:fill("x", maxi)
  m:fill("")
  m:fill("xyz", 1, -1, 4)
  m:fill(memory.create())
  m:fill(0, 2, 1)
  H.same({"abc"}, tostring(m))
end)

H.case("fill with a memory, itself included", function ()
  local m = memory.create("abcdef")
  m:fill(resizable("XY"), 5)
  H.same({"abcdXY"}, tostring(m))
  m:fill(m, 3)  -- overlap: the pattern is taken before the fill
  H.same({"ababcd"}, tostring(m))
  m:fill(m, 2, -1, 5)
  H.same({"acdcdc"}, tostring(m))
  local r = resizable("123456")
  r:fill(r, 1, -1, 4)
  H.same({"456456"}, tostring(r))
end)

H.case("fill on a closed memory does nothing", function ()
  local c = closed()
  c:fill("abc")
  c:fill(1)
  H.same({0, "other"}, #c, memory.type(c))
end)

H.case("fill checks its arguments", function ()
  local m = memory.create("abc")
  badarg(1, "memory expected, got string", memory.fill, "abc", "x")
  badarg(2, "string or memory expected, got no value", memory.fill, m)
  badarg(2, "string or memory expected, got table", memory.fill, m, {})
  badarg(3, "number has no integer representation", memory.fill, m, "x", 1.5)
  badarg(5, "number expected, got string", memory.fill, m, "x", 1, 2, "o")
end)

-- --- pack ----------------------------------------------------------------

-- formats and values string.pack accepts, to compare with
local packcases = {
  {"b", -128}, {"B", 255}, {"h", -2}, {">H", 65535}, {"<l", -123456789},
  {">L", 1 << 40}, {"j", mini}, {">J", -1}, {"T", 12345}, {"i", -7},
  {">i3", -8388608}, {"<I3", 16777215}, {"i16", -1}, {">I16", maxi},
  {"<i9", mini}, {">i1", 127}, {"f", 0.5}, {">d", -1.25}, {"<n", math.pi},
  {"s", "hello"}, {">s1", "abc"}, {"<s2", ""}, {"z", "zz"}, {"z", ""},
  {"c5", "ab"}, {"c0", ""}, {"c3", "xyz"}, {"xb", 1}, {"bxxB", 1, 2},
  {"<!4 b i4", 1, 2}, {"!8 b d", 1, 2.5}, {"! b j", 1, 2},
  {">!2 b h b i8", 1, 2, 3, 4}, {"!4 b Xi4 b", 1, 2}, {"bXi4b", 1, 2},
  {"!b Xh b", 1, 2}, {"= i2 < i2 > i2", 1, 2, 3}, {"!2 b s4", 1, "ab"},
  {"  b  ", 5}, {"", }, {"!16 b i16", 1, -2}, {"!4 z i", "abc", 9},
}

-- options with a value maker each, combined at random below
local randomopts = {
  {"b", function () return math.random(-128, 127) end},
  {"H", function () return math.random(0, 65535) end},
  {"i3", function () return math.random(-8388608, 8388607) end},
  {"j", function () return math.random(mini, maxi) end},
  {"I7", function () return math.random(0, (1 << 56) - 1) end},
  {"i12", function () return math.random(mini, maxi) end},
  {"d", function () return math.random() * 1e6 end},
  {"f", function () return 0.25 * math.random(-100, 100) end},
  {"s2", function () return string.rep("q", math.random(0, 5)) end},
  {"z", function () return string.rep("w", math.random(0, 5)) end},
  {"c3", function () return string.rep("e", math.random(0, 3)) end},
  {"x"}, {"Xi4"}, {"!"}, {"!2"}, {"<"}, {">"}, {"="},
}

-- Checks memory.pack/unpack against string.pack/unpack for one format.
local function samepacking (fmt, values)
  local ok, s = pcall(string.pack, fmt, table.unpack(values))
  if not ok then  -- the same complaint, e.g. alignment of 'i3' after '!'
    local m = memory.create(64)
    H.raises(s:match("%((.*)%)$"), m.pack, m, fmt, 1, table.unpack(values))
    return
  end
  local m = memory.create(#s)
  H.same({true, #s + 1}, m:pack(fmt, 1, table.unpack(values)))
  assert(tostring(m) == s, fmt)
  local expected, got = H.pack(string.unpack(fmt, s)), H.pack(m:unpack(fmt))
  assert(got.n == expected.n, fmt)
  for k = 1, got.n do
    assert(got[k] == expected[k] and
           math.type(got[k]) == math.type(expected[k]), fmt .. " #" .. k)
  end
  if #s > 0 then  -- one byte short: the last item does not fit
    local short = memory.create(#s - 1)
    local r = H.pack(short:pack(fmt, 1, table.unpack(values)))
    assert(r[1] == false and r[2] <= #s, fmt)
  end
end

H.case("pack and unpack agree with string.pack on chosen formats",
function ()
  for _, c in ipairs(packcases) do samepacking(c[1], {table.unpack(c, 2)}) end
end)

H.case("pack and unpack agree with string.pack on random formats",
function ()
  math.randomseed(20240601)
  for _ = 1, 300 do
    local fmt, values = {}, {}
    for k = 1, math.random(1, 8) do
      local opt = randomopts[math.random(#randomopts)]
      fmt[k] = opt[1]
      if opt[2] then values[#values + 1] = opt[2]() end
    end
    samepacking(table.concat(fmt, " "), values)
  end
end)

H.case("unpack agrees with string.unpack at every position", function ()
  local s = string.pack("<i4 z s1 >d", 77, "name", "xy", 0.25) .. "\0\0"
  local m = memory.create(s)
  for i = -#s - 2, #s + 1 do
    local okm, rm = pcall(memory.unpack, m, "B", i)
    local oks, rs = pcall(string.unpack, "B", s, i)
    assert(okm == oks and (not okm or rm == rs), i)
  end
  H.same({77, "name", "xy", 0.25, #s - 1}, m:unpack("<i4 z s1 >d"))
  H.same({"name", "xy", 13}, m:unpack("z s1", 5))
  H.same({0, 0, #s + 1}, m:unpack("BB", -2))
end)

H.case("pack returns the next index and packs at i", function ()
  local m = memory.create(8)
  H.same({true, 5}, m:pack("<i2 B", 2, 0x0201, 3))
  H.same({0, 1, 2, 3, 0, 0, 0, 0}, m:get(1, -1))
  H.same({true, 9}, m:pack("B", -1, 9))
  H.same({true, 2}, m:pack("B", 0, 7))      -- corrected to 1
  H.same({true, 2}, m:pack("B", mini, 6))   -- corrected to 1
  H.same({6, 1, 2, 3, 0, 0, 0, 9}, m:get(1, -1))
  H.same({true, 3}, m:pack("", 3))
end)

H.case("pack stops at the first value that does not fit", function ()
  local m = memory.create(6)
  m:set(5, 9)
  H.same({false, 5, 3, 4}, m:pack("<i2 i2 i4 i2", 1, 1, 2, 3, 4))
  H.same({1, 0, 2, 0, 9, 0}, m:get(1, -1))  -- the rest is untouched
  H.same({false, 1, "abcdefg"}, m:pack("z", 1, "abcdefg"))
  H.same({false, 6, "ab", 9}, m:pack("z B", 6, "ab", 9))
  H.same({false, 7, 1}, m:pack("xB", 7, 1))  -- even padding must fit
end)

H.case("pack past the end packs nothing", function ()
  local m = memory.create(2)
  H.same({false, 3, 1}, m:pack("B", 3, 1))
  H.same({false, 10, 1, 2}, m:pack("BB", 10, 1, 2))
  H.same({false, maxi, 5}, m:pack("B", maxi, 5))
  H.same({true, 3}, m:pack("", 3))
  H.same({0, 0}, m:get(1, -1))
end)

H.case("pack gives back unpacked values unchanged", function ()
  local m = memory.create(1)
  local t = {}
  local r = H.pack(m:pack("B z", 1, 65, 42, t, nil))
  H.same({false, 2, 42, t, nil, n = 5}, table.unpack(r, 1, r.n))
  assert(math.type(r[3]) == "integer")  -- not converted to a string
end)

H.case("pack ignores extra values", function ()
  local m = memory.create(2)
  H.same({true, 2}, m:pack("B", 1, 1, 2, 3))
  H.same({1, 0}, m:get(1, -1))
end)

H.case("pack aligns from the start of the memory", function ()
  local m = memory.create(16)
  H.same({true, 9}, m:pack("!4 i4", 2, 5))  -- 3 padding bytes first
  H.same({0, 0, 0}, m:get(2, 4))
  H.same({5, 9}, m:unpack("!4 i4", 2))
  H.same({true, 17}, m:pack("!8 b d", 3, 1, 0.5))
  H.same({1, 0, 0, 0, 0, 0}, m:get(3, 8))
  H.same({1, 0.5, 17}, m:unpack("!8 b d", 3))
  H.same({false, 11}, memory.create(15):pack("!8 b Xd", 10, 1))
end)

H.case("pack into a resizable memory", function ()
  local m = memory.create()
  H.same({false, 1, 1}, m:pack("B", 1, 1))
  m:resize(3)
  H.same({true, 4}, m:pack(">I3", 1, 0x414243))
  H.same({"ABC"}, tostring(m))
end)

H.case("pack raises like string.pack for bad values", function ()
  local m = memory.create(32)
  badarg(4, "integer overflow", memory.pack, m, "b", 1, 128)
  badarg(5, "integer overflow", memory.pack, m, "b i2", 1, 0, 40000)
  badarg(4, "unsigned overflow", memory.pack, m, "B", 1, 256)
  badarg(4, "unsigned overflow", memory.pack, m, "I2", 1, -1)
  badarg(4, "string contains zeros", memory.pack, m, "z", 1, "a\0b")
  badarg(4, "string longer than given size", memory.pack, m, "c2", 1, "abc")
  badarg(4, "string length does not fit in given size", memory.pack, m,
         "s1", 1, string.rep("x", 256))
  badarg(4, "number expected, got no value", memory.pack, m, "i", 1)
  badarg(4, "number has no integer representation", memory.pack, m, "i",
         1, 1.5)
  badarg(4, "string expected, got table", memory.pack, m, "z", 1, {})
  badarg(4, "number expected, got string", memory.pack, m, "d", 1, "x")
end)

H.case("pack and unpack raise like string.pack for bad formats", function ()
  local m = memory.create(32)
  for _, f in ipairs{memory.pack, memory.unpack} do
    H.raises("invalid format option 'y'", f, m, "y", 1)
    H.raises("missing size for format option 'c'", f, m, "c", 1, "")
    H.raises("integral size (17) out of limits [1,16]", f, m, "i17", 1)
    H.raises("integral size (0) out of limits [1,16]", f, m, "I0", 1)
    H.raises("integral size (17) out of limits [1,16]", f, m, "!17", 1)
    badarg(2, "format asks for alignment not power of 2", f, m, "!8 i3",
           1, 0)
    badarg(2, "invalid next option for option 'X'", f, m, "X", 1)
    badarg(2, "invalid next option for option 'X'", f, m, "Xc1", 1)
    badarg(2, "invalid next option for option 'X'", f, m, "X<", 1)
    badarg(2, "string expected, got no value", f, m)
  end
end)

H.case("pack checks the memory and the index", function ()
  badarg(1, "memory expected, got string", memory.pack, "abc", "B", 1, 1)
  badarg(3, "number expected, got no value", memory.pack, memory.create(1),
         "B")
  badarg(3, "number has no integer representation", memory.pack,
         memory.create(1), "B", 0.5, 1)
end)

H.case("pack into a closed memory fits nothing", function ()
  local c = closed()
  H.same({false, 1, 7}, c:pack("B", 1, 7))
  H.same({true, 1}, c:pack("", 1))
  H.same({0, "other"}, #c, memory.type(c))
end)

-- --- unpack --------------------------------------------------------------

H.case("unpack of large integers", function ()
  local m = memory.create(16)
  m:pack("<i16", 1, -5)
  H.same({-5, 17}, m:unpack("<i16"))
  m:pack("<I16", 1, 5)
  H.same({5, 17}, m:unpack("<I16"))
  m:set(12, 1)
  H.raises("16-byte integer does not fit into Lua Integer", m.unpack, m,
           "<i16")
  H.same({0x7fffff, 4}, memory.create("\127\255\255"):unpack(">i3"))
  H.same({-1, 4}, memory.create("\255\255\255"):unpack(">i3"))
  H.same({0xffffff, 4}, memory.create("\255\255\255"):unpack(">I3"))
end)

H.case("unpack errors like string.unpack", function ()
  local m = memory.create("abc")
  badarg(1, "data string too short", memory.unpack, m, "i4")
  badarg(1, "data string too short", memory.unpack, m, "B", 4)
  badarg(1, "data string too short", memory.unpack, m, "s1")
  badarg(1, "data string too short", memory.unpack,
         memory.create("\5ab"), "s1")
  badarg(1, "unfinished string for format 'z'", memory.unpack, m, "z")
  badarg(3, "initial position out of string", memory.unpack, m, "B", 5)
  badarg(3, "initial position out of string", memory.unpack, m, "B", maxi)
  badarg(3, "number has no integer representation", memory.unpack, m, "B",
         1.5)
  badarg(1, "memory expected, got string", memory.unpack, "abc", "B")
end)

H.case("unpack of nothing gives the next index", function ()
  H.same({1}, memory.create("abc"):unpack(""))
  H.same({4}, memory.create("abc"):unpack("", 4))
  H.same({1}, memory.unpack(closed(), ""))
  H.same({1}, memory.unpack(closed(), "! < = !2"))
  H.same({"", 1}, memory.unpack(closed(), "c0"))
  H.same({1}, memory.create("abc"):unpack("", mini))  -- like string.unpack
  H.same({97, 2}, memory.create("abc"):unpack("B", 0))
  H.same({97, 2}, memory.create("abc"):unpack("B", -10))
end)

-- --- metamethods ---------------------------------------------------------

H.case("the metatable is registered as char[] and __index is the module",
function ()
  local mt = getmetatable(memory.create(1))
  assert(mt == debug.getregistry()["char[]"])
  assert(mt == getmetatable(memory.create()))
  assert(mt.__index == memory)
  assert(mt.__name == "char[]")
end)

H.case("an external memory (luamem_Ref) of LuaMemory is 'other'",
function ()
  -- a released reference, as LuaMemory leaves it: NULL bytes, size 0
  local registry = debug.getregistry()
  assert(registry.luamem_Ref == nil)
  local mt = {__index = memory, __len = memory.len}
  registry.luamem_Ref = mt
  local ok, err = pcall(function ()
    local ref = debug.setmetatable(memory.create(64), mt)
    H.same({"other", 0, 0, ""}, memory.type(ref), memory.len(ref), #ref,
           memory.tostring(ref))
    H.same({n = 0}, ref:get(1, -1))
    H.same({false, 1, 1}, ref:pack("B", 1, 1))
    H.same({"x"}, tostring(memory.create(ref)) .. "x")
    badarg(1, "resizable memory expected, got other", memory.resize, ref, 1)
  end)
  registry.luamem_Ref = nil
  assert(ok, err)
end)

H.case("methods through __index", function ()
  local m = memory.create()
  m:resize(3, "ab")
  H.same({"aba", 3, "resizable"}, m:tostring(), m:len(), m:type())
  m:set(1, 66)
  H.same({66, 98}, m:get(1, 2))
  local t = {get = memory.get}
  H.raises("calling 'get' on bad self", function () return t:get(1) end)
end)

H.case("__concat with a memory on either side", function ()
  local m = memory.create("mem")
  H.same({"mem!"}, m .. "!")
  H.same({"<mem"}, "<" .. m)
  H.same({"memmem"}, m .. m)
  H.same({"1mem2"}, 1 .. m .. 2)
  H.same({"memab"}, m .. resizable("ab"))
  H.same({"mem"}, m .. closed())
  H.same({"a.mem.b"}, "a." .. m .. ".b")
  assert(type(m .. "") == "string")
end)

H.case("__concat rejects other values", function ()
  local m = memory.create("x")
  H.raises("attempt to concatenate a table value", function ()
    return m .. {}
  end)
  H.raises("attempt to concatenate a boolean value", function ()
    return true .. m
  end)
end)

H.case("__len and __tostring", function ()
  local m = memory.create("a\0c")
  H.same({3, "a\0c"}, #m, tostring(m))
  H.same({"a\0c"}, string.format("%s", m))
end)

-- --- closing and collection ----------------------------------------------

H.case("a closed resizable memory is an empty 'other'", function ()
  local m = H.track(memory.create())
  do
    local c <close> = m
    c:resize(100, "x")
  end
  H.same({"other", 0, ""}, memory.type(m), #m, tostring(m))
  H.same({nil, false}, memory.diff(m, ""))
end)

H.case("a closed memory can no longer change", function ()
  local m = closed()
  badarg(1, "resizable memory expected, got other", m.resize, m, 1)
  m:set(1, 1)
  m:fill("x")
  H.same({false, 1, 1}, m:pack("B", 1, 1))
  H.same({0, "other"}, #m, memory.type(m))
end)

H.case("closing twice and closing on error", function ()
  local m = memory.create()
  local ok, err = pcall(function ()
    local c <close> = m
    c:resize(8)
    error("boom")
  end)
  assert(not ok and err:find("boom"))
  H.same({"other", 0}, memory.type(m), #m)
  do local again <close> = m end  -- already closed: nothing happens
  H.same({"other", 0}, memory.type(m), #m)
end)

H.case("closing a fixed memory has no effect", function ()
  local m = memory.create("abc")
  do local c <close> = m end
  H.same({"fixed", 3, "abc"}, memory.type(m), #m, tostring(m))
end)

H.case("memories are collected", function ()
  local r = H.track(memory.create())
  r:resize(1000, "abc")
  H.track(memory.create(10), memory.create("abc"), closed())
  r = nil
end)

H.case("many resizes under a stepping collector", function ()
  local list = {}
  for k = 1, 200 do
    local m = memory.create()
    for n = 1, 20 do m:resize((k * n) % 97, "xyz") end
    list[k % 10 + 1] = m
    collectgarbage("step")
  end
  for _, m in pairs(list) do H.track(m) end
  list = nil
end)

-- --- next to coutil ------------------------------------------------------

H.case("memory.so loads alone in a fresh process", function ()
  local ok, out = H.runlua([[
    package.path = ""
    local memory = require "memory"
    local m = memory.create("abc")
    io.write(memory.type(m), " ", tostring(m), " ",
             tostring(package.loaded["coutil.system"]))
  ]])
  assert(ok, out)
  assert(out:find("fixed abc nil", 1, true), out)
end)

H.case("memory and coutil.system coexist", function ()
  local system = require "coutil.system"
  assert(type(system.run) == "function")
  local f, r = memory.create("abc"), resizable("xy")
  H.same({"fixed", "resizable", "other"},
         memory.type(f), memory.type(r), memory.type(closed()))
  H.same({"abcxy"}, f .. r)
  H.track(f, r)
end)

H.case("coutil accepts memories made by memory.so", function ()
  local system = require "coutil.system"
  if type(system.socket) ~= "function" then
    return H.skip("coutil accepts memories", "system.socket not built yet")
  end
  local results = H.pack(H.run(function ()
    local rx = assert(system.socket("datagram", "ipv4"))
    local tx = assert(system.socket("datagram", "ipv4"))
    local addr = system.address("ipv4", "127.0.0.1", 0)
    assert(rx:bind(addr))
    assert(rx:getaddress("self", addr))
    local data = memory.create("-hello-")
    assert(tx:write(data, 2, -2, addr))
    local buffer = memory.create()
    buffer:resize(8, ".")
    local n = rx:read(buffer, 3)
    rx:close()
    tx:close()
    return n, tostring(buffer)
  end))
  H.same({5, "..hello."}, table.unpack(results, 1, results.n))
end)

H.case("memories made after coutil.system made their class", function ()
  -- coutil.system loaded first creates the "char[]" metatable itself;
  -- the memory module loaded later must fill that same table
  local ok, out = H.runlua([[
    package.path = ""  -- "memory" is the module, not this test file
    local system = require "coutil.system"
    local mt = debug.getregistry()["char[]"]
    assert(type(mt) == "table" and mt.__gc and mt.__close, "class not made")
    local memory = require "memory"
    assert(debug.getregistry()["char[]"] == mt, "class replaced")
    local m = memory.create("hello")
    assert(getmetatable(m) == mt and m:get(1) == 104 and #m == 5)
    coroutine.wrap(function ()
      local rx = assert(system.socket("datagram", "ipv4"))
      local tx = assert(system.socket("datagram", "ipv4"))
      local addr = system.address("ipv4", "127.0.0.1", 0)
      assert(rx:bind(addr))
      assert(rx:getaddress("self", addr))
      assert(tx:write("HE", 1, -1, addr))
      assert(rx:read(m, 1, 2) == 2)
      rx:close()
      tx:close()
    end)()
    system.run()
    print(memory.tostring(m))
  ]])
  assert(ok, out)
  assert(out:find("HEllo", 1, true), out)
end)

H.done()
