/*
** fuzz_address: system.address(type, data, port, mode) with the input
** split into fields, and the fields of address objects (type, literal,
** binary, port) read and written; tostring and ==.
** Properties: every address made or changed gives back its own host and
** port, literally (tostring parsed again) and in binary.
*/
#include "fuzz.h"

static FzDriver driver = {"=fuzz_address", FZ_PRELUDE
"local address = system.address\n"
"local TYPES = {'ipv4', 'ipv6'}\n"
"local FIELDS = {'type', 'literal', 'binary', 'port'}\n"
"local addrs = {}\n"
"local function value ()\n"  /* data for a host: mostly a string */
"  local k = byte() % 8\n"
"  if k < 5 then return str()\n"
"  elseif k == 5 then return memory.create(str())\n"
"  elseif k == 6 then return int()\n"
"  end\n"
"  if byte() % 2 == 0 then return nil end\n"
"  return pick{true, {}, 1.5, print, 2^63}\n"
"end\n"
"local function anytype ()\n"
"  if byte() % 8 == 0 then return str() end\n"
"  return pick(TYPES)\n"
"end\n"
"local function port ()\n"
"  local k = byte() % 8\n"
"  if k == 0 then return nil end\n"
"  if k == 1 then return pick{'80', 1.0, 0.5, 'x', {}, 65536.0} end\n"
"  return int()\n"
"end\n"
/* the round trips of a valid address 'a' */
"local function check (a)\n"
"  local t = a.type\n"
"  if t ~= 'ipv4' and t ~= 'ipv6' then FAIL('type ' .. tostring(t)) end\n"
"  local b = a.binary\n"
"  if #b ~= (t == 'ipv4' and 4 or 16) then FAIL('binary size') end\n"
"  local p = a.port\n"
"  if math.type(p) ~= 'integer' or p < 0 or p > 65535 then\n"
"    FAIL('port ' .. tostring(p))\n"
"  end\n"
"  local ok, c = pcall(address, t, tostring(a))\n"
"  if not ok or c ~= a then\n"
"    FAIL('tostring round trip: ' .. tostring(a) .. ' ' .. tostring(c))\n"
"  end\n"
"  local ok2, d = pcall(address, t, b, p, 'b')\n"
"  if not ok2 or d ~= a then FAIL('binary round trip ' .. tostring(a)) end\n"
"  local ok3, e = pcall(address, t, a.literal, p)\n"
"  if not ok3 or e ~= a then FAIL('literal round trip ' .. tostring(a)) end\n"
"end\n"
"while more() do\n"
"  local op = byte() % 8\n"
"  local ok, a\n"
"  if op == 0 then ok, a = pcall(address, anytype())\n"
"  elseif op == 1 then ok, a = pcall(address, anytype(), value())\n"
"  elseif op == 2 then\n"
"    ok, a = pcall(address, anytype(), value(), port())\n"
"  elseif op == 3 then\n"
"    local m = byte() % 4\n"
"    local mode = m == 0 and str() or (m == 1 and 'b' or 't')\n"
"    ok, a = pcall(address, anytype(), value(), port(), mode)\n"
"  elseif op == 4 and #addrs > 0 then\n"  /* read a field */
"    local x = addrs[byte() % #addrs + 1]\n"
"    local f = byte() % 8 == 0 and str() or pick(FIELDS)\n"
"    pcall(function () return x[f] end)\n"
"  elseif op == 5 and #addrs > 0 then\n"  /* write a field */
"    local x = addrs[byte() % #addrs + 1]\n"
"    local f = byte() % 8 == 0 and str() or pick(FIELDS)\n"
"    local v = f == 'port' and port() or value()\n"
"    if pcall(function () x[f] = v end) then check(x) end\n"
"    check(x)\n"
"  elseif op == 6 and #addrs > 1 then\n"
"    local x = addrs[byte() % #addrs + 1]\n"
"    local y = addrs[byte() % #addrs + 1]\n"
"    local same = x == y\n"
"    if same ~= (tostring(x) == tostring(y) and x.type == y.type) then\n"
"      FAIL('== and tostring disagree: ' .. tostring(x) .. ' ' .. tostring(y))\n"
"    end\n"
"  elseif op == 7 then\n"  /* addresses are usable as keys, compared by ==*/
"    collectgarbage('step')\n"
"  end\n"
"  if ok then\n"
"    check(a)\n"
"    if #addrs < 16 then addrs[#addrs + 1] = a end\n"
"  end\n"
"end\n"
, NULL, 0};

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  fz_rundriver(fz_newstate(1, 1), &driver, data, size);
  return 0;
}
