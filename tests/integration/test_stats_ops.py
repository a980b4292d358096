"""memcached's operational surface that its own suite checks: the exact `stats` field set for
the slab/LRU options given, idle_kicks, stats cachedump, reclaimed, -R yields, stats detail,
stats conns states, HTTP request lines, MEMCACHED_PORT_FILENAME and ephemeral ports, ssl_*
settings. Each test names the memcached t/ file it mirrors."""

import os
import socket
import subprocess
import time

import pytest

from conftest import HOST, RawConn, require_binary, root_args

LRU_FIELDS = ["lru_crawler_running", "lru_crawler_starts", "lru_maintainer_juggles",
              "evicted_active", "moves_to_cold", "moves_to_warm", "moves_within_lru",
              "direct_reclaims", "lru_bumps_dropped"]


def test_stats_field_set_follows_lru_options(server_factory):
    """stats.t: exactly 83 fields with -o no_lru_crawler,no_lru_maintainer; 92 by default."""
    with server_factory().connect() as c:
        full = c.stats()
    with server_factory("-I", "1024", "-o",
                        "slab_chunk_max=1024,no_lru_crawler,no_lru_maintainer").connect() as c:
        lean = c.stats()
        settings = c.stats("settings")
    assert len(full) == 92 and len(lean) == 83
    assert all(f in full for f in LRU_FIELDS)
    assert not [f for f in LRU_FIELDS if f in lean]
    assert settings["lru_crawler"] == "no" and settings["lru_maintainer_thread"] == "no"
    assert settings["lru_segmented"] == "no" and settings["slab_chunk_max"] == "1024"


def test_idle_kicks_counted_with_idle_timeout(server_factory):
    """idle-timeout.t: idle_kicks exists (only) with -o idle_timeout and counts closings."""
    srv = server_factory("-o", "idle_timeout=1")
    with srv.connect() as idle, srv.connect() as c:
        assert c.stats()["idle_kicks"] == "0"
        assert idle.is_closed(timeout=4)
        c.send(b"version\r\n")  # keeps c active
        c.readline()
    with srv.connect() as c:
        assert int(c.stats()["idle_kicks"]) >= 1
    with server_factory().connect() as c:
        assert "idle_kicks" not in c.stats()


def test_cachedump_lists_keys_of_class_one(server_factory):
    """stats.t: `stats cachedump 1 N` lists stored keys; other classes are empty. (memcached
    lists only its cold LRU: without the LRU maintainer that is every item.)"""
    conn = server_factory("-o", "no_lru_maintainer").connect()
    conn.set(b"foo", b"fooval")
    conn.set(b"bar", b"xy", exptime=1000)
    conn.send(b"stats cachedump 1 100\r\n")
    lines = conn.read_until(b"END\r\n").split(b"\r\n")
    assert b"ITEM foo [6 b; 0 s]" in lines
    bar = [l for l in lines if l.startswith(b"ITEM bar [2 b; ")]
    assert bar and abs(int(bar[0].split(b"; ")[1].split()[0]) - (time.time() + 1000)) < 5
    assert conn.call(b"stats cachedump 1 1\r\n").startswith(b"ITEM ")
    assert conn.readline() == b"END\r\n"
    assert conn.call(b"stats cachedump 2 0\r\n") == b"END\r\n"
    assert conn.call(b"stats cachedump 64 0\r\n") == b"CLIENT_ERROR Illegal slab id\r\n"
    assert conn.call(b"stats cachedump 1\r\n") == b"CLIENT_ERROR bad command line\r\n"
    assert conn.call(b"stats cachedump x y\r\n") == b"CLIENT_ERROR bad command line format\r\n"


def test_reclaimed_when_a_set_replaces_a_flushed_item(server_factory):
    """issue_183.t: a set over a flushed item's key counts reclaimed."""
    conn = server_factory("-o", "no_modern").connect()
    conn.set(b"key", b"1")
    assert conn.stats()["reclaimed"] == "0"
    time.sleep(2)  # memcached flushes only items from before the current second
    assert conn.call(b"flush_all\r\n") == b"OK\r\n"
    conn.set(b"key", b"1")
    assert conn.stats()["reclaimed"] == "1"


def test_reqs_per_event_yields(server_factory):
    """issue_61.t: -R 1 with six pipelined sets yields at least five times."""
    with server_factory("-R", "1").connect() as c:
        c.send(b"set foobar 0 0 5\r\nBubba\r\n" * 6)
        for _ in range(6):
            assert c.readline() == b"STORED\r\n"
        assert int(c.stats()["conn_yields"]) >= 5


def test_reqs_per_event_keeps_deep_pipelines(server_factory):
    """-R must not cost a pipelining client its connection or answers."""
    with server_factory("-R", "2").connect() as c:
        c.send(b"".join(b"get k%d\r\n" % i for i in range(20000)))
        for _ in range(20000):
            assert c.readline() == b"END\r\n"


@pytest.mark.parametrize("line", [b"GET / HTTP/1.0", b"PUT /asdf/asd/fasdfasdf/sadf HTTP/1.1",
                                  b"DELETE HTTP/1.1"])
def test_http_request_line_is_hung_up_on(conn, line):
    """malicious-commands.t."""
    conn.send(line + b"\r\n")
    assert conn.is_closed()


