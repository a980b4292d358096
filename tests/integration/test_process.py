"""Process-level behaviour: signals, command-line flags, listening address."""

import signal
import socket
import subprocess
import time

import pytest

from conftest import IS_MEMCACHED, memshield_only, run_binary


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_clean_shutdown(server_factory, sig):
    srv = server_factory()
    idle = srv.connect()
    busy = srv.connect()
    try:
        assert busy.set(b"k", b"v") == b"STORED\r\n"
        busy.send(b"set half 0 0 100\r\nabc")      # mid-command connection
        time.sleep(0.1)
        srv.signal(sig)
        try:
            rc = srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"server still running 5 s after {sig.name}")
        assert rc == 0, f"exit status {rc} after {sig.name}; stderr:\n{srv.stderr_text()}"
        # connections were closed and nothing listens any more
        assert idle.is_closed(timeout=2.0)
        with pytest.raises(OSError):
            socket.create_connection((srv.host, srv.port), timeout=1).close()
    finally:
        idle.close()
        busy.close()


def test_signal_shutdown_under_load(server_factory):
    srv = server_factory()
    conns = [srv.connect() for _ in range(20)]
    try:
        for c in conns:
            c.send(b"".join(b"set k%d 0 0 1\r\nx\r\n" % i for i in range(200)))
        srv.signal(signal.SIGTERM)
        rc = srv.wait(timeout=5)
        assert rc == 0
    finally:
        for c in conns:
            c.close()


def test_help_exits_zero_with_usage():
    r = run_binary(["-h"])
    assert r.returncode == 0, r.stderr
    out = (r.stdout + r.stderr).decode()
    assert "-p" in out and "port" in out.lower()
    assert "-m" in out and "-c" in out
    assert "1.6.18" in out.splitlines()[0]


def test_version_flag():
    r = run_binary(["-V"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "memcached 1.6.18"


@memshield_only
@pytest.mark.parametrize("flag", ["--no-such-flag", "-j"])
def test_unknown_flag_exits_64(flag):
    r = run_binary([flag, "-p", "1"])
    assert r.returncode == 64, (r.returncode, r.stderr)


def test_unknown_flag_fails():
    r = run_binary(["--no-such-flag", "-p", "1"])
    assert r.returncode != 0


def _listening_addrs(port):
    """Local addresses (hex, as in /proc/net/tcp{,6}) in LISTEN state on port."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    addr, p = parts[1].split(":")
                    if int(p, 16) == port and parts[3] == "0A":
                        found.append((path, addr))
        except FileNotFoundError:
            pass
    return found


V4_LOOPBACK = "0100007F"
V6_LOOPBACK = "00000000000000000000000001000000"


@memshield_only
def test_default_listens_on_loopback_only(server_factory):
    srv = server_factory(listen=None, udp_off=False)
    with srv.connect() as c:
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    addrs = _listening_addrs(srv.port)
    assert addrs, "no listening socket found in /proc/net/tcp*"
    for path, addr in addrs:
        assert addr in (V4_LOOPBACK, V6_LOOPBACK), \
            f"listening on non-loopback address {addr} ({path})"
    assert ("/proc/net/tcp", V4_LOOPBACK) in addrs
    # cross-check with ss when available
    try:
        ss = subprocess.run(["ss", "-ltnH", f"sport = :{srv.port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            timeout=5).stdout.decode()
    except (FileNotFoundError, subprocess.TimeoutExpired):
        ss = ""
    for line in ss.splitlines():
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::1]:")), line
    assert f"0.0.0.0:{srv.port}" not in ss
    assert f"*:{srv.port}" not in ss


@memshield_only
def test_default_listens_on_ipv6_loopback_if_available(server_factory):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 not available")
    srv = server_factory(listen=None, udp_off=False)
    assert ("/proc/net/tcp6", V6_LOOPBACK) in _listening_addrs(srv.port)
    with socket.create_connection(("::1", srv.port), timeout=5) as s:
        s.sendall(b"version\r\n")
        s.settimeout(5)
        assert s.recv(100) == b"VERSION 1.6.18\r\n"


@memshield_only
def test_wildcard_listen_warns(server_factory):
    srv = server_factory(listen="0.0.0.0")
    with srv.connect() as c:          # connects to 127.0.0.1
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    deadline = time.monotonic() + 3
    while "reachable from other hosts" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "reachable from other hosts" in srv.stderr_text(), srv.stderr_text()


@memshield_only
def test_loopback_listen_does_not_warn(server):
    with server.connect() as c:
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    assert "reachable from other hosts" not in server.stderr_text()


def test_explicit_loopback_listen(server):
    addrs = _listening_addrs(server.port)
    assert addrs == [("/proc/net/tcp", V4_LOOPBACK)]
