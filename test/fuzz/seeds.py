# test/fuzz/seeds.py: writes the seed corpus test/fuzz/corpus/<target>/
# (python3 test/fuzz/seeds.py, from anywhere). Each seed is an input in
# the byte encoding of its target's driver, spelled with helpers that
# mirror the driver's readers (str(), int(), pick(), the op numbers), so
# it starts the fuzzer at a meaningful call: a valid address, a pack that
# fits, a pinned memory closed, a packed environment with NULs. A driver
# that changes how it reads its input needs its seeds rewritten here.
import os, struct
R = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
def S(s):  # str()
    b = s.encode('latin1') if isinstance(s,str) else s
    assert len(b) < 255
    return bytes([len(b)]) + b
def I(n):  # int() small or via 8 bytes
    if -32 <= n <= 31: return bytes([(n+32)*4])
    return bytes([2]) + struct.pack('<q', n)
def P(b): return b'\x01'+b
def w(t, name, b):
    d=os.path.join(R,t); os.makedirs(d, exist_ok=True)
    open(os.path.join(d,name),'wb').write(b)
# --- address: ops byte%8; anytype: byte (!=0 mod 8) + pick byte (even ipv4, odd ipv6)
V4=b'\x01\x00'; V6=b'\x01\x01'
def val(s): return b'\x00'+S(s)       # value(): k=0 -> str
def port(n): return b'\x02'+I(n)      # port(): k>=2 -> int
w('address','text-ipv4', P(b'\x03'+V4+val('127.0.0.1')+port(80)+b'\x02')+P(b'\x04\x00\x01')+P(b'\x05\x00\x03'+port(8080)))
w('address','text-ipv6', P(b'\x03'+V6+val('::1')+port(8080)+b'\x02')+P(b'\x03'+V6+val('fe80::1:2')+port(0)+b'\x02')+P(b'\x06\x00\x01'))
w('address','uri', P(b'\x01'+V4+val('192.0.2.128:80'))+P(b'\x01'+V6+val('[::ffff:1.2.3.4]:65535'))+P(b'\x06\x00\x01'))
w('address','binary', P(b'\x03'+V4+val(b'\x7f\x00\x00\x01')+port(443)+b'\x01')+P(b'\x03'+V6+val(bytes(range(16)))+port(1)+b'\x01')+P(b'\x05\x00\x02'+val(b'\x01\x02\x03\x04')))
w('address','null', P(b'\x00'+V4)+P(b'\x00'+V6)+P(b'\x04\x00\x00')+P(b'\x05\x01\x01'+val('10.0.0.1')))
# --- memory: op byte%16, slot bytes, arg(): byte>=4 then int
def A(n): return b'\x04'+I(n)
def D(s): return b'\x02'+S(s)   # data(): k=2 -> str
def SL(k): return bytes([k])
FMT=['b','B','h','H','l','L','j','J','T','f','d','n','i','I','i3','I7','i9','I16','i17','s','s1','s2','z','x','c3','c0','c','Xi4','X','<','>','=','!','!4','!8',' ','Xs','Xc1','i0']
def F(*opts): return b'\x00'+S(''.join(opts))
def PV(n): return b'\x02'+I(n)  # packvalue int
def PS(s): return b'\x00'+S(s)
w('memory','resize-fill', P(b'\x00\x00')+P(b'\x03\x00'+A(16)+b'\x00'+D('ab'))+P(b'\x06\x00'+D('xyz')+A(3)+A(-3)+A(1))+P(b'\x05\x00'+A(1)+A(-1)))
w('memory','fixed-set-find', P(b'\x01'+A(8)+b'\x01')+P(b'\x04\x01'+A(2)+b'\x03\x61\x62\x63')+P(b'\x07\x01'+D('bc')+A(1)+A(-1)+A(1))+P(b'\x0b\x01'+A(2)+A(4)+b'\x02'))
w('memory','pack-unpack', P(b'\x01'+A(32)+b'\x00')+P(b'\x09\x00'+F('<','i4','s1','z')+A(1)+b'\x03'+PV(1234)+PS('hi')+PS('zz'))+P(b'\x0a\x00'+F('<','i4','s1','z')+A(1)))
w('memory','align', P(b'\x01'+A(24)+b'\x00')+P(b'\x09\x00'+F('!8','b','Xi4','d')+A(1)+b'\x02'+PV(-1)+PV(3))+P(b'\x0a\x00'+F('!8','b','Xi4','d')+A(1))+P(b'\x0a\x00'+F('>','I16')+A(1)))
w('memory','create-diff-close', P(b'\x02'+D('hello world')+A(2)+A(-2)+b'\x02')+P(b'\x00\x03')+P(b'\x08'+b'\x00\x02'+b'\x00\x03')+P(b'\x0e\x03')+P(b'\x0d\x02'+D('!'))+P(b'\x0f\x02'))
# --- modes: ops byte%14; mode(set): byte%4 (0 str,1 int,2-3 chars: n=byte%8 then each byte%(#set+2))
def MS(s): return b'\x00'+S(s)
def T(s): return s.encode()
w('modes','checkmode', P(b'\x00\x01'+MS('~ldi'))+P(b'\x00\x01'+MS('l~d'))+P(b'\x00\x00'+S('ab')+MS('ba'))+P(b'\x01\x00'+MS('s~d')))
w('modes','perm', P(b'\x02\x01'+S('rwxR4'))+P(b'\x02\x00'+I(0o755&31))+P(b'\x02\x01'+S('rw?')))
w('modes','fileinfo', P(b'\x03'+MS('?MBp=@N')+b'\x01')+P(b'\x04'+MS('l?#')+b'\x01')+P(b'\x05'+MS('enT$Hug1t')))
w('modes','openfile', P(b'\x0c'+MS('rw')+b'\x01'+b'\x01'+S('rwR'))+P(b'\x0d\x00'+MS('?BMrwx')+b'\x01')+P(b'\x0d\x03'+MS('d')+b'\x01')+P(b'\x08\x01'+S('rw')+MS('')+b'\x00'))
w('modes','iterators', P(b'\x06'+MS('mcunsid'))+P(b'\x07'+MS('nidlmtbTB'))+P(b'\x0a\x01'+S('rwx')+MS('')+b'\x01')+P(b'\x0b'+MS('d')+b'\x01'))
# --- packenv: per round: n=byte%12, then name()/value() pairs; name byte<10 -> str
def N(s): return b'\x00'+S(s)
def VV(s): return b'\x00'+S(s)
w('packenv','simple', P(b'\x03'+N('PATH')+VV('/usr/bin:/bin')+N('HOME')+VV('/root')+N('LANG')+VV('C.UTF-8')+b'\x00'+N('PATH')))
w('packenv','nul-and-eq', P(b'\x03'+N('A\0B')+VV('x\0y')+N('A')+VV('1')+N('B')+VV('C=D')+b'\x01'+N('A=C')))
w('packenv','bad', P(b'\x01'+N('A=B')+VV('x')+b'\x00')+P(b'\x01'+b'\x0e'+I(3)+VV('v')+b'\x00')+P(b'\x01'+N('K')+b'\x0e'+I(1)+b'\x00'))
w('packenv','empty', P(b'\x00'+b'\x00'+N(''))+P(b'\x01'+N('')+VV('')+b'\x00'+N('')))
# --- values: top byte, values (k%12), then rounds (first,last,how)
def INT(n): return b'\x02'+struct.pack('<q',n)
def FL(x): return b'\x03'+struct.pack('<d',x)
def STR(s): return b'\x05'+S(s)
w('values','scalars', bytes([6])+b'\x00'+b'\x11'+INT(-2**63)+FL(float('nan'))+FL(-0.0)+STR('a\0b') + b'\x00\x06\x01' + b'\x02\x04\x0f')
w('values','long', bytes([3])+b'\x07\x02\x05'+STR('x'*100)+b'\x04'+struct.pack('<Q',0xdeadbeef) + b'\x00\x03\x0b')
w('values','refused', bytes([5])+INT(1)+b'\x08\x02\x08\x00\x00'+b'\x09'+b'\x0a\x03'+b'\x0b' + b'\x00\x05\x09' + b'\x00\x01\x01')
w('values','empty', bytes([2])+b'\x00\x01' + b'\x02\x00\x00' + b'\x00\x00\x08')
w('packenv','probe-eq', P(b'\x01'+N('B')+VV('C=D')+b'\x01'+N('B=C')))
w('address','findaddr', P(b'\x08\x02\x00\x03\x01\xd0'+b'\x00\x00\x00\x01'+b'\x05'+b'\x02\x01'+b'\x03\x04\x00\x05')+P(b'\x08\x00\x01\x00\x00\x01\x01\x01\x04'+b'\x02\x01\x00\x02\x01\x03'))
w('address','nameaddr', P(b'\x09\x00\x01\x00\x01'+b'\x00'+b'\x01\xd6')+P(b'\x09\x01\x00\x00\x01\x01\x01'+b'\x01\xd0'+b'\x00'))
w('memory','pin-close', P(b'\x00\x00')+P(b'\x03\x00'+A(16)+b'\x01')+P(bytes([19,0]))+P(b'\x03\x00'+A(32)+b'\x01')+P(b'\x0e\x00')+P(bytes([20,0]))+P(bytes([16,0])+A(1)+A(-1)))
w('memory','external-cached', P(bytes([21])+S('abcdef')+b'\x01')+P(bytes([18,0,2,0,1])+A(2)+A(4))+P(bytes([18,0,1,0,1])+A(1)+A(-1))+P(bytes([22,1]))+P(bytes([18,0,1,0,1])+A(1)+A(-1))+P(bytes([17])+D('xyz')+A(2)+A(3)))