def test_stats_detail(conn):
    """stats-detail.t."""
    assert conn.call(b"stats detail dump\r\n") == b"END\r\n"
    assert conn.call(b"stats detail on\r\n") == b"OK\r\n"
    conn.set(b"foo:123", b"fooval")
    assert conn.get(b"foo:123") == b"fooval"
    assert conn.get(b"foo:124") is None
    assert conn.call(b"delete foo:125\r\n") == b"NOT_FOUND\r\n"
    assert conn.call(b"stats detail dump\r\n") == b"PREFIX foo get 2 hit 1 set 1 del 1\r\n"
    assert conn.readline() == b"END\r\n"
    assert conn.stats("settings")["detail_enabled"] == "yes"
    assert conn.call(b"stats reset\r\n") == b"RESET\r\n"
    assert conn.call(b"stats detail dump\r\n") == b"END\r\n"
    assert conn.call(b"stats detail off\r\n") == b"OK\r\n"
    conn.get(b"foo:123")
    assert conn.call(b"stats detail dump\r\n") == b"END\r\n"
    assert conn.call(b"stats detail\r\n") == b"CLIENT_ERROR usage: stats detail on|off|dump\r\n"


def test_stats_conns_states(server):
    """stats-conns.t: a client mid-value is conn_nread, the asking one conn_parse_cmd."""
    with server.connect() as waiting, server.connect() as asking:
        waiting.send(b"set foo 0 0 6\r\n")
        time.sleep(1.1)
        asking.send(b"stats conns\r\n")
        raw = asking.read_until(b"END\r\n").decode()
    assert ":state conn_listening" in raw
    assert ":state conn_nread" in raw
    assert ":state conn_parse_cmd" in raw
    assert f":listen_addr tcp:{HOST}:{server.port}" in raw
    assert any(l.split(" ")[-1] != "0" for l in raw.splitlines() if "secs_since_last_cmd" in l)


def _ports_of(args, tmp_path):
    path = tmp_path / "ports"
    env = dict(os.environ, MEMCACHED_PORT_FILENAME=str(path))
    proc = subprocess.Popen([require_binary()] + root_args() + ["-l", HOST] + args, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if path.exists():
                break
            time.sleep(0.05)
        ports = {}
        for line in path.read_text().splitlines():
            kind, port = line.split(": ")
            ports[kind] = int(port)
        assert not (tmp_path / "ports.lck").exists()
        if "TCP INET" in ports:  # the port written is the one listening
            socket.create_connection((HOST, ports["TCP INET"])).close()
        path.unlink()
        return ports
    finally:
        proc.kill()
        proc.wait()


def test_port_file_and_ephemeral_ports(tmp_path):
    """issue_67.t: MEMCACHED_PORT_FILENAME, -p/-U -1 ephemeral, 0 off, -U alone sets TCP too."""
    p = _ports_of(["-p", "-1"], tmp_path)
    assert set(p) == {"TCP INET"} and p["TCP INET"] not in (0, 11211)
    p = _ports_of(["-U", "-1"], tmp_path)
    assert set(p) == {"TCP INET", "UDP INET"} and p["UDP INET"] != 0
    assert _ports_of(["-p", "0"], tmp_path) == {}
    s = socket.socket()
    s.bind((HOST, 0))
    free = s.getsockname()[1]
    s.close()
    assert _ports_of(["-U", str(free)], tmp_path) == {"TCP INET": free, "UDP INET": free}


def test_ssl_settings_without_tls(server_factory):
    """ssl_settings.t: ssl_wbuf_size is given in KB and reported in bytes."""
    with server_factory("-o", "ssl_wbuf_size=64").connect() as c:
        st = c.stats("settings")
    assert st["ssl_wbuf_size"] == "65536"
    assert st["ssl_session_cache"] == "no" and st["ssl_kernel_tls"] == "no"


def _bin(op, key=b"", extras=b"", val=b""):
    import struct
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0,
                       len(key) + len(extras) + len(val), 0, 0) + extras + key + val


def test_stats_detail_counts_binary_requests(server):
    """memcached counts binary gets (touch and gat included), sets (append too) and deletes."""
    import struct
    with server.connect() as text:
        assert text.call(b"stats detail on\r\n") == b"OK\r\n"
        b = socket.create_connection((HOST, server.port))
        store_extras = struct.pack(">II", 0, 0)
        b.sendall(_bin(0x01, b"p:1", store_extras, b"v") + _bin(0x00, b"p:1") +
                  _bin(0x00, b"p:2") + _bin(0x04, b"p:3") + _bin(0x0c, b"p:1") +
                  _bin(0x1d, b"p:1", struct.pack(">I", 0)) + _bin(0x1c, b"p:4", struct.pack(">I", 0)) +
                  _bin(0x02, b"p:5", store_extras, b"v") + _bin(0x0e, b"p:6", b"", b"x") +
                  _bin(0x0a))
        got = b""
        while len(got) < 24 or got[-24 + 1] != 0x0a:  # up to the NOOP's answer
            got += b.recv(65536)
        b.close()
        assert text.call(b"stats detail dump\r\n") == b"PREFIX p get 5 hit 3 set 3 del 1\r\n"
        assert text.readline() == b"END\r\n"
