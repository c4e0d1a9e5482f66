---@meta coutil.channel

-- Annotations for lua-language-server (LuaLS) of module `coutil.channel`:
-- named channels that match coroutines and tasks of different Lua states.

---@alias coutil.endpoint
---| "in"  # matches a call on "out" (or "any")
---| "out" # matches a call on "in" (or "any")
---| "any" # matches a call on either endpoint (also for nil)

---@class coutil.channel.lib
local channel = {}

---A channel; the functions of `coutil.channel` are its methods (`ch:sync(...)`).
---@class coutil.channel : coutil.channel.lib

---Closes the channel (collected channels are closed too, but later).
---@param ch coutil.channel
---@return true
function channel.close(ch) end

---Makes a new channel with the given name; channels with the same name share their two endpoints.
---@param name string
---@return coutil.channel|false ch the new channel, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function channel.create(name) end

---Returns the name of the channel.
---@param ch coutil.channel
---@return string name
function channel.getname(ch) end

---Returns a table of the names of existing channels (set to `true`); with `names`, only checks its string keys and updates it.
---@param names? table<string, any> names to check; the names of no channel are removed from it
---@return table<string, true>|false names the names, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function channel.getnames(names) end

---Like `system.awaitch`, but only when a matching call already waits on the other side: never waits.
---@param ch coutil.channel
---@param endpoint? coutil.endpoint
---@param ... boolean|number|string|lightuserdata|nil transferable values for the matching call
---@return boolean ok `true` followed by the values of the matching call, or `false` ("empty" when nobody waits)
---@return any ... the values of the matching call, or the failure's message
function channel.sync(ch, endpoint, ...) end

return channel
