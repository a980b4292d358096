#!/usr/bin/env python3
"""Seeded differential fuzzer: memcached (oracle) and memshield fed the same random text, meta and
binary commands over a handful of keys (so hits, misses and CAS races happen), some pipelined
(several commands in one write), and their replies compared byte for byte.

CAS values are normalised per server by order of appearance (first distinct CAS a server shows
-> c#1, ...), then compared; a command that quotes a CAS (cas, ms/md/ma C, binary CAS field)
quotes "the n-th CAS this server showed", so both servers get the same question. Numbers that
depend on each server's own clock (mg t/l, me exp/la) may differ by a few seconds.

Left out, being deliberate differences in docs/DESIGN.md: a get/gets/gat/gats with a key over 250
bytes (memcached drops earlier queued answers) and binary opcodes memcached does not know.

    difffuzz.py --seed 7 --commands 3000      one seed
    difffuzz.py --minutes 10                  fresh random seeds until time is up
Exits 1 on a mismatch, after printing the smallest command sequence found that still shows it.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memcompat  # noqa: E402

KEYS = [b"k0", b"k1", b"k2", b"k3", b"kk4"]
TTLS = [0, 0, 0, 1000, 5000, -1]
READ_TIMEOUT = 2.0

# ---------------------------------------------------------------------------------------------
# Commands: a command is a tuple (proto, parts); parts are bytes and ("cas", i) references,
# resolved per server to the i-th distinct CAS it has shown (or i itself if it has shown fewer).


def _val(rng):
    r = rng.random()
    if r < 0.35:
        return str(rng.choice([0, 1, 7, 42, 99, 100, 1000, 2**32, 2**64 - 2, 2**64 - 1])).encode()
    if r < 0.4:
        return b""
    if r < 0.45:
        return b"12 "  # digits then a space: incr accepts it
    n = rng.randint(1, 12)
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def _key(rng, long_ok=False):
    r = rng.random()
    if long_ok and r < 0.01:
        return b"x" * 251
    if r < 0.01:
        return b"y" * 250
    return rng.choice(KEYS)


def _casref(rng, ncas):
    r = rng.random()
    if r < 0.1 or ncas == 0:
        return rng.choice([b"0", b"1", b"999999999", b"18446744073709551615"])
    return ("cas", max(1, ncas - int(rng.expovariate(0.7))))


def _num(rng):
    return str(rng.choice([0, 1, 2, 5, 100, 2**63, 2**64 - 1])).encode()


def gen_text(rng, ncas):
    k = _key(rng, long_ok=True)
    nr = [b" noreply"] if rng.random() < 0.1 else []
    r = rng.random()
    if r < 0.30:
        cmd = rng.choice([b"set", b"set", b"add", b"replace", b"append", b"prepend", b"cas"])
        v = _val(rng)
        n = len(v)
        if rng.random() < 0.02:
            n += rng.choice([-1, 1])
            n = max(n, 0)
        parts = [cmd, b" ", k, b" ", str(rng.choice([0, 0, 5, 2**32 - 1])).encode(), b" ",
                 str(rng.choice(TTLS)).encode(), b" ", str(n).encode()]
        if cmd == b"cas":
            parts += [b" ", _casref(rng, ncas)]
        return parts + nr + [b"\r\n", v, b"\r\n"]
    if r < 0.50:
        cmd = rng.choice([b"get", b"gets", b"gat", b"gats"])
        parts = [cmd]
        if cmd in (b"gat", b"gats"):
            parts += [b" ", str(rng.choice(TTLS)).encode()]
        for _ in range(rng.randint(1, 3)):
            parts += [b" ", _key(rng)]
        return parts + [b"\r\n"]
    if r < 0.58:
        return [rng.choice([b"incr ", b"decr "]), k, b" ",
                rng.choice([_num(rng), _num(rng), b"abc", b"-1"])] + nr + [b"\r\n"]
    if r < 0.63:
        return [b"touch ", k, b" ", str(rng.choice(TTLS)).encode()] + nr + [b"\r\n"]
    if r < 0.70:
        extra = rng.choice([b"", b"", b" 0", b" 1"])
        return [b"delete ", k, extra] + nr + [b"\r\n"]
    if r < 0.705:
        return [rng.choice([b"flush_all", b"flush_all 0", b"flush_all noreply"]), b"\r\n"]
    if r < 0.72:
        return [rng.choice(JUNK)]
    return gen_meta(rng, ncas, k)


# Malformed or odd requests that still leave both servers reading the next line.
JUNK = [b"set k0 abc 0 1\r\nx\r\n", b"cas k0 0 0 1\r\nx\r\n", b"get\r\n", b"foo bar\r\n",
        b"touch k0 abc\r\n", b"incr k0\r\n", b"gat k0\r\n", b"verbosity\r\n", b"mg\r\n",
        b"ms k0\r\n", b"ms k0 abc\r\n", b"md\r\n", b"ma\r\n", b"delete\r\n",
        b"flush_all abc\r\n", b"ms k0 1 b\r\nx\r\n", b"mg azA= b v c\r\n", b"ms azE= 1 b c\r\nx\r\n",
        b"md azE= b q\r\n", b"ma azI= b N0 J7 v\r\n", b"mg k0 O123456789012345678901234567890123 v\r\n",
        b"mg k0 v v\r\n", b"ms k0 1 T1 T2\r\nx\r\n", b"incr k0 18446744073709551616\r\n",
        b"set k0 0 0 1 noreply extra\r\nx\r\n", b"gets k0 k0 k0 k0 k0 k0 k0 k0 k0 k0 k0\r\n",
        b"ma k0 D18446744073709551615 MI\r\n", b"ma k0 Dx\r\n", b"mg k0 N-5 s\r\n",
        b"ms k0 2 MA\r\nxx\r\n", b"ms kk4 1 I\r\nx\r\n", b"md k1 I T-1\r\n", b"mn extra\r\n"]


MG_FLAGS = [b"c", b"f", b"h", b"k", b"l", b"s", b"t", b"v", b"q", b"u", b"O12", b"N100",
            b"R30", b"R2000", b"T100", b"T-1", b"T0", b"E5", b"x", b"Zz", b"b"]
MS_FLAGS = [b"c", b"k", b"q", b"I", b"O9", b"F3", b"T100", b"T-1", b"ME", b"MA", b"MP", b"MR",
            b"MS", b"Ms", b"MX", b"s", b"f", b"x", b"C"]
MD_FLAGS = [b"q", b"I", b"k", b"O5", b"T30", b"z", b"C"]  # x: taken from 1.6.19+ (test_meta_1_6_45.py)
MA_FLAGS = [b"q", b"c", b"t", b"v", b"k", b"O7", b"N100", b"J13", b"D2", b"D0", b"T100",
            b"MI", b"M+", b"MD", b"M-", b"Mx", b"x", b"C"]


def _mflags(rng, pool, ncas, most=5):
    out = []
    for _ in range(rng.randint(0, most)):
        f = rng.choice(pool)
        if f == b"C":
            out += [b" C", _casref(rng, ncas)]
        else:
            out += [b" ", f]
    return out


def gen_meta(rng, ncas, k):
    r = rng.random()
    if k == b"x" * 251 and rng.random() < 0.8:
        k = rng.choice(KEYS)
    if r < 0.35:
        return [b"mg ", k] + _mflags(rng, MG_FLAGS, ncas) + [b"\r\n"]
    if r < 0.70:
        v = _val(rng)
        fl = _mflags(rng, MS_FLAGS, ncas)
        if rng.random() < 0.3:
            fl += [b" C", _casref(rng, ncas)]
        return [b"ms ", k, b" ", str(len(v)).encode()] + fl + [b"\r\n", v, b"\r\n"]
    if r < 0.82:
        fl = _mflags(rng, MD_FLAGS, ncas, 3)
        if rng.random() < 0.3:
            fl += [b" C", _casref(rng, ncas)]
        return [b"md ", k] + fl + [b"\r\n"]
    if r < 0.97:
        fl = _mflags(rng, MA_FLAGS, ncas, 4)
        if rng.random() < 0.2:
            fl += [b" C", _casref(rng, ncas)]
        return [b"ma ", k] + fl + [b"\r\n"]
    if r < 0.99:
        return [b"mn\r\n"]
    return [b"me ", k, b"\r\n"]


# Binary: opcodes and their shapes.
B_GETS = [0x00, 0x09, 0x0C, 0x0D]
B_STORES = [0x01, 0x02, 0x03, 0x11, 0x12, 0x13]
B_CONCAT = [0x0E, 0x0F, 0x19, 0x1A]
B_DELTA = [0x05, 0x06, 0x15, 0x16]
B_GAT = [0x1C, 0x1D, 0x1E, 0x23, 0x24]
B_DEL = [0x04, 0x14]


def _bin(op, key=b"", extras=b"", value=b"", cas=0, opaque=0):
    return [("bin", op, key, extras, value, cas, opaque)]


def gen_binary(rng, ncas):
    k = _key(rng)
    r = rng.random()
    cas = 0
    if rng.random() < 0.35:
        cas = _casref(rng, ncas)
        if isinstance(cas, bytes):
            cas = int(cas)
    op_ = rng.randint(1, 2**31)
    ttl = rng.choice([0, 0, 1000, 2**32 - 1])
    if r < 0.25:
        return _bin(rng.choice(B_GETS), k, opaque=op_)
    if r < 0.50:
        return _bin(rng.choice(B_STORES), k, struct.pack(">II", rng.choice([0, 9]), ttl),
                    _val(rng), cas, op_)
    if r < 0.60:
        return _bin(rng.choice(B_CONCAT), k, b"", _val(rng), cas, op_)
    if r < 0.75:
        ex = struct.pack(">QQI", rng.choice([0, 1, 3, 2**64 - 1]), rng.choice([0, 5, 2**63]),
                         rng.choice([0, 1000, 0xFFFFFFFF]))
        return _bin(rng.choice(B_DELTA), k, ex, b"", cas, op_)
    if r < 0.85:
        return _bin(rng.choice(B_GAT), k, struct.pack(">I", ttl), b"", 0, op_)
    if r < 0.97:
        return _bin(rng.choice(B_DEL), k, b"", b"", cas, op_)
    if r < 0.99:
        return _bin(0x0A, opaque=op_)
    return _bin(rng.choice([0x08, 0x18]), b"", b"", b"", 0, op_)


# ---------------------------------------------------------------------------------------------
# One server's side


class Side:
    def __init__(self, server):
        self.server = server
        self.cas_index: dict[int, int] = {}
        self.cas_list: list[int] = []
        self.socks = {}
        self.seq = 0

    def reset_cas(self):
        self.cas_index.clear()
        self.cas_list.clear()

    def sock(self, proto):
        s = self.socks.get(proto)
        if s is None:
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks[proto] = s
        return s

    def drop(self, proto):
        s = self.socks.pop(proto, None)
        if s is not None:
            s.close()

    def close(self):
        for p in list(self.socks):
            self.drop(p)

    def note_cas(self, c):
        if c and c not in self.cas_index:
            self.cas_list.append(c)
            self.cas_index[c] = len(self.cas_list)
        return self.cas_index.get(c, 0)

    def resolve(self, ref):
        if isinstance(ref, tuple):
            i = ref[1]
            return self.cas_list[i - 1] if 0 < i <= len(self.cas_list) else i
        return ref

    def encode(self, cmd):
        out = bytearray()
        for p in cmd:
            if isinstance(p, bytes):
                out += p
            elif p[0] == "cas":
                out += str(self.resolve(p)).encode()
            elif p[0] == "bin":
                _, op, key, extras, value, cas, opaque = p
                cas = self.resolve(cas) if isinstance(cas, tuple) else cas
                body = len(extras) + len(key) + len(value)
                out += struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0, body,
                                   opaque, cas & (2**64 - 1)) + extras + key + value
        return bytes(out)

    def run(self, proto, cmds):
        """Sends the commands in one write plus a sentinel; returns the raw reply (or a marker
        for a closed connection or a stall)."""
        payload = b"".join(self.encode(c) for c in cmds)
        self.seq += 1
        if proto == "text":
            sentinel = b"mg zzsentinel O%d\r\n" % self.seq
            end_mark = b"EN O%d\r\n" % self.seq
        else:
            sentinel = struct.pack(">BBHBBHIIQ", 0x80, 0x0A, 0, 0, 0, 0, 0, 0xFEEDFACE, 0)
        s = self.sock(proto)
        try:
            s.sendall(payload + sentinel)
        except OSError:
            self.drop(proto)
            return b"<send failed>"
        buf = bytearray()
        deadline = time.monotonic() + READ_TIMEOUT
        while True:
            if proto == "text" and buf.endswith(end_mark):
                return bytes(buf[:-len(end_mark)])
            if proto == "binary":
                end = _binary_end(buf)
                if end is not None:
                    return bytes(buf[:end])
            left = deadline - time.monotonic()
            if left <= 0:
                self.drop(proto)
                return bytes(buf) + b"<stalled>"
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            try:
                d = s.recv(1 << 20)
            except OSError:
                d = b""
            if not d:
                self.drop(proto)
                return bytes(buf) + b"<closed>"
            buf += d

    def normalise(self, proto, data):
        if proto == "binary":
            return self._norm_binary(data)
        def vrepl(m):
            return m.group(1) + b"c#%d" % self.note_cas(int(m.group(2))) + b"\r\n"
        data = re.sub(rb"(VALUE \S+ \d+ \d+ )(\d+)\r\n", vrepl, data)
        out = []
        for line in data.split(b"\r\n"):
            if line[:3] in (b"HD ", b"VA ", b"EX ", b"NF ", b"NS ", b"EN ") or line[:3] == b"ME ":
                toks = line.split(b" ")
                for i, t in enumerate(toks[1:], 1):
                    if re.fullmatch(rb"c\d+", t):
                        toks[i] = b"c#%d" % self.note_cas(int(t[1:]))
                    elif t.startswith(b"cas="):
                        toks[i] = b"cas=#%d" % self.note_cas(int(t[4:]))
                line = b" ".join(toks)
            out.append(line)
        return b"\r\n".join(out)

    def _norm_binary(self, data):
        out = bytearray()
        i = 0
        while i + 24 <= len(data):
            blen = struct.unpack(">I", data[i + 8:i + 12])[0]
            cas = struct.unpack(">Q", data[i + 16:i + 24])[0]
            hdr = bytearray(data[i:i + 24])
            hdr[16:24] = struct.pack(">Q", self.note_cas(cas))
            out += hdr + data[i + 24:i + 24 + blen]
            i += 24 + blen
        return bytes(out) + data[i:]


def _binary_end(buf):
    i = 0
    while i + 24 <= len(buf):
        blen = struct.unpack(">I", buf[i + 8:i + 12])[0]
        if i + 24 + blen > len(buf):
            return None
        if buf[i + 1] == 0x0A and buf[i + 12:i + 16] == b"\xfe\xed\xfa\xce":
            return i
        i += 24 + blen
    return None


CLOCK_SLACK = 3
_CLOCKY = re.compile(rb"^(t|l|exp=|la=)(-?\d+)$")
_PADDED = re.compile(rb"(\d+) +")


def unpad(data: bytes, proto: str) -> bytes:
    """Numbers padded with spaces become bare (lengths adjusted): memcached rewrites a shorter
    incr/decr result in place, padded, unless something still references the item -- which its
    LRU maintainer does for a moment after a read (asynchronous bump), so memcached itself pads
    or not depending on timing."""
    out = bytearray()
    if proto == "binary":
        i = 0
        while i + 24 <= len(data):
            klen = struct.unpack(">H", data[i + 2:i + 4])[0]
            elen = data[i + 4]
            blen = struct.unpack(">I", data[i + 8:i + 12])[0]
            body = data[i + 24:i + 24 + blen]
            head = body[:elen + klen]
            val = body[elen + klen:]
            m = _PADDED.fullmatch(val)
            if m:
                val = m.group(1)
            hdr = bytearray(data[i:i + 24])
            hdr[8:12] = struct.pack(">I", len(head) + len(val))
            out += hdr + head + val
            i += 24 + blen
        return bytes(out) + data[i:]
    pos = 0
    head_re = re.compile(rb"(VALUE \S+ \d+ |VA )(\d+)([^\r\n]*)\r\n")
    while True:
        m = head_re.search(data, pos)
        if not m or (m.start() != 0 and data[m.start() - 2:m.start()] != b"\r\n"):
            if not m:
                break
            out += data[pos:m.end()]
            pos = m.end()
            continue
        n = int(m.group(2))
        val = data[m.end():m.end() + n]
        pm = _PADDED.fullmatch(val)
        if pm:
            val = pm.group(1)
        out += data[pos:m.start()] + m.group(1) + str(len(val)).encode() + m.group(3) + b"\r\n"
        out += val
        pos = m.end() + n
    return bytes(out) + data[pos:]


def same(a: bytes, b: bytes) -> bool:
    """Byte-equal, except clock-derived numbers (t, l, exp=, la=) may differ by CLOCK_SLACK:
    each server ticks its own coarse clock, and memcached's lags by seconds on a loaded machine
    (its once-a-second timer runs late), then jumps."""
    if a == b:
        return True
    ta, tb = re.split(rb"( |\r\n)", a), re.split(rb"( |\r\n)", b)
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb):
        if x == y:
            continue
        mx, my = _CLOCKY.match(x), _CLOCKY.match(y)
        if not (mx and my and mx.group(1) == my.group(1)):
            return False
        if abs(int(mx.group(2)) - int(my.group(2))) > CLOCK_SLACK:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# A run


# memcached's LRU maintainer bumps a read item asynchronously, holding a reference meanwhile, and
# an incr/decr on a referenced item replaces it (unpadded, unfetched) instead of rewriting it in
# place: a race inside memcached. Without the maintainer its answers are deterministic.
SERVER_FLAGS = ["-o", "no_lru_maintainer,no_lru_crawler"]


class Pair:
    raw_cas = False  # also require the very same CAS numbers (same issuing rules from a fresh start)
    tolerate_padding = False

    def __init__(self, extra=()):
        self.servers = memcompat.ServerPair(SERVER_FLAGS + list(extra)).start()
        self.a = Side(self.servers.oracle)
        self.b = Side(self.servers.candidate)

    def close(self):
        self.a.close()
        self.b.close()
        self.servers.stop()

    def batch(self, proto, cmds):
        ra = self.a.run(proto, cmds)
        rb = self.b.run(proto, cmds)
        na, nb = self.a.normalise(proto, ra), self.b.normalise(proto, rb)
        ok = same(na, nb) or (Pair.tolerate_padding and same(unpad(na, proto), unpad(nb, proto)))
        if Pair.raw_cas and ok and not (same(ra, rb) or same(unpad(ra, proto), unpad(rb, proto))):
            return False, ra, rb
        return ok, na, nb


def generate(rng, ncas):
    """One batch: (proto, [commands])."""
    proto = "binary" if rng.random() < 0.25 else "text"
    n = 1 if rng.random() < 0.5 else rng.randint(2, 8)
    gen = gen_binary if proto == "binary" else gen_text
    return proto, [gen(rng, ncas) for _ in range(n)]


def replay(batches, extra=()):
    """Runs recorded batches on a fresh pair; returns the index of the first mismatch or None."""
    pair = Pair(extra)
    try:
        for i, (proto, cmds) in enumerate(batches):
            ok, _, _ = pair.batch(proto, cmds)
            if not ok:
                return i
        return None
    finally:
        pair.close()


def shrink(batches, extra=(), budget=120):
    """Greedy minimisation: drop batches, then commands, while the mismatch stays."""
    first = replay(batches, extra)
    if first is None:
        return batches, False
    cur = batches[:first + 1]
    tries = 0
    chunk = max(1, len(cur) // 2)
    while chunk >= 1 and tries < budget:
        i = 0
        progressed = False
        while i < len(cur) - 1 and tries < budget:
            cand = cur[:i] + cur[i + chunk:] if i + chunk < len(cur) else cur[:i] + cur[-1:]
            if len(cand) == len(cur):
                break
            tries += 1
            f = replay(cand, extra)
            if f is not None:
                cur = cand[:f + 1]
                progressed = True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    # then single commands inside batches
    for bi in range(len(cur)):
        ci = 0
        while len(cur[bi][1]) > 1 and ci < len(cur[bi][1]) and tries < budget:
            proto, cmds = cur[bi]
            cand = cur[:bi] + [(proto, cmds[:ci] + cmds[ci + 1:])] + cur[bi + 1:]
            tries += 1
            f = replay(cand, extra)
            if f is not None and f == len(cand) - 1:
                cur = cand
            else:
                ci += 1
    return cur, True


def show(batches, pair_extra=()):
    side = Side(None)
    lines = []
    for proto, cmds in batches:
        w = b"".join(side.encode(c) for c in cmds)
        lines.append(f"  [{proto}] {w!r}")
    return "\n".join(lines)


def run_seed(seed, commands, extra=(), shrink_budget=120):
    """Returns (commands_compared, mismatch_report or None)."""
    rng = random.Random(seed)
    pair = Pair(extra)
    batches = []
    sent = 0
    try:
        while sent < commands:
            proto, cmds = generate(rng, len(pair.a.cas_list))
            batches.append((proto, cmds))
            ok, na, nb = pair.batch(proto, cmds)
            sent += len(cmds)
            if not ok:
                break
        else:
            return sent, None
    finally:
        pair.close()
    report = [f"MISMATCH seed={seed} at command {sent}, batch {len(batches)}:",
              show(batches[-1:]), f"  memcached: {na!r}", f"  memshield: {nb!r}"]
    small, still = shrink(batches, extra, shrink_budget)
    if still:
        pair = Pair(extra)
        try:
            for proto, cmds in small:
                ok, ma, mb = pair.batch(proto, cmds)
        finally:
            pair.close()
        report += [f"minimal sequence ({len(small)} batches):", show(small),
                   f"  memcached: {ma!r}", f"  memshield: {mb!r}"]
    else:
        report.append("(did not reproduce on a fresh pair: timing-dependent)")
    return sent, "\n".join(report)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seed", type=int, action="append", help="run this seed (repeatable)")
    ap.add_argument("--commands", type=int, default=3000, help="commands per seed")
    ap.add_argument("--minutes", type=float, help="run fresh random seeds for this long")
    ap.add_argument("--raw-cas", action="store_true",
                    help="also compare the CAS numbers themselves (issue order from a fresh start)")
    ap.add_argument("--keep-going", action="store_true", help="do not stop at the first mismatch")
    args = ap.parse_args()
    Pair.raw_cas = args.raw_cas
    total, mismatches, seeds = 0, 0, 0
    start = time.monotonic()
    seed_list = args.seed or []
    i = 0
    while True:
        if seed_list:
            if i >= len(seed_list):
                break
            seed = seed_list[i]
        else:
            if args.minutes is None and i >= 1:
                break
            if args.minutes is not None and time.monotonic() - start > args.minutes * 60:
                break
            seed = random.SystemRandom().randrange(2**31)
        i += 1
        n, rep = run_seed(seed, args.commands)
        total += n
        seeds += 1
        print(f"seed {seed}: {n} commands, {'MISMATCH' if rep else 'ok'}", flush=True)
        if rep:
            mismatches += 1
            print(rep, flush=True)
            if not args.keep_going:
                break
    print(f"compared {total} commands over {seeds} seeds in {time.monotonic() - start:.0f} s; "
          f"{mismatches} mismatching seeds")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
