-- allocfail scenario (see 3-loop-init-nomem.lua and 7-openfile-callback-
-- nomem.lua): the leaks show under make check-allocfail-asan.
-- What broke: callbacks that give a coroutine values made elsewhere pushed
-- them outside any protected call: awaitch's (the values of the matching
-- call, copied from another state) and system.resume's (the results of a
-- state coroutine). A memory error there unwound through uv_run. And when
-- a coroutine the loop resumed died of a memory error, making the warning
-- (its traceback) raised there too, a half-made warning left behind. Now
-- the values are pushed through cu_await_pushp, and the warning is made
-- under lua_pcall, emitted only once made (or says "not enough memory").
-- The strings transferred are long ones: every copy of them allocates.
local system = require "coutil.system"
local channel = require "coutil.channel"
local coroutine_ = require "coutil.coroutine"

return function ()
  loop(system, function ()
    local ch = channel.create("allocfail-transfer")
    local got = spawn(function ()
      return select(2, check(system.awaitch(ch, "in")))
    end)
    if got() then join(system, got) end  -- it failed before waiting
    local other = channel.create("allocfail-transfer")
    local ok, err = channel.sync(other, "out", ("x"):rep(64))
    if not ok then error("failure: " .. tostring(err), 0) end
    assert(join(system, got) == ("x"):rep(64))
    ch:close()
    other:close()
    local co = checkmsg(coroutine_.load("return '" .. ("y"):rep(64) .. "'"))
    local _, v = checkmsg(system.resume(co))
    assert(v == ("y"):rep(64))
    coroutine_.close(co)
    -- a coroutine the loop resumes dies when it cannot allocate
    local dies = coroutine.create(function ()
      system.suspend(0)
      return {("z"):rep(64)}
    end)
    assert(coroutine.resume(dies))
    while coroutine.status(dies) ~= "dead" do system.suspend(0) end
  end)
end
