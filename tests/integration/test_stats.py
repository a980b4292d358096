"""stats, stats settings/items/slabs/conns, stats reset, counter movement."""

import time

import pytest

from conftest import VERSION

GENERAL_FIELDS = [
    "pid", "uptime", "time", "version", "pointer_size", "rusage_user",
    "rusage_system", "max_connections", "curr_connections", "total_connections",
    "rejected_connections", "connection_structures", "cmd_get", "cmd_set",
    "cmd_flush", "cmd_touch", "get_hits", "get_misses", "get_expired",
    "get_flushed", "delete_misses", "delete_hits", "incr_misses", "incr_hits",
    "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval",
    "touch_hits", "touch_misses", "bytes_read", "bytes_written",
    "limit_maxbytes", "accepting_conns", "threads", "bytes", "curr_items",
    "total_items", "evictions", "reclaimed",
]


def test_general_stats_fields(server_factory):
    srv = server_factory("-t", "3", "-m", "32", "-c", "500")
    with srv.connect() as c:
        st = c.stats()
    missing = [f for f in GENERAL_FIELDS if f not in st]
    assert not missing, f"missing stats fields: {missing}"
    # same order as memcached for the first fields
    assert list(st)[:4] == ["pid", "uptime", "time", "version"]
    # the relative order of the fields above matches memcached's
    order = [f for f in st if f in GENERAL_FIELDS]
    assert order == GENERAL_FIELDS
    assert int(st["pid"]) == srv.pid
    assert st["version"] == VERSION
    assert abs(int(st["time"]) - time.time()) <= 3
    assert 0 <= int(st["uptime"]) < 60
    assert st["threads"] == "3"
    assert st["limit_maxbytes"] == str(32 * 1024 * 1024)
    assert st["max_connections"] == "500"
    assert st["pointer_size"] == "64"
    assert st["accepting_conns"] == "1"
    for f in ("curr_items", "total_items", "bytes", "evictions", "cmd_get",
              "cmd_set", "get_hits", "get_misses"):
        assert st[f] == "0", f
    for f in ("rusage_user", "rusage_system"):
        float(st[f])


def test_raw_stats_format(conn):
    conn.send(b"stats\r\n")
    raw = conn.read_until(b"END\r\n")
    assert raw.endswith(b"\r\nEND\r\n")
    lines = raw.split(b"\r\n")[:-2]
    assert lines
    for line in lines:
        parts = line.split(b" ")
        assert parts[0] == b"STAT" and len(parts) == 3, line


def test_counters_move(conn):
    before = conn.stats()
    batch = (b"set k 0 0 1\r\n1\r\n"
             b"get k x y\r\n"
             b"incr k 1\r\nincr q 1\r\n"
             b"decr k 1\r\ndecr q 1\r\n"
             b"touch k 10\r\ntouch z 1\r\n"
             b"cas k 0 0 1 1\r\n1\r\n"
             b"cas z 0 0 1 1\r\n1\r\n"
             b"delete k\r\ndelete k\r\n"
             b"flush_all\r\n")
    expected = (b"STORED\r\nVALUE k 0 1\r\n1\r\nEND\r\n2\r\nNOT_FOUND\r\n1\r\nNOT_FOUND\r\n"
                b"TOUCHED\r\nNOT_FOUND\r\nEXISTS\r\nNOT_FOUND\r\nDELETED\r\nNOT_FOUND\r\nOK\r\n")
    assert conn.request(batch, expected) == expected
    after = conn.stats()
    delta = {k: int(after[k]) - int(before[k]) for k in (
        "cmd_get", "cmd_set", "get_hits", "get_misses", "incr_hits", "incr_misses",
        "decr_hits", "decr_misses", "touch_hits", "touch_misses", "cmd_touch",
        "cas_hits", "cas_misses", "cas_badval", "delete_hits", "delete_misses",
        "cmd_flush", "total_items")}
    assert delta == {
        "cmd_get": 3, "cmd_set": 3, "get_hits": 1, "get_misses": 2,
        "incr_hits": 1, "incr_misses": 1, "decr_hits": 1, "decr_misses": 1,
        "touch_hits": 1, "touch_misses": 1, "cmd_touch": 2,
        "cas_hits": 0, "cas_misses": 1, "cas_badval": 1,
        "delete_hits": 1, "delete_misses": 1, "cmd_flush": 1, "total_items": 1}
    assert after["curr_items"] == "0"
    assert int(after["bytes_read"]) > int(before["bytes_read"]) + len(batch) - 1
    assert int(after["bytes_written"]) > int(before["bytes_written"]) + len(expected) - 1


def test_cas_hits_and_items_bytes(conn):
    assert conn.set(b"k", b"hello") == b"STORED\r\n"
    st = conn.stats()
    assert st["curr_items"] == "1" and st["total_items"] == "1"
    assert int(st["bytes"]) > 5
    gets = conn.call(b"gets k\r\n", b"END\r\n")
    unique = gets.split(b"\r\n")[0].split()[4]
    assert conn.call(b"cas k 0 0 2 %s\r\nhi\r\n" % unique) == b"STORED\r\n"
    st = conn.stats()
    assert st["cas_hits"] == "1"
    assert st["curr_items"] == "1" and st["total_items"] == "2"
    assert conn.set(b"k2", b"x") == b"STORED\r\n"
    assert conn.stats()["curr_items"] == "2"
    assert conn.call(b"delete k\r\n") == b"DELETED\r\n"
    assert conn.stats()["curr_items"] == "1"


