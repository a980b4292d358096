"""Which commands consume a CAS unique, and when: each case runs on memcached and memshield, and
the number of CAS values it used up (measured by storing a probe item before and after) must be
the same, as must the answer. Together these pin memcached 1.6.18's issuing rules across text,
meta and binary (a failed add consumes none, flush_all consumes one, md I one, ...)."""
import re
import socket
import struct

import pytest

import memcompat


def pkt(op, key=b"", extras=b"", value=b"", cas=0):
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0,
                       len(extras) + len(key) + len(value), 0, cas) + extras + key + value


SET_EX = struct.pack(">II", 0, 0)
DELTA = struct.pack(">QQI", 1, 5, 0)

# name -> request; %(c)d is the CAS of item "a" (value "1") at the time.
TEXT = {
    "set": b"set a 0 0 1\r\n2\r\n", "add-hit": b"add a 0 0 1\r\n2\r\n",
    "add-miss": b"add n 0 0 1\r\n2\r\n", "replace-miss": b"replace n 0 0 1\r\n2\r\n",
    "append-hit": b"append a 0 0 1\r\n2\r\n", "prepend-miss": b"prepend n 0 0 1\r\n2\r\n",
    "cas-match": b"cas a 0 0 1 %(c)d\r\n2\r\n", "cas-bad": b"cas a 0 0 1 999999\r\n2\r\n",
    "cas-miss": b"cas n 0 0 1 5\r\n2\r\n", "incr": b"incr a 1\r\n", "incr-miss": b"incr n 1\r\n",
    "incr-nonnum": b"incr s 1\r\n", "touch": b"touch a 100\r\n", "gats": b"gats 100 a\r\n",
    "delete": b"delete a\r\n", "flush_all": b"flush_all\r\n", "bad-chunk": b"set a 0 0 1\r\n22\r\n",
    "mg-N-miss": b"mg n N100\r\n", "mg-N-hit": b"mg a N100 T100\r\n",
    "ms-C-match": b"ms a 1 c C%(c)d\r\n2\r\n", "ms-C-bad": b"ms a 1 c C999999\r\n2\r\n",
    "ms-C0": b"ms a 1 c C0\r\n2\r\n", "ms-ME-hit": b"ms a 1 c ME\r\n2\r\n",
    "ms-ME-C-miss": b"ms n 1 c ME C5\r\n2\r\n", "ms-MR-C0": b"ms a 1 c MR C0\r\n2\r\n",
    "ms-MR-C-match": b"ms a 1 c MR C%(c)d\r\n2\r\n", "ms-MR-C-miss": b"ms n 1 c MR C5\r\n2\r\n",
    "ms-MA-C0": b"ms a 1 c MA C0\r\n2\r\n", "ms-MA-C-bad": b"ms a 1 c MA C99999\r\n2\r\n",
    "ms-MP-C-match": b"ms a 1 c MP C%(c)d\r\n2\r\n", "ms-bad-mode": b"ms a 1 c MX\r\n2\r\n",
    "ms-I-C-low": b"ms a 1 c I C1\r\n2\r\n", "ms-I-C-high": b"ms a 1 c I C99999\r\n2\r\n",
    "md-C-match": b"md a C%(c)d\r\n", "md-C0": b"md a C0\r\n", "md-I": b"md a I\r\n",
    "md-I-C-bad": b"md a I C99999\r\n", "ma": b"ma a c\r\n", "ma-C-bad": b"ma a C99999\r\n",
    "ma-C0": b"ma a C0 c\r\n", "ma-N-miss": b"ma n N100 c\r\n", "me": b"me a\r\n",
}
BINARY = {
    "b-add-hit": pkt(0x02, b"a", SET_EX, b"2"), "b-set-C-bad": pkt(0x01, b"a", SET_EX, b"2", 99999),
    "b-add-C-miss": pkt(0x02, b"n", SET_EX, b"2", 5), "b-append-C-bad": pkt(0x0E, b"a", b"", b"2", 99999),
    "b-append-hit": pkt(0x0E, b"a", b"", b"2"), "b-incr": pkt(0x05, b"a", DELTA),
    "b-incr-create": pkt(0x05, b"n", DELTA), "b-incr-C-bad": pkt(0x05, b"a", DELTA, cas=99999),
    "b-touch": pkt(0x1C, b"a", struct.pack(">I", 100)), "b-delete-C-bad": pkt(0x04, b"a", cas=99999),
    "b-flush": pkt(0x08),
}


def recv_until(sock, done):
    buf = b""
    while not done(buf):
        d = sock.recv(65536)
        if not d:
            break
        buf += d
    return buf


def text_rt(sock, req):
    sock.sendall(req + b"mn\r\n")
    return recv_until(sock, lambda b: b.endswith(b"MN\r\n"))[:-4]


def bin_rt(sock, req):
    sock.sendall(req + pkt(0x0A))

    def done(b):
        i = 0
        while i + 24 <= len(b):
            n = struct.unpack(">I", b[i + 8:i + 12])[0]
            if i + 24 + n > len(b):
                return False
            if b[i + 1] == 0x0A:
                return True
            i += 24 + n
        return False
    out = recv_until(sock, done)
    # keep opcode, status and body; CAS values are compared as counts, not numbers
    res, i = [], 0
    while i + 24 <= len(out):
        n = struct.unpack(">I", out[i + 8:i + 12])[0]
        res.append((out[i + 1], out[i + 6:i + 8], out[i + 24:i + 24 + n]))
        i += 24 + n
    return res


def consumption(port):
    t = socket.create_connection(("127.0.0.1", port))
    b = socket.create_connection(("127.0.0.1", port))
    seen = {}

    def probe():
        r = text_rt(t, b"set z 0 0 1\r\n1\r\ngets z\r\n")
        return int(re.search(rb"VALUE z 0 1 (\d+)", r).group(1))

    for name, req in list(TEXT.items()) + list(BINARY.items()):
        text_rt(t, b"set s 0 0 1\r\nx\r\nset a 0 0 1\r\n1\r\ndelete n\r\n")
        c0 = probe()
        c = int(re.search(rb"VALUE a 0 1 (\d+)", text_rt(t, b"gets a\r\n")).group(1))
        if name.startswith("b-"):
            reply = bin_rt(b, req)
        else:
            reply = re.sub(rb" c\d+", b" c<cas>", text_rt(t, req % {b"c": c} if b"%(c)" in req
                                                              else req))
        seen[name] = (probe() - c0 - 1, reply)
    t.close()
    b.close()
    return seen


def test_cas_issuing_rules_match_memcached(pair):
    want = consumption(pair.oracle.port)
    assert {v[0] for v in want.values()} == {0, 1}  # the probe sees both kinds
    got = consumption(pair.candidate.port)
    diffs = [f"{k}: memcached uses {want[k][0]} ({want[k][1]!r}), memshield {got[k][0]} "
             f"({got[k][1]!r})" for k in want if want[k] != got[k]]
    assert not diffs, "\n".join(diffs)
