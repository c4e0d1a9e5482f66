---@meta coutil.system

-- Annotations for lua-language-server (LuaLS) of module `coutil.system`:
-- the event loop, time, processes, signals, addresses, sockets, files,
-- standard streams and system information.
--
-- Conventions of every function here:
-- * Failures are returned as `false, message, errno` (the failure
--   triple); misuse raises an error.
-- * Await functions (`---@async`) suspend the calling coroutine until
--   `system.run` resumes it with the results. A coroutine resumed early
--   by `coroutine.resume` gets the values given to the resume instead.
-- * A `mode` string starting with `~` makes an await function block the
--   whole state instead of yielding (blocking mode).

---@class coutil.system.lib
local system = {}

---Values that can pass between independent Lua states.
---@alias coutil.transferable boolean|number|string|lightuserdata|nil

-------------------------------------------------------------------------------
-- Event processing

---Resumes the coroutines whose await functions have results: "loop" (default) until none waits or `halt`, "step" one round (waiting for one), "ready" one round without waiting.
---@param mode? "loop"|"step"|"ready"
---@return boolean pending whether some coroutine still waits
function system.run(mode) end

---Tells whether `system.run` is executing.
---@return boolean
function system.isrunning() end

---Makes the running `system.run` return once its current round is over.
function system.halt() end

-------------------------------------------------------------------------------
-- Thread synchronization

---Waits on an endpoint of channel `ch` for a matching call on the other endpoint (in any state), then exchanges transferable values with it.
---@async
---@param ch coutil.channel
---@param endpoint? coutil.endpoint "in", "out" or "any" (default)
---@param ... coutil.transferable values for the matching call
---@return boolean ok `true` followed by the values of the matching call, or `false` and a message when they could not be transferred
---@return any ... the values of the matching call, or the failure's message
function system.awaitch(ch, endpoint, ...) end

---Runs state coroutine `co` on another system thread (like `coroutine.resume`) and waits until it yields or ends.
---@async
---@param co coutil.coroutine
---@param ... coutil.transferable values passed to `co`
---@return boolean ok `true` followed by what `co` yielded or returned, or `false` and its error
---@return any ... the values from `co`, or the error message
function system.resume(co, ...) end

-------------------------------------------------------------------------------
-- Time

---Returns a monotonic timestamp in nanoseconds from an arbitrary moment.
---@return integer
function system.nanosecs() end

---Returns a time in seconds: "cached" (default) the loop's current time, "updated" the same after refreshing it, "epoch" the wall clock since the UNIX epoch.
---@param mode? "cached"|"updated"|"epoch"
---@return number seconds
function system.time(mode) end

---Waits `seconds` (none, nil or negative: only lets other coroutines run) counted from the cached time.
---@async
---@param seconds? number
---@param mode? string "~" for blocking mode
---@return true
function system.suspend(seconds, mode) end

-------------------------------------------------------------------------------
-- Processes and signals

---Sends a signal to the process `pid`.
---@param pid integer process identifier
---@param signal string|integer a name accepted by `awaitsig`, "STOP", "TERMINATE", or a signal number
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.emitsig(pid, signal) end

---Waits until the process receives the signal named `signal` ("interrupt", "terminate", "child", "hangup", "userdef1", "winresize", ...).
---@async
---@param signal string
---@return string|false signal the name given, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.awaitsig(signal) end

---Returns the scheduling priority of process `pid` as a name ("highest", "high", "above", "normal", "below", "low" or "other") and a number from -20 to 19.
---@param pid integer process identifier (0: the current process)
---@return string|false name the priority's name, or `false` on failure
---@return integer|string value the priority from -20 (highest) to 19 (lowest), or the failure's message
---@return integer? errcode the failure's system error number
function system.getpriority(pid) end

---Changes the scheduling priority of process `pid` to a name returned by `getpriority` (not "other") or a number from -20 to 19.
---@param pid integer process identifier (0: the current process)
---@param value string|integer
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.setpriority(pid, value) end

---Returns the path of the current directory.
---@return string|false path the path, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.getdir() end

---Changes the current directory to `path`.
---@param path string
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.setdir(path) end

