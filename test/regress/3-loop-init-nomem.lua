-- allocfail scenario (test/allocfail.lua runs every test/regress/*.lua with
-- the allocation-failure host; the prelude's check, checkmsg, loop, spawn,
-- join and memory are in scope).
-- mode: twice
-- What broke: require "coutil.system" raised "unable to create loop" when
-- uv_loop_init failed for lack of memory (libuv's allocation of the signal
-- watcher's state): a wrong error instead of "not enough memory".
return function ()
  require "coutil.system"
end
