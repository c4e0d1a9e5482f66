---@meta coutil.event

-- Annotations for lua-language-server (LuaLS) of module `coutil.event`:
-- coroutines wait for events emitted on any value other than nil.

---@class coutil.event.lib
local event = {}

---Waits for one event on `e`; same as `event.awaitany(e)`.
---@async
---@param e any value to wait on (not nil)
---@return any e the value the event was emitted on
---@return any ... the extra arguments of the emit
function event.await(e) end

---Waits until an event has been emitted on every one of the values given.
---@async
---@param ... any values to wait on (nils are ignored, repeats count once)
---@return true
function event.awaitall(...) end

---Waits for an event on any of the values given.
---@async
---@param ... any values to wait on (nils are ignored; at least one value)
---@return any e the value the event was emitted on
---@return any ... the extra arguments of the emit
function event.awaitany(...) end

---Wakes every coroutine waiting on `e`, in the order they began waiting, passing them `...`.
---@param e any
---@param ... any values given to every woken coroutine
---@return boolean woken whether some coroutine was waiting on `e`
function event.emitall(e, ...) end

---Wakes the first coroutine waiting on `e`, if any, passing it `...`.
---@param e any
---@param ... any values given to the woken coroutine
---@return boolean woken whether some coroutine was waiting on `e`
function event.emitone(e, ...) end

---Tells whether some coroutine is waiting for an event on `e`.
---@param e any
---@return boolean
function event.pending(e) end

return event