---Returns the value of environment variable `name`, or, with no name or a table, a table of all the variables (added to the table given).
---@param name? string|table<string, string>
---@return string|table<string, string>|false value the value or the table, or `false` on failure (such as an undefined variable)
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.getenv(name) end

---Sets environment variable `name` to `value`, or removes it when `value` is nil.
---@param name string
---@param value string?
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.setenv(name, value) end

---A packed environment, made by `system.packenv`; indexing it by a variable name gives its value
---(or nil), and `#env` the number of variables.
---@class coutil.packenv
---@field [string] string?
---@operator len: integer

---Packs a table of environment variables (names to values) for `execute`.
---@param vars table<string, string>
---@return coutil.packenv env
function system.packenv(vars) end

---Returns a table of the variables of a packed environment (added to `tab` when given).
---@param env coutil.packenv
---@param tab? table
---@return table<string, string> vars
function system.unpackenv(env, tab) end

---A standard stream of a new process: a Lua file, a file object, a stream socket, `false` to
---discard it, or a string of chars that makes a stream socket to talk to the process (`r` it
---reads from the process, `w` it writes to the process, `s` it passes stream sockets).
---@alias coutil.stdstream file*|coutil.file|coutil.socket.stream|false|string

---How `system.execute` starts a process.
---@class coutil.command
---@field execfile string path of the executable (required)
---@field runpath? string current directory of the new process
---@field stdin? coutil.stdstream standard input of the new process (replaced by the socket made for a string)
---@field stdout? coutil.stdstream standard output of the new process (replaced by the socket made for a string)
---@field stderr? coutil.stdstream standard error of the new process (replaced by the socket made for a string)
---@field arguments? string[] command-line arguments
---@field environment? coutil.packenv|table<string, string> the only variables the process gets
---@field pid? integer set to the identifier of the new process before the call waits

---Runs a new process (a path, with string arguments, or a `coutil.command` table) and waits until it ends; returns "exit" and the exit status, or the name and number of the signal that ended it.
---@async
---@param cmd string|coutil.command
---@param ... string command-line arguments (when `cmd` is a string)
---@return string|false how "exit", a signal name (as `emitsig` takes) or "signal", or `false` when the process could not be made
---@return integer|string code the exit status or signal number, or the failure's message
---@return integer? errcode the failure's system error number
function system.execute(cmd, ...) end

-------------------------------------------------------------------------------
-- Addresses and name resolution

---An IPv4 or IPv6 address and port; `tostring(a)` gives its URI form ("192.0.2.128:80",
---"[::1]:80"), and `==` compares contents.
---@class coutil.address
---@field type "ipv4"|"ipv6" the kind of address (read-only)
---@field literal string the host as text ("192.0.2.128", "::1")
---@field binary string the host as 4 or 16 bytes in network order
---@field port integer the port, 0 to 65535

---Makes an address of `type`: the null address, one from a URI ("192.0.2.128:80", "[::1]:80"), or from a host and `port` (`mode` "t" text host, the default, or "b" binary host).
---@param type "ipv4"|"ipv6"
---@param data? string|memory URI, or host when `port` is given
---@param port? integer
---@param mode? "t"|"b"
---@return coutil.address
function system.address(type, data, port, mode) end

---Finds names for `address`: the host and service names of an address object, the service name of a port number, or the canonical name of a host name.
---@async
---@param address coutil.address|integer|string
---@param mode? string chars: `l` local names (no FQDN), `d` datagram services, `i` IDN names, `u` unassigned code points (implies `i`), `a` STD3 check (implies `i`), `~` blocking
---@return string|false name the (host or service) name, or `false` on failure
---@return string? service the service name (for an address), or the failure's message
---@return integer? errcode the failure's system error number
function system.nameaddr(address, mode) end

---The addresses found by `system.findaddr`, with a position in the list.
---@class coutil.addresses
local addresses = {}

---Frees the list of addresses; later calls of the other methods raise.
---@return boolean closed `false` when it was closed already
function addresses:close() end

---Moves to the next address; returns `false` (staying put) at the last one.
---@return boolean moved
function addresses:next() end

---Moves back to the first address.
function addresses:reset() end

---Returns the current address, stored in `address` when given.
---@param address? coutil.address
---@return coutil.address
function addresses:getaddress(address) end

