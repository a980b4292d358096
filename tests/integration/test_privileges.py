"""Hardening item 6: -u (privilege drop after binding) and the seccomp filter.

As root, memshield refuses to start without -u exactly as memcached 1.6.18 does (same message,
same exit codes), and with -u switches user after binding. With -o drop_privileges (or
--seccomp) a real client workload runs under the filter: text, meta and binary commands,
multi-gets, large values, eviction, UDP, stats, the metrics endpoint, SIGHUP reloads of the
config and auth files, and clean shutdown by SIGTERM and by the shutdown command.
"""

import os
import pwd
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import (HOST, IS_MEMCACHED, free_port, memshield_only, require_binary,
                      server_binary)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def run_plain(args, timeout=10):
    return subprocess.run([require_binary()] + args, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


# --- -u -------------------------------------------------------------------------------------

@as_root
def test_root_without_user_is_refused_like_memcached():
    r = run_plain(["-p", str(free_port()), "-l", HOST, "-U", "0"])
    assert r.returncode == 64
    assert r.stderr.decode() == "can't run as root without the -u switch\n"


@as_root
def test_unknown_user_is_refused_like_memcached():
    r = run_plain(["-u", "no-such-user-here", "-p", str(free_port()), "-l", HOST, "-U", "0"])
    assert r.returncode == 67
    assert r.stderr.decode() == "can't find the user no-such-user-here to switch to\n"


@as_root
def test_user_switch_after_binding(server_factory):
    nobody = pwd.getpwnam("nobody")
    srv = server_factory("-u", "nobody")
    st = proc_status(srv.pid)
    assert st["Uid"].split() == [str(nobody.pw_uid)] * 4
    assert st["Gid"].split() == [str(nobody.pw_gid)] * 4
    assert st["Groups"] == ""
    with srv.connect() as c:
        assert c.set("k", "v") == b"STORED\r\n"
        assert c.get("k") == b"v"


@as_root
@memshield_only
def test_user_switch_keeps_low_port():
    """Binding happens before the switch, so a port below 1024 still works as nobody."""
    port = None
    for cand in range(990, 1000):
        with socket.socket() as s:
            try:
                s.bind((HOST, cand))
            except OSError:
                continue
            port = cand
            break
    if port is None:
        pytest.skip("no free port below 1024")
    p = subprocess.Popen([require_binary(), "-u", "nobody", "-p", str(port), "-l", HOST,
                          "-U", "0"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, port), timeout=1) as s:
                    s.sendall(b"version\r\n")
                    assert s.recv(100).startswith(b"VERSION ")
                    break
            except OSError:
                assert p.poll() is None, p.stderr.read()
                time.sleep(0.05)
        assert proc_status(p.pid)["Uid"].split()[0] == str(pwd.getpwnam("nobody").pw_uid)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0


# --- seccomp ---------------------------------------------------------------------------------

def binary_request(opcode, key=b"", value=b"", extras=b"", opaque=0):
    body = extras + key + value
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0, 0, len(body),
                       opaque, 0) + body


def read_binary(c):
    hdr = c.read_exact(24)
    assert len(hdr) == 24 and hdr[0] == 0x81, hdr
    (bodylen,) = struct.unpack(">I", hdr[8:12])
    return hdr, c.read_exact(bodylen)


