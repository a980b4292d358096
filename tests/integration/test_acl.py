"""Issue 3: --allow / --deny ACLs over TCP and UDP, config file, SIGHUP reload.

memshield listens on 127.0.0.1 (and ::1); clients bind 127.0.0.2, 127.0.0.3 ...
before connecting (on Linux all of 127/8 is local). A denied TCP peer is closed
before a single byte is sent; a denied UDP datagram is dropped silently.
"""

import functools
import os
import signal
import subprocess
import tempfile
import time

import pytest

import netns as N

LO = "127.0.0.1"


@pytest.fixture
def servers():
    """servers(*args, host=LO, udp=False): a listening memshield, killed after the test."""
    with N.server_pool() as start_one:
        yield functools.partial(start_one, "memshield", host=LO, udp=False)


def served(srv, src, host=None):
    """True if a TCP client from src gets `version` answered."""
    with N.Tcp(host or srv.host, srv.port, src=src, timeout=3.0) as c:
        line = c.call(b"version\r\n", timeout=3.0)
    return line.startswith(b"VERSION ")


def rejected(srv, src, host=None):
    """True if the connection from src is closed with zero bytes sent to it."""
    with N.Tcp(host or srv.host, srv.port, src=src, timeout=3.0) as c:
        try:
            c.send(b"version\r\n")
        except OSError:
            pass
        data = c.read_all_until_eof(timeout=2.0)
        assert data == b"", f"denied peer {src} received {data[:80]!r}"
        return c.eof


def test_allow_single_address(servers):
    srv = servers("--allow=127.0.0.2/32")
    assert served(srv, "127.0.0.2")
    assert rejected(srv, "127.0.0.3")
    assert rejected(srv, "127.0.0.1")  # any allow => default deny
    assert served(srv, "127.0.0.2")


def test_deny_wins_over_allow(servers):
    srv = servers("--allow=127.0.0.0/8", "--deny=127.0.0.3/32")
    assert served(srv, "127.0.0.2")
    assert rejected(srv, "127.0.0.3")
    srv2 = servers("--deny=127.0.0.0/24", "--allow=127.0.0.2/32")
    assert rejected(srv2, "127.0.0.2"), "a more specific allow must not beat a deny"


def test_deny_only_default_allows(servers):
    srv = servers("--deny=127.0.0.3/32")
    assert served(srv, "127.0.0.2")
    assert served(srv, "127.0.0.1")
    assert rejected(srv, "127.0.0.3")


def test_repeatable_and_comma_lists(servers):
    srv = servers("--allow=127.0.0.2/32,127.0.0.4/32", "--allow=127.0.0.5/32",
                  "--deny=127.0.0.6/32,127.0.0.7/32", "--deny=127.0.0.8/32")
    for a in ("127.0.0.2", "127.0.0.4", "127.0.0.5"):
        assert served(srv, a), a
    for a in ("127.0.0.3", "127.0.0.6", "127.0.0.9"):
        assert rejected(srv, a), a


def test_ipv6_rules(servers):
    allow6 = servers("-l", "::1", "--allow=::1/128")
    assert served(allow6, None, host="::1")
    assert rejected(allow6, None, host=LO), "IPv4 peer must be denied by an IPv6-only allow"
    deny6 = servers("-l", "::1", "--deny=::1/128")
    assert rejected(deny6, None, host="::1")
    assert served(deny6, None, host=LO)
    allow4 = servers("-l", "::1", "--allow=127.0.0.0/8")
    assert rejected(allow4, None, host="::1")
    assert served(allow4, "127.0.0.9")
    net6 = servers("-l", "::1", "--allow=::/0", "--deny=::1/128,127.0.0.0/8")
    assert rejected(net6, None, host="::1")