---Returns the type of the current address.
---@return "ipv4"|"ipv6"
function addresses:getdomain() end

---Returns the type of socket the current address is for.
---@return "stream"|"datagram"
function addresses:getsocktype() end

---Looks up the addresses of host `name` (nil: loopback, "*": wildcard) and `service` (a name or a port number).
---@async
---@param name? string
---@param service? string|integer
---@param mode? string chars: `4` IPv4, `6` IPv6, `m` IPv4-mapped IPv6, `d` for datagram sockets, `s` for stream or passive sockets, `~` blocking
---@return coutil.addresses|false addresses the addresses found, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.findaddr(name, service, mode) end

-------------------------------------------------------------------------------
-- Sockets

---What every socket has.
---@class coutil.socket
local socket = {}

---Closes the socket (collected sockets are closed too, but later).
---@return true
function socket:close() end

---Returns the address domain the socket was made with.
---@return "ipv4"|"ipv6"|"local"|"share"
function socket:getdomain() end

---Sets option `name` of the socket: "broadcast", "mcastloop", "mcastttl", "mcastiface", "mcastjoin", "mcastleave" (datagram); "keepalive", "nodelay" (stream TCP); "permission" (local, a string of `r` and `w`).
---@param name string
---@param value any
---@param ... string interface and source addresses for "mcastjoin" and "mcastleave"
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function socket:setoption(name, value, ...) end

---Binds the socket to an address (IP sockets) or a path (local sockets).
---@param address coutil.address|string
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function socket:bind(address) end

---Returns the socket's own ("self", the default) or peer ("peer") address, stored in `address` when given; a path for local sockets.
---@param site? "self"|"peer"
---@param address? coutil.address
---@return coutil.address|string|false address the address or path, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function socket:getaddress(site, address) end

---A datagram (UDP) socket.
---@class coutil.socket.datagram : coutil.socket
local datagram = {}

---Sets the peer address datagrams go to, or removes it with no address; does not wait.
---@param address? coutil.address
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function datagram:connect(address) end

---Waits for a datagram and copies it into bytes `i` to `j` of `buffer`; stores the sender in `address` when given.
---@async
---@param buffer memory
---@param i? integer
---@param j? integer
---@param address? coutil.address
---@return integer|false count the number of bytes copied, or `false` on failure
---@return boolean|string truncated whether the datagram did not fit, or the failure's message
---@return integer? errcode the failure's system error number
function datagram:read(buffer, i, j, address) end

---Sends bytes `i` to `j` of `data` as a datagram to `address` (which must be absent when the socket has a peer).
---@async
---@param data string|memory
---@param i? integer
---@param j? integer
---@param address? coutil.address
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function datagram:write(data, i, j, address) end

---A stream socket (TCP or local).
---@class coutil.socket.stream : coutil.socket
local stream = {}

---Connects the socket to `address` (a path for local sockets) and waits until it is connected.
---@async
---@param address coutil.address|string
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function stream:connect(address) end

---Waits for bytes and copies them into bytes `i` to `j` of `buffer`; on "share" sockets, also returns a stream socket passed with them.
---@async
---@param buffer memory
---@param i? integer
---@param j? integer
---@return integer|false count the number of bytes copied, or `false` on failure ("end of file" at the end)
---@return coutil.socket.stream|string|nil passed the socket passed (on "share" sockets), or the failure's message
---@return integer? errcode the failure's system error number
function stream:read(buffer, i, j) end

---Sends bytes `i` to `j` of `data` and waits until the system has them; on "share" sockets, `socket` is passed along.
---@async
---@param data string|memory
---@param i? integer
---@param j? integer
---@param socket? coutil.socket.stream stream socket to pass ("share" sockets only)
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function stream:write(data, i, j, socket) end

---Waits until what was written has been sent, then shuts down the sending side.
---@async
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function stream:shutdown() end

---A passive socket, which accepts stream connections.
---@class coutil.socket.passive : coutil.socket
local passive = {}

---Starts listening for connections, with a queue of about `backlog` pending ones.
---@param backlog integer
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function passive:listen(backlog) end

---Waits for a connection and returns a new stream socket for it.
---@async
---@return coutil.socket.stream|false socket the connected socket, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function passive:accept() end

