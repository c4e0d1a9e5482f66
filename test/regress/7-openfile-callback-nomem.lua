-- allocfail scenario (see 3-loop-init-nomem.lua); the leaks show under
-- make check-allocfail-asan, the descriptor in both sweeps.
-- What broke: openfile's callback made the file object on the waiting
-- coroutine's stack outside any protected call: its memory error unwound
-- through uv_run (the operation record, the request and the cu_File
-- leaked, and the descriptor stayed open). In blocking mode ("~") a memory
-- error making the object leaked the cu_File and the descriptor. Now the
-- callback pushes under lua_pcall on the runner (cu_await_pushp; the
-- coroutine gets false, "not enough memory", 12 when that fails), and
-- cu_file_new closes the descriptor on every failure.
return function ()
  local system = require "coutil.system"
  loop(system, function ()
    local f = check(system.openfile("/etc/passwd", "r"))
    check(f:close())
    f = check(system.openfile("/etc/passwd", "r", nil, "~"))
    f:close()
    local info = check(system.fileinfo("/etc/passwd", "?Bp"))
  end)
end
