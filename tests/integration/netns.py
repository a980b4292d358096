"""Shared helpers for the UDP guard and ACL integration tests (issue 3).

* Network namespaces: ``Topology`` builds private namespaces joined by a bridge
  that lives in a namespace of its own; nothing is added to the host's
  namespace, and everything is deleted again (``with Topology(...) as topo``).
  ``in_netns(name)`` switches the calling thread into a namespace just long
  enough to create sockets there (a socket stays in the namespace it was made
  in), so the tests drive every namespace from one Python process.
* ``RawSender``: hand-built IPv4+UDP packets through an IPPROTO_RAW socket, for
  spoofed sources -- only ever created inside a namespace the test made.
* ``Capture``: an AF_PACKET socket counting the UDP payload bytes that arrive
  in a namespace, whatever the destination port.
* memcached UDP framing (8-byte header) and memshield's cookie block, a UDP
  client with reassembly, and a small TCP client.
* Process helpers that start memshield / memcached (optionally inside a
  namespace via ``ip netns exec``) and always kill them.

NETWORK RULE: every packet goes to loopback or to addresses inside namespaces
created by the tests; every loop is bounded in count and time.
"""

import contextlib
import ctypes
import itertools
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import procutil
from conftest import RawConn, free_tcp_udp_port

REPO_ROOT = Path(__file__).resolve().parents[2]
MEMCACHED_BIN = "/usr/bin/memcached"
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6

COOKIE_MAGIC = 0x4D53
COOKIE_BLOCK_SIZE = 26
BUDGET_ERROR = b"SERVER_ERROR response exceeds unvalidated UDP budget; use TCP\r\n"
UDP_DATAGRAM_MAX = 1400
SPOOF_TTL = 77  # marks injected packets in captures (kernel-sent ones carry 64)

_libc = ctypes.CDLL(None, use_errno=True)
_seq = itertools.count(1)


# --------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------
def memshield_bin():
    return os.environ.get("MEMSHIELD_BIN") or str(REPO_ROOT / "build" / "bin" / "memshield")


def require_memshield():
    if os.environ.get("MEMSHIELD_SERVER", "").strip().lower() == "memcached":
        pytest.skip("memshield-specific (UDP guard / ACL) test; MEMSHIELD_SERVER=memcached")
    b = memshield_bin()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail(f"memshield binary not found or not executable: {b}")
    return b


def require_memcached():
    if not os.access(MEMCACHED_BIN, os.X_OK):
        pytest.fail(f"{MEMCACHED_BIN} missing (scripts/deps.sh test installs it)")
    return MEMCACHED_BIN


def netns_unavailable_reason():
    """None if namespaces can be used, else why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "network-namespace tests need root (ip netns, raw sockets)"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    name = f"msprobe{os.getpid()}"
    try:
        r = subprocess.run(["ip", "netns", "add", name], capture_output=True, timeout=10)
        if r.returncode != 0:
            return "`ip netns add` failed: " + r.stderr.decode(errors="replace").strip()
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
    return None


_NETNS_REASON = []


def skip_without_netns():
    if not _NETNS_REASON:
        _NETNS_REASON.append(netns_unavailable_reason())
    if _NETNS_REASON[0]:
        pytest.skip(_NETNS_REASON[0])


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, timeout=15)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
    return r


@contextlib.contextmanager
def in_netns(name):
    """Run the body with this thread inside namespace `name` (None: no switch)."""
    if name is None:
        yield
        return
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"setns({name}): {os.strerror(e)}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if _libc.setns(orig, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, f"setns back: {os.strerror(e)}")
    finally:
        os.close(orig)


def remove_stale_namespaces():
    """Delete namespaces left by an earlier run of these tests that was killed
    before its teardown (names ms<pid>x<n>..., pid no longer alive)."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for n in names:
        m = re.fullmatch(r"ms(\d+)x\d+[a-z]+", n)
        if m and int(m.group(1)) != os.getpid() and not os.path.exists(f"/proc/{m.group(1)}"):
            _ip("netns", "del", n, check=False)


