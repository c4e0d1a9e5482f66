---@meta coutil.queued

-- Annotations for lua-language-server (LuaLS) of module `coutil.queued`:
-- like `coutil.event`, but an event emitted while nobody waits is stored
-- and consumed by a later wait (oldest first).

---@class coutil.queued.lib
local queued = {}

---Takes a stored event on `e`, or waits for one like `event.await`.
---@async
---@param e any value to wait on (not nil)
---@return any e the value the event was emitted on
---@return any ... the extra arguments of the emit
function queued.await(e) end

---Takes one stored event of each value given and waits for events on the others.
---@async
---@param ... any values to wait on (nils are ignored, repeats count once)
---@return true
function queued.awaitall(...) end

---Takes the stored event of the leftmost value that has one, or waits like `event.awaitany`.
---@async
---@param ... any values to wait on (nils are ignored; at least one value)
---@return any e the value the event was emitted on
---@return any ... the extra arguments of the emit
function queued.awaitany(...) end

---Wakes every coroutine waiting on `e`; with nobody waiting, stores the event for later.
---@param e any
---@param ... any values given to the woken (or later) waiters
---@return boolean woken `true` if some coroutine was woken, `false` if the event was stored
function queued.emitall(e, ...) end

---Wakes one coroutine waiting on `e`; with nobody waiting, stores the event for later.
---@param e any
---@param ... any values given to the woken (or later) waiter
---@return boolean woken `true` if a coroutine was woken, `false` if the event was stored
function queued.emitone(e, ...) end

---Tells whether some event is stored on `e`.
---@param e any
---@return boolean
function queued.isqueued(e) end

---The same function as `queued.isqueued` (the name used by the original library).
---@param e any
---@return boolean
function queued.queued(e) end

---Tells whether some coroutine is waiting for an event on `e` (as `event.pending`).
---@param e any
---@return boolean
function queued.pending(e) end

return queued
