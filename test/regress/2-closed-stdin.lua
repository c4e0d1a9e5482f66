-- test/regress/2-closed-stdin.lua
-- What broke: a program started with a standard stream closed (`<&-`)
-- that used coutil.system aborted at exit with libuv's assertion
-- "uv__close: Assertion `fd > STDERR_FILENO' failed": the loop's own
-- epoll descriptor had taken the free number 0. Fixed: coutil.system
-- opens /dev/null on the standard descriptors that are closed before it
-- makes its loop.

local H = require "helpers"

local code = [[
  local system = require "coutil.system"
  coroutine.wrap(function () system.suspend(0.01) end)()
  system.run()
  local f = io.open(arg[1], "w")
  f:write(tostring(system.stdin):match("^%a+"), "\n")
  f:close()
]]

local valgrind = (os.getenv("COUTIL_LUA") or ""):find("vglua", 1, true)

for _, which in ipairs{"<&-", ">&-", "<&- >&- 2>&-"} do
  if valgrind and which:find("2>&-", 1, true) then
    H.skip("a program started with " .. which,
           "valgrind reports on descriptor 2 (make check-valgrind)")
    goto next
  end
  H.case("a program started with " .. which .. " runs and exits 0", function ()
    local script, report = os.tmpname(), os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(code)
    f:close()
    local ok = os.execute(string.format("%s %s %s %s %s",
      H.childenv(), os.getenv("COUTIL_LUA") or "lua5.4", script, report,
      which))
    f = assert(io.open(report))
    local kind = f:read("l")
    f:close()
    os.remove(script)
    os.remove(report)
    assert(ok, "the program failed with " .. which)
    assert(kind == "file" or kind == "terminal" or kind == "stream", kind)
  end)
  ::next::
end

H.done()
