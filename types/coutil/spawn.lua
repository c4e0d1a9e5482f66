---@meta coutil.spawn

-- Annotations for lua-language-server (LuaLS) of module `coutil.spawn`:
-- start functions in new coroutines with a handler for how they end.

---@class coutil.spawn.lib
local spawn = {}

---Runs `f(...)` in a new coroutine; an error in `f` calls `h(err)` as its message handler.
---@param h fun(err: any): any handler of errors, called where the error is raised
---@param f async fun(...):... function to run
---@param ... any arguments of `f`
---@return thread co the new coroutine
function spawn.catch(h, f, ...) end

---Runs `f(...)` in a new coroutine and calls `h(true, results...)` when it returns, or `h(false, err)` as the message handler of an error.
---@param h fun(ok: boolean, ...):... handler of the end of `f`
---@param f async fun(...):... function to run
---@param ... any arguments of `f`
---@return thread co the new coroutine
function spawn.trap(h, f, ...) end

return spawn
