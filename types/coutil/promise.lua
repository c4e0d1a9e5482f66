---@meta coutil.promise

-- Annotations for lua-language-server (LuaLS) of module `coutil.promise`:
-- values that become available later, claimed by calling the promise.

---A promise: called with no argument (or a false one) it returns the results once they are
---there, waiting for them while the promise is unfulfilled; called with a true `probe` it never
---waits and returns whether the promise is fulfilled.
---@alias coutil.promise async fun(probe?: boolean):...

---The fulfillment function of a promise: its arguments become the promise's results; it returns
---`true` the first time it is called and `false` afterwards.
---@alias coutil.fulfill fun(...):boolean

---@class coutil.promise.lib
local promise = {}

---Makes a new promise and the function that fulfills it.
---@return coutil.promise promise
---@return coutil.fulfill fulfill
function promise.create() end

---Waits until every promise given is fulfilled.
---@async
---@param ... coutil.promise? promises (nils are skipped)
---@return true
function promise.awaitall(...) end

---Returns the leftmost fulfilled promise given, waiting for one to be fulfilled if none is.
---@async
---@param ... coutil.promise? promises (nils are skipped; at least one promise)
---@return coutil.promise fulfilled
function promise.awaitany(...) end

---Returns the promises given that are not fulfilled, in order.
---@param ... coutil.promise? promises (nils are skipped)
---@return coutil.promise ... the unfulfilled ones
function promise.onlypending(...) end

---Returns the leftmost fulfilled promise given, or nothing.
---@param ... coutil.promise? promises (nils are skipped)
---@return coutil.promise? fulfilled
function promise.pickready(...) end

return promise