---Makes a socket of `type` ("datagram", "stream" or "passive") in `domain` ("ipv4", "ipv6", "local", or "share": local sockets that pass stream sockets).
---@param type "datagram"|"stream"|"passive"
---@param domain "ipv4"|"ipv6"|"local"|"share"
---@return coutil.socket.datagram|coutil.socket.stream|coutil.socket.passive|false socket the new socket, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
---@overload fun(type: "datagram", domain: "ipv4"|"ipv6"|"local"|"share"): coutil.socket.datagram|false, string?, integer?
---@overload fun(type: "stream", domain: "ipv4"|"ipv6"|"local"|"share"): coutil.socket.stream|false, string?, integer?
---@overload fun(type: "passive", domain: "ipv4"|"ipv6"|"local"|"share"): coutil.socket.passive|false, string?, integer?
function system.socket(type, domain) end

-------------------------------------------------------------------------------
-- File system

---File permissions: an integer of `filebits` bits, or a string of chars: `U` set-user-ID, `G`
---set-group-ID, `S` sticky, `r` `w` `x` owner read/write/execute, `R` `W` `X` group, `4` `2` `1`
---others.
---@alias coutil.perm integer|string

---Waits for the making of a link at `destiny` to the file at `path` (a hard link; `s` in `mode` for a symbolic one).
---@async
---@param path string
---@param destiny string
---@param mode? string chars: `s` symbolic link, `d` and `j` (Windows kinds, imply `s`), `~` blocking
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.linkfile(path, destiny, mode) end

---Waits until the file at `path` is copied to `destiny`.
---@async
---@param path string
---@param destiny string
---@param mode? string chars: `n` fail if `destiny` exists, `c` try a copy-on-write reflink, `C` reflink or fail, `~` blocking
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.copyfile(path, destiny, mode) end

---Waits until the file at `path` is moved to `destiny`.
---@async
---@param path string
---@param destiny string
---@param mode? string "~" for blocking mode
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.movefile(path, destiny, mode) end

---Waits until the file (or, with `d`, the empty directory) at `path` is removed.
---@async
---@param path string
---@param mode? string chars: `d` an empty directory, `~` blocking
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.removefile(path, mode) end

---Waits for the making of a uniquely named temporary directory (or, with `f` or `o`, file) whose path starts with `prefix`; returns its path, or one value per `f` (the path) and `o` (the open file).
---@async
---@param prefix string
---@param mode? string chars: `f` a file, return its path; `o` a file, return it opened; `~` blocking (first)
---@return string|coutil.file|false ... the path of the directory, or the values asked by `mode`, or `false`, the failure's message and its system error number
function system.maketemp(prefix, mode) end

---Waits for the making of directory `path` with permissions `perm`.
---@async
---@param path string
---@param perm coutil.perm
---@param mode? string "~" for blocking mode
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.makedir(path, perm, mode) end

---Waits for the list of entries of directory `path`; returns an iterator of names and types (as `?` of `file:info`). Raises its failures.
---@async
---@param path string
---@param mode? string "~" for blocking mode
---@return fun(state: table, name?: string): string?, string? iterator
---@return table state
function system.listdir(path, mode) end

---Waits until the access and modification times of the file at `path` change (as `file:touch`).
---@async
---@param path string
---@param mode? string chars, each taking the next of `...`: `a` access time, `m` modification time, `b` both; prefixes `~` blocking and `l` the link itself
---@param ... number times in seconds since the UNIX epoch (the current time for those not given)
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.touchfile(path, mode, ...) end

---Waits until the owner user and group of the file at `path` change (-1 leaves one unchanged).
---@async
---@param path string
---@param uid integer
---@param gid integer
---@param mode? string prefixes: `~` blocking, `l` the link itself
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.ownfile(path, uid, gid, mode) end

---Waits until the permission bits of the file at `path` change to `perm`.
---@async
---@param path string
---@param perm coutil.perm
---@param mode? string "~" for blocking mode
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.grantfile(path, perm, mode) end

---Waits until the file at `path` is open, and returns the file object.
---@async
---@param path string
---@param mode? string chars: `r` read (default), `w` write, `a` append (implies `w`), `n` create if missing, `N` create or fail, `f` synchronous writes (implies `w`), `t` truncate (implies `w`), `x` close-on-exec; `~` blocking (first)
---@param perm? coutil.perm permissions of a file created (with `n` or `N`)
---@return coutil.file|false file the open file, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.openfile(path, mode, perm) end