def udp_get(port, key, timeout=2.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind((HOST, 0))
        u.settimeout(timeout)
        u.sendto(struct.pack(">HHHH", 7, 0, 1, 0) + b"get " + key + b"\r\n", (HOST, port))
        data, _ = u.recvfrom(65536)
        return data[8:]


def workload(srv, udp_port=None, metrics_port=None):
    """Every kind of request the serving path knows, on several connections at once."""
    conns = [srv.connect() for _ in range(12)]
    try:
        c = conns[0]
        for i, cc in enumerate(conns):
            assert cc.set(f"k{i}", f"v{i}") == b"STORED\r\n"
        keys = " ".join(f"k{i}" for i in range(10)).encode()
        c.send(b"get " + keys + b"\r\n")
        assert c.read_until(b"END\r\n").count(b"VALUE") == 10
        c.send(b"gets k1\r\n")
        assert c.read_until(b"END\r\n").startswith(b"VALUE k1 0 2 ")
        assert c.call(b"add k1 0 0 1\r\nx\r\n") == b"NOT_STORED\r\n"
        assert c.call(b"append k1 0 0 1\r\nx\r\n") == b"STORED\r\n"
        assert c.call(b"prepend k1 0 0 1\r\nx\r\n") == b"STORED\r\n"
        assert c.set("n", "41") == b"STORED\r\n"
        assert c.call(b"incr n 1\r\n") == b"42\r\n"
        assert c.call(b"decr n 2\r\n") == b"40\r\n"
        assert c.call(b"touch n 100\r\n") == b"TOUCHED\r\n"
        assert c.call(b"delete k2\r\n") == b"DELETED\r\n"
        assert c.call(b"mg k3 v f t c\r\n", b"\r\nv3\r\n").startswith(b"VA 2")
        assert c.call(b"ms m1 2 T0\r\nhi\r\n") == b"HD\r\n"
        assert c.call(b"ma n\r\n") == b"HD\r\n"
        assert c.call(b"md m1\r\n") == b"HD\r\n"
        assert c.call(b"mn\r\n") == b"MN\r\n"
        for sub in ("", "settings", "items", "slabs", "conns", "shield"):
            assert c.stats(sub) is not None
        assert c.call(b"version\r\n").startswith(b"VERSION ")
        # a large value, twice (growth and shrink paths of the output buffers)
        big = os.urandom(600 * 1024)
        assert c.set("big", big) == b"STORED\r\n"
        assert c.get("big") == big
        # binary protocol on its own connection: set, get, noop
        with srv.connect() as b:
            b.send(binary_request(0x01, b"bk", b"bv", extras=struct.pack(">II", 0, 0)))
            hdr, _ = read_binary(b)
            assert hdr[6:8] == b"\x00\x00"
            b.send(binary_request(0x00, b"bk") + binary_request(0x0a))
            hdr, body = read_binary(b)
            assert body.endswith(b"bv")
            read_binary(b)
        if udp_port:
            assert udp_get(udp_port, b"k3") == b"VALUE k3 0 2\r\nv3\r\nEND\r\n"
        # eviction: far more than -m holds
        chunk = b"x" * 100_000
        for i in range(40):
            assert c.set(f"e{i}", chunk) == b"STORED\r\n"
        if metrics_port:
            with urllib.request.urlopen(f"http://{HOST}:{metrics_port}/metrics", timeout=5) as r:
                assert b"memcached_up" in r.read() or r.status == 200
        assert c.call(b"flush_all\r\n") == b"OK\r\n"
        assert c.get("k1") is None
    finally:
        for cc in conns:
            cc.close()


@pytest.fixture
def tmpdir_path():
    with tempfile.TemporaryDirectory(prefix="memshield-priv-") as d:
        os.chmod(d, 0o755)
        yield d


def seccomp_args(flag, *extra):
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    return [*user, flag, "-m", "2", "-t", "2", *extra]


@memshield_only
@pytest.mark.parametrize("flag", ["--seccomp", "-odrop_privileges"])
def test_seccomp_full_workload(server_factory, tmpdir_path, flag):
    conf = os.path.join(tmpdir_path, "memshield.conf")
    with open(conf, "w") as f:
        f.write("--allow=127.0.0.0/8\n")
    os.chmod(conf, 0o644)
    metrics_port = free_port()
    srv = server_factory(*seccomp_args(flag, f"--config={conf}",
                                       f"--metrics={HOST}:{metrics_port}"))
    st = proc_status(srv.pid)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
    workload(srv, metrics_port=metrics_port)
    for _ in range(2):  # SIGHUP re-reads the config file under the filter
        srv.signal(signal.SIGHUP)
        time.sleep(0.2)
        workload(srv)
    assert "access rules reloaded" in srv.stderr_text()
    srv.signal(signal.SIGTERM)
    assert srv.wait(5) == 0, srv.stderr_text()


@memshield_only
def test_seccomp_udp(server_factory):
    udp_port = free_port()
    srv = server_factory(*seccomp_args("--seccomp", "-U", str(udp_port),
                                       "--udp-trust=127.0.0.0/8"), udp_off=False)
    with srv.connect() as c:
        assert c.set("k3", "v3") == b"STORED\r\n"
    for _ in range(5):
        assert udp_get(udp_port, b"k3") == b"VALUE k3 0 2\r\nv3\r\nEND\r\n"
    assert proc_status(srv.pid)["Seccomp"] == "2"
    srv.signal(signal.SIGTERM)
    assert srv.wait(5) == 0, srv.stderr_text()


@memshield_only
def test_seccomp_auth_file_reload_and_shutdown_command(server_factory, tmpdir_path):
    auth = os.path.join(tmpdir_path, "auth")
    with open(auth, "w") as f:
        f.write("alice:one\n")
    os.chmod(auth, 0o644)
    srv = server_factory(*seccomp_args("--seccomp", "-Y", auth, "-A"))
    with srv.connect() as c:
        assert c.set("x", "alice one") == b"STORED\r\n"
    with open(auth, "w") as f:
        f.write("bob:two\n")
    srv.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "reloaded: 1 users" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    with srv.connect() as c:
        assert c.set("x", "bob two") == b"STORED\r\n"
        assert c.call(b"version\r\n").startswith(b"VERSION ")
        c.send(b"shutdown\r\n")
    assert srv.wait(5) == 0, srv.stderr_text()


@memshield_only
def test_seccomp_unix_socket_and_pidfile_removed(tmpdir_path):
    sock = os.path.join(tmpdir_path, "ms.sock")
    pidfile = os.path.join(tmpdir_path, "ms.pid")
    args = [server_binary(), *seccomp_args("--seccomp", "-s", sock, "-a", "777")]
    # the pid file is written after the switch to nobody: the directory must let it
    os.chmod(tmpdir_path, 0o777)
    args += ["-P", pidfile]
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(sock)
            s.sendall(b"set a 0 0 1\r\nb\r\nget a\r\n")
            got = b""
            while not got.endswith(b"END\r\n"):
                d = s.recv(4096)
                assert d
                got += d
        assert proc_status(p.pid)["Seccomp"] == "2"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0, p.stderr.read()
        assert not os.path.exists(sock) and not os.path.exists(pidfile)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)


