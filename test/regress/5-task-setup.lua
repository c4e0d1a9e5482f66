-- allocfail scenario (see 3-loop-init-nomem.lua).
-- What broke: threads.dostring set its task up in the task's new state
-- (lua_newthread, the registry entry, the arguments pushed as strings)
-- outside any protected call: a memory error there aborted the process
-- through the new state's panic.
return function ()
  local threads = require "coutil.threads"
  local pool = threads.create(1)
  checkmsg(pool:dostring("local a, b, c = ... assert(c == 3)", "task", "t",
                         "first argument", "second argument", 3))
  pool:close()
end