---Waits for information about the file at `path`: one value per char of `mode` (those of `file:info`, and `p` real path, `=` link value, `@` file system type name, `N` its number, `I` its block size, `A` `F` free blocks (for users, in all), `f` free inodes, `T` total blocks, `t` total inodes). Raises its failures.
---@async
---@param path string
---@param mode string prefixes `~` blocking and `l` the link itself, then value chars
---@return string|integer|number|boolean|nil ... one value per char
function system.fileinfo(path, mode) end

---Bitmasks of file mode bits: `type` (the mask of the file types), the file types and the
---permission bits.
---@class coutil.filebits
---@field type integer mask of the file type bits
---@field socket integer socket
---@field link integer symbolic link
---@field file integer regular file
---@field block integer block device
---@field directory integer directory
---@field character integer character device
---@field pipe integer FIFO
---@field setuid integer set-user-ID bit
---@field setgid integer set-group-ID bit
---@field sticky integer sticky bit
---@field ruser integer owner read
---@field wuser integer owner write
---@field xuser integer owner execute
---@field rgroup integer group read
---@field wgroup integer group write
---@field xgroup integer group execute
---@field rother integer others read
---@field wother integer others write
---@field xother integer others execute

---The bitmasks of file mode bits.
---@type coutil.filebits
system.filebits = {}

---An open file, from `system.openfile`, `system.maketemp` (`o`) or a standard stream.
---@class coutil.file
local file = {}

---Waits until the file is closed (collected files are closed too, without waiting).
---@async
---@param mode? string "~" for blocking mode
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:close(mode) end