def _run_bad(args, timeout=5.0):
    b = N.require_memshield()
    port = N.free_tcp_udp_port()
    p = subprocess.Popen([b, "-p", str(port), "-l", LO] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate(timeout=5)
        pytest.fail(f"memshield started with {args}; a malformed CIDR must stop start-up")
    return p.returncode, err.decode(errors="replace")


@pytest.mark.parametrize("flag", ["--allow", "--deny", "--udp-trust"])
@pytest.mark.parametrize("bad", ["10.0.0.1/8", "1.2.3.4/33", "abc", "::1/129", "1.2.3/24",
                                 "1.2.3.4/", "300.1.1.1/32", "fe80::1::2/64"])
def test_malformed_cidr_stops_startup(flag, bad):
    rc, err = _run_bad([f"{flag}={bad}"])
    assert rc != 0, f"{flag}={bad}: exit code 0"
    assert "unrecognized option" not in err, f"{flag} is not implemented: {err[:120]!r}"
    assert bad in err, f"stderr does not name {bad!r}: {err[:300]!r}"


def test_malformed_cidr_in_list_and_config_file():
    rc, err = _run_bad(["--allow=127.0.0.2/32,1.2.3.4/33"])
    assert "unrecognized option" not in err, err[:120]
    assert rc != 0 and "1.2.3.4/33" in err, err[:300]
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("# bad\n--deny=10.0.0.1/8\n")
    try:
        rc, err = _run_bad([f"--config={f.name}"])
        assert rc != 0 and "10.0.0.1/8" in err, err[:300]
    finally:
        os.unlink(f.name)


def _write_config(path, port, allow):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# memshield test config, Debian memcached.conf style\n"
                f"-l {LO}\n-p {port}\n-U 0\n\n"
                f"--allow={allow}\n")
    os.replace(tmp, path)


def test_config_file_and_sighup_reload():
    b = N.require_memshield()
    port = N.free_tcp_udp_port()
    fd, path = tempfile.mkstemp(suffix=".conf")
    os.close(fd)
    _write_config(path, port, "127.0.0.2/32,127.0.0.4/32")
    as_root = ["-u", "root"] if os.geteuid() == 0 else []  # refused as root without -u
    srv = N.Proc([b, *as_root, f"--config={path}"], host=LO, port=port)
    keep = None
    try:
        assert srv.wait_listening(), srv.stderr_text()[:500]
        assert served(srv, "127.0.0.2")
        assert rejected(srv, "127.0.0.3")
        keep = N.Tcp(LO, port, src="127.0.0.4")
        assert keep.call(b"set kept 0 0 1\r\nx\r\n") == b"STORED\r\n"
        pid = srv.pid

        _write_config(path, port, "127.0.0.3/32,127.0.0.4/32")
        srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5.0
        ok = False
        while time.monotonic() < deadline:
            if served(srv, "127.0.0.3"):
                ok = True
                break
            time.sleep(0.1)
        assert ok, "SIGHUP did not reload the ACL within 5 s"
        assert srv.proc.poll() is None and srv.pid == pid
        assert rejected(srv, "127.0.0.2")
        # the connection from an address allowed before and after keeps working
        assert keep.get("kept") == b"x"
        assert served(srv, "127.0.0.4")
    finally:
        if keep:
            keep.close()
        srv.kill()
        os.unlink(path)


def test_stats_shield_counters_move(servers):
    srv = servers("--allow=127.0.0.2/32", udp=True)
    for _ in range(3):
        assert rejected(srv, "127.0.0.3")
    # UDP: allowed source gets the cookie reply (control), denied source nothing
    with N.UdpClient((LO, srv.port), bind=("127.0.0.2", 0)) as u:
        assert u.fetch_cookie_udp(b"version\r\n") is not None, "no UDP answer to allowed peer"
    with N.UdpClient((LO, srv.port), bind=("127.0.0.3", 0)) as u:
        assert u.fetch_cookie_udp(b"version\r\n", timeout=0.5) is None
        for _ in range(4):
            u.send_raw(N.frame(u.next_id(), b"version\r\n"))
        assert u.recv_all(timeout=0.5) == []
    with N.Tcp(LO, srv.port, src="127.0.0.2") as c:
        st = c.stats("shield")
        plain = c.stats()
    assert N.stat_int(st, "tcp_rejected_acl") is not None, st["_raw"][:500]
    assert N.stat_int(st, "tcp_rejected_acl") >= 3
    assert N.stat_int(st, "udp_dropped_acl") >= 5
    assert "tcp_rejected_acl" not in plain, "plain stats must keep memcached's list"
