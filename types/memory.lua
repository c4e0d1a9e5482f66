---@meta memory

-- Annotations for lua-language-server (LuaLS) of module `memory`: mutable
-- byte buffers (the Lua interface of LuaMemory 2.0) that coutil's read
-- functions fill. Positions start at 1; negative ones count from the end;
-- ranges `i`, `j` are fixed up as in `string.sub` (defaults 1 and -1).

---@class memory.lib
local memory = {}

---A memory: a block of bytes that can be changed in place; the functions of `memory` are its
---methods (`m:get(1)`); `#m` is its size, `tostring(m)` its contents, `..` makes a string.
---@class memory : memory.lib
---@operator len: integer
---@operator concat(string|number|memory): string

---Makes a memory: resizable and empty with no argument, `m` zero bytes for a number, or a fixed copy of bytes `i` to `j` of a string or memory.
---@param m? integer|string|memory size, or bytes to copy
---@param i? integer first byte copied
---@param j? integer last byte copied
---@return memory
function memory.create(m, i, j) end

---Returns the kind of memory of `m`, or nil when `m` is no memory.
---@param m any
---@return "fixed"|"resizable"|"other"|nil kind
function memory.type(m) end

---Returns the size of the memory in bytes.
---@param m memory
---@return integer size
function memory.len(m) end

---Changes the size of a resizable memory to `l`, filling new bytes by repeating `s` (zeros by default).
---@param m memory a resizable memory
---@param l integer new size
---@param s? string|memory bytes to repeat in the added part
function memory.resize(m, l, s) end

---Returns the position of the first byte where `m1` and `m2` differ (nil when equal), and whether `m1` sorts before `m2`.
---@param m1 string|memory
---@param m2 string|memory
---@return integer? position
---@return boolean less
function memory.diff(m1, m2) end

---Returns a string with bytes `i` to `j` of the memory.
---@param m memory
---@param i? integer
---@param j? integer
---@return string
function memory.tostring(m, i, j) end

---Returns the values of bytes `i` to `j` (default `j` = `i`), nothing for an empty range.
---@param m memory
---@param i integer
---@param j? integer
---@return integer ... byte values (0 to 255)
function memory.get(m, i, j) end

---Sets the bytes from position `i` to the values given; values past the end are dropped.
---@param m memory
---@param i integer
---@param ... integer byte values (0 to 255)
function memory.set(m, i, ...) end

---Returns the position in bytes `i` to `j` of `m` where the bytes of `s` from offset `o` are found, or nil.
---@param m memory
---@param s string|memory|number bytes to look for (plain, no patterns)
---@param i? integer
---@param j? integer
---@param o? integer first byte of `s` to look for (default 1)
---@return integer? position
function memory.find(m, s, i, j, o) end

---Fills bytes `i` to `j` of `m` by repeating `s` from its offset `o`, or with byte value `s` when it is a number.
---@param m memory
---@param s string|memory|integer
---@param i? integer
---@param j? integer
---@param o? integer first byte of `s` repeated (default 1)
function memory.fill(m, s, i, j, o) end

---Encodes values into `m` from position `i` as `string.pack` would; returns whether all fit, the next position, and the values not written.
---@param m memory
---@param fmt string format of `string.pack`
---@param i integer
---@param ... any values to encode
---@return boolean allfit
---@return integer next position after the last byte written (or of the item that did not fit)
---@return any ... the values not written
function memory.pack(m, fmt, i, ...) end

---Decodes values from the bytes of `m` from position `i` as `string.unpack` would.
---@param m memory
---@param fmt string format of `string.unpack`
---@param i? integer
---@return any ... the values, then the position after the last byte read
function memory.unpack(m, fmt, i) end

return memory
