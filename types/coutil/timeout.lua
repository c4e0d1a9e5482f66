---@meta coutil.timeout

-- Annotations for lua-language-server (LuaLS) of module `coutil.timeout`:
-- a time limit on what a function waits for.

---@class coutil.timeout.lib
local timeout = {}

---Calls `f(...)` in the calling coroutine and returns its results; if `f` has not returned after `seconds`, the await function it is in returns `false, "timeout", 110`. The timer never outlives the call.
---@async
---@param seconds number time limit
---@param f async fun(...):... function to call
---@param ... any arguments of `f`
---@return any ... the results of `f`
function timeout.call(seconds, f, ...) end

return timeout
