---@meta coutil.threads

-- Annotations for lua-language-server (LuaLS) of module `coutil.threads`:
-- thread pools that run tasks (chunks in independent states) on system
-- threads.

---@class coutil.threads.lib
local threads = {}

---A thread pool; the functions of `coutil.threads` are its methods (`pool:dostring(...)`).
---@class coutil.threads : coutil.threads.lib

---Makes a pool of `size` system threads; without `size`, returns the pool running the caller (nil outside a pool).
---@param size? integer number of system threads
---@return coutil.threads|false|nil pool the pool (nil when the caller runs in no pool), or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function threads.create(size) end

---Sets the number of system threads the pool keeps; with `create` true, starts the missing ones at once.
---@param pool coutil.threads
---@param size integer
---@param create? boolean
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function threads.resize(pool, size, create) end

---Returns one count per char of `options`: n tasks, r running, p pending, s suspended on a channel, e expected threads, a actual threads.
---@param pool coutil.threads
---@param options string chars among "nrpsea"
---@return integer ... one count per char
function threads.count(pool, options) end

---Loads a chunk (as `load` does) as a new task of the pool, started with the transferable values `...`.
---@param pool coutil.threads
---@param chunk string the code (or precompiled chunk)
---@param chunkname? string name of the chunk in messages
---@param mode? string "b", "t" or "bt": whether binary and/or text chunks are allowed
---@param ... boolean|number|string|lightuserdata|nil transferable values passed to the chunk
---@return true|false ok `true` when the chunk was loaded, or `false` on failure
---@return string? errmsg the failure's message
function threads.dostring(pool, chunk, chunkname, mode, ...) end

---Loads a chunk from a file (as `loadfile` does) as a new task of the pool.
---@param pool coutil.threads
---@param filepath string path of the file
---@param mode? string "b", "t" or "bt": whether binary and/or text chunks are allowed
---@param ... boolean|number|string|lightuserdata|nil transferable values passed to the chunk
---@return true|false ok `true` when the chunk was loaded, or `false` on failure
---@return string? errmsg the failure's message
function threads.dofile(pool, filepath, mode, ...) end

---Closes the pool: from one of its tasks it only stops this reference; elsewhere it waits until the pool has no more tasks or threads, then frees it.
---@param pool coutil.threads
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function threads.close(pool) end

return threads