# MEMSHIELD_TEST_ARGS=--seccomp (the whole suite under the filter) turns it on everywhere.
filter_forced = pytest.mark.skipif(
    "seccomp" in os.environ.get("MEMSHIELD_TEST_ARGS", "")
    or "drop_privileges" in os.environ.get("MEMSHIELD_TEST_ARGS", ""),
    reason="MEMSHIELD_TEST_ARGS turns the filter on for every server")


@memshield_only
@filter_forced
def test_seccomp_is_off_by_default(server):
    st = proc_status(server.pid)
    assert st["Seccomp"] == "0"


@memshield_only
@filter_forced
def test_no_drop_privileges_turns_it_off(server_factory):
    srv = server_factory(*seccomp_args("-odrop_privileges,no_drop_privileges"))
    assert proc_status(srv.pid)["Seccomp"] == "0"
    with srv.connect() as c:
        assert c.set("k", "v") == b"STORED\r\n"


@pytest.mark.skipif(IS_MEMCACHED, reason="memshield's filter")
def test_seccomp_server_survives_hostile_input(server_factory):
    """Garbage, oversized lines and abrupt closes take no path outside the allow-list."""
    srv = server_factory(*seccomp_args("--seccomp"))
    for payload in (b"\x00" * 5000, b"get " + b"a" * 3000 + b"\r\n", b"\x80" + b"\xff" * 40,
                    b"set a 0 0 99999999999\r\n", b"mg " + b"k " * 600 + b"\r\n"):
        c = srv.connect()
        try:
            c.send(payload)
            c.read_available(0.1)
        except OSError:
            pass
        c.close()
    with srv.connect() as c:
        assert c.set("alive", "yes") == b"STORED\r\n"
    assert proc_status(srv.pid)["Seccomp"] == "2"
