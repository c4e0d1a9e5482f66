---@meta coutil.mutex

-- Annotations for lua-language-server (LuaLS) of module `coutil.mutex`:
-- locks owned by coroutines, identified by any value.

---@class coutil.mutex.lib
local mutex = {}

---Takes the lock identified by `e` for the running coroutine, waiting while another coroutine owns it.
---@async
---@param e any value identifying the lock (not nil)
---@return true
function mutex.lock(e) end

---Gives up the lock on `e` owned by the running coroutine and wakes one coroutine waiting on `e`.
---@param e any value identifying the lock
---@return boolean woken whether a waiting coroutine was woken
function mutex.unlock(e) end

---Tells whether some coroutine owns the lock identified by `e`.
---@param e any
---@return boolean
function mutex.islocked(e) end

---Tells whether the running coroutine owns the lock identified by `e`.
---@param e any
---@return boolean
function mutex.ownlock(e) end

return mutex