---Waits until bytes of the file are read into bytes `i` to `j` of `buffer`, at `offset` (the file's position does not move) or at the file's position.
---@async
---@param buffer memory
---@param i? integer
---@param j? integer
---@param offset? integer byte offset from the start of the file
---@param mode? string "~" for blocking mode
---@return integer|false count the number of bytes read (0 at the end), or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:read(buffer, i, j, offset, mode) end

---Waits until bytes `i` to `j` of `data` (a string, memory, or a file open for reading) are written at `offset` or at the file's position.
---@async
---@param data string|memory|coutil.file
---@param i? integer required (and positive) when `data` is a file
---@param j? integer required (and positive) when `data` is a file
---@param offset? integer byte offset from the start of the file (ignored when `data` is a file)
---@param mode? string "~" for blocking mode
---@return integer|false count the number of bytes written, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:write(data, i, j, offset, mode) end

---Waits until the file is `size` bytes long (cut, or extended with zero bytes).
---@async
---@param size integer
---@param mode? string "~" for blocking mode
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:resize(size, mode) end

---Waits until data written to the file is on its device.
---@async
---@param mode? string chars: `d` skip metadata not needed to read the data back, `~` blocking
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:flush(mode) end

---Waits until the access and modification times of the file change.
---@async
---@param mode? string chars, each taking the next of `...`: `a` access time, `m` modification time, `b` both; prefix `~` blocking
---@param ... number times in seconds since the UNIX epoch (the current time for those not given)
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:touch(mode, ...) end

---Waits until the owner user and group of the file change (-1 leaves one unchanged).
---@async
---@param uid integer
---@param gid integer
---@param mode? string "~" for blocking mode
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:own(uid, gid, mode) end

---Waits until the permission bits of the file change to `perm`.
---@async
---@param perm coutil.perm
---@param mode? string "~" for blocking mode
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function file:grant(perm, mode) end

---Waits for information about the file, one value per char of `mode`: `?` type name, `M` mode bits, `_` user flags, `u` uid, `g` gid, `#` inode, `D` device, `d` represented device, `*` hard links, `B` size, `b` 512-byte blocks, `i` ideal block size, `v` generation, `a` `s` `m` `c` access, status change, modification and creation times; the chars of `coutil.perm` give booleans.
---@async
---@param mode string value chars, optionally after a `~` (blocking)
---@return string|integer|number|boolean|false ... one value per char, or `false`, the failure's message and its system error number
function file:info(mode) end

-------------------------------------------------------------------------------
-- Standard streams

---A terminal (a standard stream of the process that is a terminal).
---@class coutil.terminal
local terminal = {}

---Closes the terminal object (a raw or binary mode goes back to normal).
---@return true
function terminal:close() end

---Waits for input and copies it into bytes `i` to `j` of `buffer`.
---@async
---@param buffer memory
---@param i? integer
---@param j? integer
---@return integer|false count the number of bytes copied, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function terminal:read(buffer, i, j) end

---Writes bytes `i` to `j` of `data` and waits until the system has them.
---@async
---@param data string|memory
---@param i? integer
---@param j? integer
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function terminal:write(data, i, j) end

---Waits until what was written has been sent, then shuts down the writing side.
---@async
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function terminal:shutdown() end

---Sets the mode of the terminal: "normal", "raw" (raw input) or "binary" (binary-safe I/O).
---@param mode "normal"|"raw"|"binary"
---@return true|false ok `true`, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function terminal:setmode(mode) end

---Returns the width and height of the terminal window, in characters.
---@return integer|false width the width, or `false` on failure
---@return integer|string height the height, or the failure's message
---@return integer? errcode the failure's system error number
function terminal:winsize() end

---A standard stream of the process: a terminal, a stream socket or a file object.
---@alias coutil.stdio coutil.terminal|coutil.socket.stream|coutil.file

---The standard input of the process (made on first use; nil when its kind is not supported).
---@type coutil.stdio?
system.stdin = nil

---The standard output of the process (made on first use; nil when its kind is not supported).
---@type coutil.stdio?
system.stdout = nil

---The standard error of the process (made on first use; nil when its kind is not supported).
---@type coutil.stdio?
system.stderr = nil

-------------------------------------------------------------------------------
-- System information

---Returns one value per char of `which` about the process and the system: `e` executable, `n` host name, `T` temporary directory, `h` `k` `v` `V` hardware, kernel, release and version names, `$` shell, `H` home, `U` user name, `u` uid, `g` gid, `=` `d` `m` `R` stack, data, shared and resident sizes, `<` `>` IPC messages, `i` `o` block operations, `p` `P` page reclaims and faults, `S` signals, `w` swaps, `x` `X` context switches, `c` `s` user and system CPU time, `1` `l` `L` load averages, `t` uptime, `#` pid, `^` parent pid, `b` `f` total and free memory, `M` memory limit, `r` resident memory. Raises its failures.
---@param which string
---@return string|integer|number ... one value per char
function system.procinfo(which) end

---A snapshot of system information that a generic `for` iterates; `#iter` is the number of
---entries, and it is its own closing value.
---@class coutil.infoiterator
---@operator len: integer
---@operator call(string, integer): integer?

---Returns an iterator over the CPUs, giving the index then one value per char of `which`: `m` model, `c` clock (MHz), `u` `n` `s` `d` `i` user, nice, system, interrupt and idle times (ms). Raises its failures.
---@param which? string
---@return coutil.infoiterator iterator
---@return string? which
---@return integer initial 0
---@return coutil.infoiterator closing
function system.cpuinfo(which) end

---With "name" or "id", returns the name or IPv6 scope identifier of the interface of index `which`; with "all", an iterator over the addresses of the interfaces, one value per char of `which`: `n` name, `i` internal, `d` domain, `l` prefix length, `m` mask (binary), `t` `b` address (text, binary), `T` `B` hardware address (text, binary).
---@param option "name"|"id"|"all"
---@param which integer|string interface index, or chars for "all"
---@return string|coutil.infoiterator|false result the name or identifier, the iterator, or `false` on failure
---@return string|integer|nil errmsg the failure's message (for "all": the state)
---@return integer|coutil.infoiterator|nil errcode the failure's system error number (for "all": the initial control value; then the closing value)
function system.netinfo(option, which) end

---Waits until bytes `i` to `j` of `buffer` are filled with cryptographically strong random bytes.
---@async
---@param buffer memory
---@param i? integer
---@param j? integer
---@param mode? string "~" for blocking mode
---@return memory|false buffer the buffer, or `false` on failure
---@return string? errmsg the failure's message
---@return integer? errcode the failure's system error number
function system.random(buffer, i, j, mode) end

return system
