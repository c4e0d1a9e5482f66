---@meta coutil.coroutine

-- Annotations for lua-language-server (LuaLS) of module `coutil.coroutine`:
-- state coroutines, chunks loaded in independent Lua states that
-- `system.resume` runs on other system threads.

---@class coutil.coroutine.lib
local coroutine = {}

---A state coroutine; the functions of `coutil.coroutine` are its methods (`co:status()`).
---@class coutil.coroutine : coutil.coroutine.lib

---Closes the state coroutine and its independent state, like `coroutine.close`.
---@param co coutil.coroutine
---@return boolean ok `true`, or `false` and the error object when the coroutine died with an error
---@return any? err
function coroutine.close(co) end

---Loads a chunk (as `load` does) into a new state coroutine.
---@param chunk string the code (or precompiled chunk)
---@param chunkname? string name of the chunk in messages
---@param mode? string "b", "t" or "bt": whether binary and/or text chunks are allowed
---@return coutil.coroutine|false co the new state coroutine, or `false` on failure
---@return string? errmsg the failure's message
function coroutine.load(chunk, chunkname, mode) end

---Loads a chunk from a file (as `loadfile` does) into a new state coroutine.
---@param filepath? string path of the file (standard input when absent)
---@param mode? string "b", "t" or "bt": whether binary and/or text chunks are allowed
---@return coutil.coroutine|false co the new state coroutine, or `false` on failure
---@return string? errmsg the failure's message
function coroutine.loadfile(filepath, mode) end

---Returns the status of the state coroutine, like `coroutine.status`.
---@param co coutil.coroutine
---@return "running"|"suspended"|"dead" status
function coroutine.status(co) end

return coroutine