def test_connection_counters(server):
    with server.connect() as a:
        before = a.stats()
        extra = [server.connect() for _ in range(3)]
        for c in extra:
            assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
        mid = a.stats()
        assert int(mid["curr_connections"]) == int(before["curr_connections"]) + 3
        assert int(mid["total_connections"]) == int(before["total_connections"]) + 3
        for c in extra:
            c.close()
        for _ in range(50):
            now = a.stats()
            if now["curr_connections"] == before["curr_connections"]:
                break
            time.sleep(0.05)
        assert now["curr_connections"] == before["curr_connections"]
        assert now["total_connections"] == mid["total_connections"]


def test_get_expired_and_flushed(conn):
    assert conn.set(b"e", b"v", exptime=-1) == b"STORED\r\n"
    assert conn.get(b"e") is None
    st = conn.stats()
    assert st["get_misses"] == "1"
    # a background reaper (memcached's LRU crawler) may remove the dead item
    # before the get sees it, which makes it a plain miss
    assert st["get_expired"] in ("0", "1")
    assert conn.set(b"f", b"v") == b"STORED\r\n"
    assert conn.call(b"flush_all\r\n") == b"OK\r\n"
    assert conn.get(b"f") is None
    st = conn.stats()
    assert st["get_misses"] == "2"
    assert st["get_flushed"] in ("0", "1")


def test_stats_reset(conn):
    assert conn.set(b"k", b"v") == b"STORED\r\n"
    assert conn.get(b"k") == b"v"
    assert conn.get(b"nope") is None
    assert conn.call(b"stats reset\r\n") == b"RESET\r\n"
    st = conn.stats()
    for f in ("cmd_get", "cmd_set", "get_hits", "get_misses", "total_items",
              "evictions"):
        assert st[f] == "0", f
    # gauges are not reset
    assert st["curr_items"] == "1"
    assert int(st["bytes"]) > 0
    assert int(st["curr_connections"]) >= 1
    assert conn.get(b"k") == b"v"
    assert conn.stats()["get_hits"] == "1"


def test_stats_settings(server_factory):
    srv = server_factory("-m", "16", "-c", "321", "-t", "2", "-I", "2m")
    with srv.connect() as c:
        c.send(b"stats settings\r\n")
        raw = c.read_until(b"END\r\n")
    assert raw.endswith(b"END\r\n")
    st = {}
    for line in raw.split(b"\r\n")[:-2]:
        p = line.decode().split(" ", 2)
        assert p[0] == "STAT"
        st[p[1]] = p[2]
    assert st["maxbytes"] == str(16 * 1024 * 1024)
    assert st["maxconns"] == "321"
    assert st["tcpport"] == str(srv.port)
    assert st["udpport"] == "0"
    assert st["num_threads"] == "2"
    assert st["item_size_max"] == str(2 * 1024 * 1024)
    assert st["evictions"] == "on"
    assert st["cas_enabled"] == "yes"
    for f in ("verbosity", "growth_factor", "chunk_size", "tcp_backlog",
              "binding_protocol", "flush_enabled"):
        assert f in st, f


def test_stats_settings_flags(server_factory):
    srv = server_factory("-M", "-C")
    st = srv.stats("settings")
    assert st["evictions"] == "off"
    assert st["cas_enabled"] == "no"


@pytest.mark.parametrize("sub", ["items", "slabs", "conns"])
def test_sub_stats_end_with_end(conn, sub):
    assert conn.set(b"k", b"v") == b"STORED\r\n"
    conn.send(b"stats %s\r\n" % sub.encode())
    raw = conn.read_until(b"END\r\n")
    assert raw.endswith(b"END\r\n"), raw[-200:]
    for line in raw.split(b"\r\n")[:-2]:
        assert line.startswith(b"STAT "), line
    assert conn.read_available(0.1) == b""
    # and the connection is fine afterwards
    assert conn.call(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_stats_items_reports_item(conn):
    assert conn.set(b"k", b"v") == b"STORED\r\n"
    st = conn.stats("items")
    numbers = {k: v for k, v in st.items() if k.startswith("items:") and k.endswith(":number")}
    assert sum(int(v) for v in numbers.values()) == 1


def test_stats_conns_lists_this_connection(conn):
    st = conn.stats("conns")
    addrs = [v for k, v in st.items() if k.endswith(":addr")]
    assert any(a.startswith("tcp:127.0.0.1:") for a in addrs), st


def test_stats_empty_cache_items(conn):
    conn.send(b"stats items\r\n")
    assert conn.read_until(b"END\r\n") == b"END\r\n"


def test_stats_nonsense(conn):
    assert conn.call(b"stats nonsense\r\n") == b"ERROR\r\n"
    assert conn.read_available(0.1) == b""
    assert conn.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
