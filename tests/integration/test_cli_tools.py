"""libmemcached command-line tools (libmemcached-tools 1.1) against the server:
memcstat, memccp, memccat, memcrm, memcflush, memcping, memcexist,
memctouch, memcslap and memccapable's ascii suite."""

import os
import shutil
import subprocess

import pytest

from conftest import VERSION

TOOLS = ["memcstat", "memccp", "memccat", "memcrm", "memcflush"]

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="libmemcached-tools not installed")


def run(*args, timeout=30):
    return subprocess.run(list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


@pytest.fixture
def srv(server):
    server.servers_arg = f"--servers={server.addr}"
    return server


def test_memcstat(srv):
    with srv.connect() as c:
        assert c.set(b"k", b"v") == b"STORED\r\n"
    r = run("memcstat", srv.servers_arg)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert f"Server: 127.0.0.1 ({srv.port})" in out
    fields = {}
    for line in out.splitlines():
        line = line.strip()
        if ": " in line and not line.startswith("Server:"):
            k, v = line.split(": ", 1)
            fields[k] = v
    assert fields["version"] == VERSION
    assert int(fields["pid"]) == srv.pid
    assert fields["curr_items"] == "1"
    for name in ("uptime", "time", "curr_connections", "total_connections",
                 "cmd_get", "cmd_set", "get_hits", "get_misses", "evictions",
                 "limit_maxbytes", "threads", "bytes", "total_items"):
        assert name in fields, name


def test_memcstat_settings(srv):
    r = run("memcstat", srv.servers_arg, "--args=settings")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "maxbytes: 67108864" in out
    assert "maxconns: 1024" in out


def test_memccp_memccat_memcrm(srv, tmp_path):
    f1 = tmp_path / "hello.txt"
    f1.write_bytes(b"hello world\n")
    f2 = tmp_path / "blob.bin"
    blob = bytes(range(256)) * 100
    f2.write_bytes(blob)
    r = run("memccp", srv.servers_arg, str(f1), str(f2))
    assert r.returncode == 0, r.stderr
    # keys are the basenames; the raw protocol sees the exact bytes
    with srv.connect() as c:
        assert c.get(b"hello.txt") == b"hello world\n"
        assert c.get(b"blob.bin") == blob
    r = run("memccat", srv.servers_arg, "hello.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"hello world\n")
    r = run("memccat", srv.servers_arg, "blob.bin")
    assert r.returncode == 0
    assert r.stdout[:len(blob)] == blob
    # missing key: non-zero exit
    r = run("memccat", srv.servers_arg, "missing-key")
    assert r.returncode != 0
    # memcrm removes; a second memcrm fails
    r = run("memcrm", srv.servers_arg, "hello.txt")
    assert r.returncode == 0, r.stderr
    r = run("memcrm", srv.servers_arg, "hello.txt")
    assert r.returncode != 0
    r = run("memccat", srv.servers_arg, "hello.txt")
    assert r.returncode != 0
    with srv.connect() as c:
        assert c.get(b"hello.txt") is None
        assert c.get(b"blob.bin") == blob


def test_memccp_flags_expire(srv, tmp_path):
    f = tmp_path / "flagged"
    f.write_bytes(b"abc")
    r = run("memccp", srv.servers_arg, "--flags=7", "--expire=1000", "--set", str(f))
    assert r.returncode == 0, r.stderr
    with srv.connect() as c:
        assert c.call(b"get flagged\r\n", b"END\r\n") == b"VALUE flagged 7 3\r\nabc\r\nEND\r\n"


def test_memccp_add_replace(srv, tmp_path):
    f = tmp_path / "once"
    f.write_bytes(b"first")
    r = run("memccp", srv.servers_arg, "--add", str(f))
    assert r.returncode == 0, r.stderr
    f.write_bytes(b"second")
    r = run("memccp", srv.servers_arg, "--add", str(f))
    assert r.returncode != 0                       # NOT_STORED
    r = run("memccp", srv.servers_arg, "--replace", str(f))
    assert r.returncode == 0, r.stderr
    with srv.connect() as c:
        assert c.get(b"once") == b"second"


def test_memcflush(srv):
    with srv.connect() as c:
        for i in range(20):
            assert c.set(b"k%d" % i, b"v") == b"STORED\r\n"
    r = run("memcflush", srv.servers_arg)
    assert r.returncode == 0, r.stderr
    with srv.connect() as c:
        for i in range(20):
            assert c.get(b"k%d" % i) is None
    r = run("memccat", srv.servers_arg, "k0")
    assert r.returncode != 0


def test_memcping_memcexist_memctouch(srv):
    if not all(shutil.which(t) for t in ("memcping", "memcexist", "memctouch")):
        pytest.skip("tool missing")
    assert run("memcping", srv.servers_arg).returncode == 0
    assert run("memcexist", srv.servers_arg, "k").returncode != 0
    with srv.connect() as c:
        assert c.set(b"k", b"v") == b"STORED\r\n"
    assert run("memcexist", srv.servers_arg, "k").returncode == 0
    assert run("memctouch", srv.servers_arg, "--expire=100", "k").returncode == 0
    assert run("memctouch", srv.servers_arg, "--expire=100", "nope").returncode != 0


def test_memcslap_small_load(srv):
    if not shutil.which("memcslap"):
        pytest.skip("memcslap missing")
    r = run("memcslap", srv.servers_arg, "--concurrency=4", "--execute-number=500",
            timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"Time total" in r.stdout
    st = srv.stats()
    assert int(st["cmd_set"]) >= 2000


def test_memccapable_ascii(srv):
    if not shutil.which("memccapable"):
        pytest.skip("memccapable missing")
    r = run("memccapable", "-h", "127.0.0.1", "-p", str(srv.port), "-a", "-t", "5",
            timeout=120)
    out = r.stdout.decode() + r.stderr.decode()
    failed = [l for l in out.splitlines() if "[pass]" not in l and "ascii" in l]
    assert r.returncode == 0 and not failed, out
    assert "All tests passed" in out