class Topology:
    """Namespaces `roles` (e.g. att, srv, vic) on one /24, bridged in a hub namespace.

    topo.ns[role] is the namespace name, topo.ip[role] its address. Names carry
    the pid and a counter, so parallel runs never collide. Always torn down.
    """

    def __init__(self, roles=("att", "srv", "vic"), subnet="10.77.0", bridged=True):
        tag = f"ms{os.getpid()}x{next(_seq)}"
        self.tag = tag
        self.roles = list(roles)
        self.bridged = bridged
        self.hub = f"{tag}hub"
        self.ns = {r: f"{tag}{r}" for r in self.roles}
        self.ip = {r: f"{subnet}.{i + 1}" for i, r in enumerate(self.roles)}
        self.created = []

    def __enter__(self):
        remove_stale_namespaces()
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()

    def up(self):
        if self.bridged:
            _ip("netns", "add", self.hub)
            self.created.append(self.hub)
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
            _ip("-n", self.hub, "link", "set", "br0", "up")
        for i, r in enumerate(self.roles):
            ns = self.ns[r]
            _ip("netns", "add", ns)
            self.created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            if not self.bridged:
                continue
            port = f"p{i}"
            _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ip("-n", self.hub, "link", "set", port, "master", "br0")
            _ip("-n", self.hub, "link", "set", port, "up")
            _ip("-n", ns, "addr", "add", f"{self.ip[r]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def down(self):
        for ns in reversed(self.created):
            _ip("netns", "del", ns, check=False)
        self.created = []


# --------------------------------------------------------------------------
# packets
# --------------------------------------------------------------------------
def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4_udp_packet(src, sport, dst, dport, payload, ident=0):
    """A complete IPv4 packet; UDP checksum 0 (allowed over IPv4)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0x4000, SPOOF_TTL,
                      socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + udp


class RawSender:
    """Spoofed-source UDP sender; create it inside a test namespace only."""

    def __init__(self, ns):
        if ns is None:
            raise ValueError("spoofing is only allowed inside a test namespace")
        with in_netns(ns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.sent_payload_bytes = 0
        self.sent_datagrams = 0
        self._ident = 1

    def send(self, src, sport, dst, dport, payload):
        pkt = ipv4_udp_packet(src, sport, dst, dport, payload, self._ident)
        self._ident += 1
        self.sock.sendto(pkt, (dst, 0))
        self.sent_payload_bytes += len(payload)
        self.sent_datagrams += 1

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Capture:
    """Counts UDP datagrams arriving in a namespace (AF_PACKET, any port).

    Records (src, sport, dst, dport, payload_len, payload_head, ttl) for every
    incoming IPv4/UDP packet (outgoing copies skipped, so loopback counts once).
    IP fragments are accounted by payload bytes too. Bounded: stops after
    max_seconds even if stop() is never called."""

    def __init__(self, ns, max_seconds=30.0, head=64):
        with in_netns(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                      socket.htons(ETH_P_ALL))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.sock.settimeout(0.05)
        self.head = head
        self.packets = []
        self.drops = 0
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING or len(data) < 20 or data[0] >> 4 != 4:
                continue
            ihl = (data[0] & 0x0F) * 4
            if data[9] != socket.IPPROTO_UDP:
                continue
            total = struct.unpack("!H", data[2:4])[0]
            frag = struct.unpack("!H", data[6:8])[0] & 0x1FFF
            src = socket.inet_ntoa(data[12:16])
            dst = socket.inet_ntoa(data[16:20])
            body = data[ihl:total]
            if frag == 0:
                if len(body) < 8:
                    continue
                sport, dport = struct.unpack("!HH", body[:4])
                payload = body[8:]
                self.packets.append((src, sport, dst, dport, len(payload), payload[:self.head],
                                     data[8]))
            else:
                self.packets.append((src, None, dst, None, len(body), b"", data[8]))

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            st = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
            self.drops += struct.unpack("II", st)[1]
        except OSError:
            pass
        self.sock.close()
        return self

    def select(self, src=None, sport=None, dst=None, dport=None, spoofed=None):
        """Matching packets; spoofed=True/False: only injected / only kernel-sent."""
        return [p for p in self.packets
                if (src is None or p[0] == src) and (sport is None or p[1] == sport)
                and (dst is None or p[2] == dst) and (dport is None or p[3] == dport)
                and (spoofed is None or (p[6] == SPOOF_TTL) == spoofed)]

    def payload_bytes(self, **kw):
        return sum(p[4] for p in self.select(**kw))


# --------------------------------------------------------------------------
# memcached UDP framing and memshield cookies
# --------------------------------------------------------------------------
def frame(req_id, payload, seq=0, total=1, reserved=0):
    return struct.pack("!HHHH", req_id & 0xFFFF, seq, total, reserved) + payload


def parse_frame(dgram):
    """(req_id, seq, total, reserved, body) or None if shorter than a header."""
    if len(dgram) < 8:
        return None
    rid, seq, total, res = struct.unpack("!HHHH", dgram[:8])
    return rid, seq, total, res, dgram[8:]


def cookie_block(client_cookie, server_cookie=None):
    assert len(client_cookie) == 8
    if server_cookie is None:
        return bytes([1, 0]) + client_cookie + b"\0" * 16
    assert len(server_cookie) == 16
    return bytes([1, 1]) + client_cookie + server_cookie


def cookie_frame(req_id, payload, client_cookie, server_cookie=None):
    return frame(req_id, cookie_block(client_cookie, server_cookie) + payload,
                 reserved=COOKIE_MAGIC)


def parse_cookie_reply(dgram):
    """dict(req_id, version, flags, client_cookie, server_cookie) or None."""
    f = parse_frame(dgram)
    if f is None:
        return None
    rid, seq, total, res, body = f
    if res != COOKIE_MAGIC or len(body) < COOKIE_BLOCK_SIZE:
        return None
    return dict(req_id=rid, seq=seq, total=total, version=body[0], flags=body[1],
                client_cookie=body[2:10], server_cookie=body[10:26], rest=body[26:])


def binary_get(key, opaque=0x11223344):
    key = key.encode() if isinstance(key, str) else key
    return struct.pack("!BBHBBHIIQ", 0x80, 0x00, len(key), 0, 0, 0, len(key), opaque, 0) + key


class UdpClient:
    """memcached UDP client (framing, reassembly) with memshield's cookie extension."""

    def __init__(self, server, ns=None, bind=None, family=socket.AF_INET):
        self.server = server
        with in_netns(ns):
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            if bind is not None:
                self.sock.bind(bind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.req_id = int.from_bytes(os.urandom(2), "big") | 1
        self.client_cookie = os.urandom(8)
        self.server_cookie = None
        self.sent_bytes = 0
        self.recv_bytes = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def next_id(self):
        self.req_id = (self.req_id + 1) & 0xFFFF
        return self.req_id

    def send_raw(self, dgram):
        self.sock.sendto(dgram, self.server)
        self.sent_bytes += len(dgram)

    def recv_all(self, timeout=1.0, max_dgrams=100000):
        """Every datagram arriving within timeout of the last one (bounded)."""
        out = []
        deadline = time.monotonic() + timeout
        hard = time.monotonic() + max(timeout * 4, 10.0)
        while len(out) < max_dgrams:
            now = time.monotonic()
            if now >= deadline or now >= hard:
                break
            self.sock.settimeout(deadline - now)
            try:
                d, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                break
            self.recv_bytes += len(d)
            out.append(d)
            deadline = time.monotonic() + min(timeout, 0.5)
        return out

    def drain(self, timeout=0.1):
        return self.recv_all(timeout)

    def request(self, payload, timeout=1.0, reserved=0, cookie=False):
        """Send one request; return (reassembled body or None, all datagrams).

        cookie=True sends the cookie block (with the server cookie if held)."""
        rid = self.next_id()
        if cookie:
            d = cookie_frame(rid, payload, self.client_cookie, self.server_cookie)
        else:
            d = frame(rid, payload, reserved=reserved)
        self.send_raw(d)
        dgrams = self._collect(rid, timeout)
        return reassemble(dgrams, rid), dgrams

    def _collect(self, rid, timeout):
        got = []
        deadline = time.monotonic() + timeout
        total = None
        hard = time.monotonic() + max(timeout * 4, 10.0)
        while time.monotonic() < min(deadline, hard) and len(got) < 200000:
            self.sock.settimeout(max(0.001, min(deadline, hard) - time.monotonic()))
            try:
                d, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                break
            self.recv_bytes += len(d)
            f = parse_frame(d)
            if f is None or f[0] != rid:
                continue
            got.append(d)
            total = f[2]
            if total and len({parse_frame(x)[1] for x in got}) >= total:
                break
            deadline = time.monotonic() + max(timeout, 0.5)
        return got

    def fetch_cookie_udp(self, payload=b"version\r\n", timeout=1.0):
        """UDP refresh exchange: request without server cookie -> cookie reply."""
        saved, self.server_cookie = self.server_cookie, None
        rid = self.next_id()
        self.send_raw(cookie_frame(rid, payload, self.client_cookie, None))
        for d in self._collect(rid, timeout):
            c = parse_cookie_reply(d)
            if c and c["flags"] & 1 and c["client_cookie"] == self.client_cookie:
                self.server_cookie = c["server_cookie"]
                return c
        self.server_cookie = saved
        return None

    def cookie_request(self, payload, timeout=1.0):
        """Full cookie flow: fetch a cookie if needed, then send with it."""
        if self.server_cookie is None and self.fetch_cookie_udp(payload, timeout) is None:
            return None, []
        body, dgrams = self.request(payload, timeout, cookie=True)
        c = [parse_cookie_reply(d) for d in dgrams]
        if dgrams and all(x is not None for x in c):
            # the server wants a fresh cookie: take it and retry once
            self.server_cookie = c[0]["server_cookie"]
            body, dgrams = self.request(payload, timeout, cookie=True)
        return body, dgrams


def reassemble(dgrams, rid):
    """Concatenate the bodies of one response (by seq); None unless complete."""
    parts = {}
    total = None
    for d in dgrams:
        f = parse_frame(d)
        if f is None or f[0] != rid:
            continue
        parts[f[1]] = f[4]
        total = f[2]
    if total is None or len(parts) != total or set(parts) != set(range(total)):
        return None
    return b"".join(parts[i] for i in range(total))


# --------------------------------------------------------------------------
# TCP
# --------------------------------------------------------------------------
class Tcp(RawConn):
    """Bounded TCP client; optional source address and namespace. The reading and sending are
    conftest's RawConn; only the socket is made here, inside the namespace and without
    TCP_NODELAY. set/get/stats keep their own answers (stats adds "_raw", get reads to END)."""

    def __init__(self, host, port, ns=None, src=None, timeout=5.0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with in_netns(ns):
            self.sock = socket.socket(fam, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            if src is not None:
                self.sock.bind((src, 0))
            self.sock.connect((host, port))
        self.buf = bytearray()
        self.eof = False
        self.timeout = timeout

    def read_all_until_eof(self, timeout=2.0):
        return self.read_available(timeout)

    def set(self, key, value, cmd=b"set"):
        key = key.encode() if isinstance(key, str) else key
        return self.call(b"%s %s 0 0 %d\r\n%s\r\n" % (cmd, key, len(value), value))

    def get(self, key):
        key = key.encode() if isinstance(key, str) else key
        raw = self.call(b"get " + key + b"\r\n", term=b"END\r\n")
        if raw == b"END\r\n":
            return None
        assert raw.startswith(b"VALUE "), raw[:100]
        head, rest = raw.split(b"\r\n", 1)
        n = int(head.split()[3])
        return rest[:n]

    def stats(self, sub=""):
        raw = self.call(b"stats" + (b" " + sub.encode() if sub else b"") + b"\r\n",
                        term=b"END\r\n")
        out = {}
        for line in raw.split(b"\r\n"):
            if line.startswith(b"STAT "):
                p = line.decode().split(" ", 2)
                out[p[1]] = p[2] if len(p) > 2 else ""
        out["_raw"] = raw
        return out

    def shield_cookie(self, client_cookie):
        line = self.call(b"shield cookie " + client_cookie.hex().encode() + b"\r\n")
        parts = line.split()
        if len(parts) == 2 and parts[0] == b"COOKIE" and len(parts[1]) == 32:
            return bytes.fromhex(parts[1].decode())
        return None


def stat_int(stats, name):
    v = stats.get(name)
    return None if v is None else int(v)


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------
class Proc:
    def __init__(self, args, ns=None, host="127.0.0.1", port=None):
        self.args = list(args)
        self.ns = ns
        self.host = host
        self.port = port
        fd, self.errfile = tempfile.mkstemp(prefix="memshield-udp-", suffix=".stderr")
        cmd = (["ip", "netns", "exec", ns] if ns else []) + self.args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=fd)
        os.close(fd)

    @property
    def pid(self):
        return self.proc.pid

    def stderr_text(self):
        try:
            return Path(self.errfile).read_text(errors="replace")
        except OSError:
            return ""

    def wait_listening(self, timeout=5.0):
        # Not conftest.wait_listening: the probe socket must be made inside the server's namespace.
        deadline = time.monotonic() + timeout
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with in_netns(self.ns):
                    s = socket.socket(fam, socket.SOCK_STREAM)
                with s:
                    s.settimeout(0.5)
                    s.connect((self.host, self.port))
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def tcp(self, src=None, ns="same", timeout=5.0):
        return Tcp(self.host, self.port, ns=self.ns if ns == "same" else ns, src=src,
                   timeout=timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        """SIGTERM, then SIGKILL after a bounded wait (procutil.py); memcached: SIGKILL."""
        ours = "memcached" not in os.path.basename(self.args[0])
        procutil.stop(self.proc, name=" ".join(self.args[:1]), check=ours, graceful=ours)
        try:
            os.unlink(self.errfile)
        except OSError:
            pass


def start(kind, args=(), ns=None, host="127.0.0.1", port=None, udp=True, extra_listen=True,
          check=True):
    """Start memshield or memcached (kind) on host:port (TCP and, if udp, UDP on
    the same port; udp=False passes -U 0, udp=None no -U flag at all).
    Returns a Proc that is listening; caller must kill()."""
    binary = require_memshield() if kind == "memshield" else require_memcached()
    last = ""
    for _ in range(3):
        p = port or (11211 if ns else free_tcp_udp_port(host))
        a = [binary]
        if os.geteuid() == 0:
            a += ["-u", "root"]  # both refuse to run as root without -u
        a += ["-p", str(p)]
        if udp is not None:  # None: no -U at all (the binary's default)
            a += ["-U", str(p) if udp else "0"]
        if extra_listen:
            a += ["-l", host]
        a += [str(x) for x in args]
        pr = Proc(a, ns=ns, host=host, port=p)
        if not check:
            return pr
        if pr.wait_listening():
            time.sleep(0.05)
            if pr.proc.poll() is None:
                return pr
        last = pr.stderr_text()
        rc = pr.proc.poll()
        pr.kill()
        if rc is not None and "in use" not in last.lower():
            break
    head = "\n".join(last.splitlines()[:3])
    raise AssertionError(f"{kind} did not start: {a}\nstderr:\n{head}")


@contextlib.contextmanager
def running(kind, args=(), **kw):
    pr = start(kind, args, **kw)
    try:
        yield pr
    finally:
        pr.kill()


@contextlib.contextmanager
def server_pool():
    """Yields start_one(kind, *args, **start_kw), a start() that remembers each server it
    starts; all of them are killed on leaving the block. The tests' `servers` fixtures use it."""
    procs = []

    def start_one(kind, *args, **kw):
        p = start(kind, args, **kw)
        procs.append(p)
        return p

    try:
        yield start_one
    finally:
        for p in procs:
            p.kill()


def udp_alive_check(server_addr, ns=None, what="memshield"):
    """A UDP cookie request from a real (non-spoofed) client must get the cookie
    reply; proves UDP is on, so 'nothing arrived' results are not vacuous."""
    with UdpClient(server_addr, ns=ns) as c:
        got = c.fetch_cookie_udp(b"version\r\n", timeout=1.5)
    if got is None:
        pytest.fail(f"{what} did not answer a UDP cookie request at {server_addr} "
                    "(UDP not available in this build?)")
    return got
