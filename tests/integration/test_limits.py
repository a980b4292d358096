"""Resource limits: -c connection limit, -m memory limit with eviction,
-M (no eviction), -I item size limit."""

import random
import socket
import time

import pytest

from conftest import IS_MEMCACHED, RawConn

TOO_MANY = b"ERROR Too many open connections\r\n"


def _open_until_refused(server, max_tries):
    """Open connections one at a time.  An accepted connection stays silent;
    a refused one gets TOO_MANY and is closed.  Returns (accepted, refusal)."""
    accepted = []
    for _ in range(max_tries):
        c = RawConn(server.host, server.port, timeout=5)
        first = c.read_available(0.25)
        if first:
            return accepted, (c, first)
        accepted.append(c)
    return accepted, None


def test_connection_limit(server_factory):
    if IS_MEMCACHED:
        # memcached reserves fds for itself and fails to start with tiny -c;
        # its effective client limit is below -c.
        limit, args = 20, ("-c", "20", "-t", "1")
    else:
        limit, args = 10, ("-c", "10")
    srv = server_factory(*args)
    accepted, refusal = _open_until_refused(srv, limit + 5)
    try:
        assert refusal is not None, f"no refusal after {limit + 5} connections"
        rc, first = refusal
        assert first == TOO_MANY
        assert rc.is_closed(timeout=2.0), "refused connection not closed"
        rc.close()
        if IS_MEMCACHED:
            assert 1 <= len(accepted) < limit
        else:
            # memshield counts client connections exactly
            assert len(accepted) == limit
        # every connection that was accepted still works
        for i, c in enumerate(accepted):
            assert c.set(b"c%d" % i, b"v%d" % i) == b"STORED\r\n"
        for i, c in enumerate(accepted):
            assert c.get(b"c%d" % ((i + 1) % len(accepted))) == \
                b"v%d" % ((i + 1) % len(accepted))
        # freeing a slot lets a new client in (bounded retries: close is async)
        accepted.pop().close()
        ok = False
        for _ in range(20):
            c = RawConn(srv.host, srv.port, timeout=5)
            first = c.read_available(0.1)
            if not first:
                ok = c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
                accepted.append(c)
                break
            c.close()
            time.sleep(0.1)
        assert ok, "no connection accepted after one was closed"
    finally:
        for c in accepted:
            c.close()


def test_connection_limit_refusals_repeat(server_factory):
    """Repeated refused connections do not leak slots."""
    args = ("-c", "20", "-t", "1") if IS_MEMCACHED else ("-c", "10")
    srv = server_factory(*args)
    accepted, refusal = _open_until_refused(srv, 25)
    try:
        assert refusal is not None
        refusal[0].close()
        for _ in range(10):
            c = RawConn(srv.host, srv.port, timeout=5)
            assert c.read_until(b"\r\n", timeout=2) == TOO_MANY
            c.close()
        accepted.pop().close()
        time.sleep(0.2)
        with RawConn(srv.host, srv.port, timeout=5) as c:
            assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    finally:
        for c in accepted:
            c.close()


def _fill(conn, total_bytes, seed=1):
    """Write ~total_bytes in 100-1000 byte values, pipelined in batches.
    Returns (list of (key, value_len), reply counts)."""
    rnd = random.Random(seed)
    keys = []
    written = 0
    counts = {}
    i = 0
    while written < total_bytes:
        batch = []
        for _ in range(200):
            n = rnd.randint(100, 1000)
            key = b"fill%07d" % i
            i += 1
            keys.append((key, n))
            written += n
            batch.append(b"set %s 0 0 %d\r\n%s\r\n" % (key, n, bytes([97 + i % 26]) * n))
        conn.send(b"".join(batch))
        for _ in batch:
            line = conn.readline(timeout=10)
            counts[line] = counts.get(line, 0) + 1
    return keys, counts


def _value_for(i, n):
    return bytes([97 + (i + 1) % 26]) * n


def test_memory_limit_evicts_and_bounds_rss(server_factory):
    mem_mb = 8
    srv = server_factory("-m", str(mem_mb))
    with srv.connect(timeout=10) as c:
        keys, counts = _fill(c, 2 * mem_mb * 1024 * 1024)
        assert counts == {b"STORED\r\n": len(keys)}, counts
        rss_mb = srv.rss_kb() / 1024
        assert rss_mb < mem_mb + 40, f"RSS {rss_mb:.1f} MB with -m {mem_mb}"
        # the most recently written keys survive
        for idx in range(len(keys) - 200, len(keys)):
            key, n = keys[idx]
            assert c.get(key) == _value_for(idx, n), key
        st = c.stats()
        assert int(st["evictions"]) > 0
        assert int(st["limit_maxbytes"]) == mem_mb * 1024 * 1024
        assert int(st["bytes"]) <= mem_mb * 1024 * 1024
        assert int(st["curr_items"]) < len(keys)
        # some of the oldest were evicted
        missing = sum(c.get(keys[i][0]) is None for i in range(200))
        assert missing > 0


def test_no_evict_mode_reports_out_of_memory(server_factory):
    mem_mb = 8
    srv = server_factory("-m", str(mem_mb), "-M")
    with srv.connect(timeout=10) as c:
        keys, counts = _fill(c, 2 * mem_mb * 1024 * 1024)
        oom = b"SERVER_ERROR out of memory storing object\r\n"
        assert set(counts) <= {b"STORED\r\n", oom}, counts
        assert counts.get(oom, 0) > 0
        assert counts.get(b"STORED\r\n", 0) > 0
        # data of refused sets was swallowed: the connection is in sync
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
        st = c.stats()
        assert int(st["evictions"]) == 0
        # nothing was evicted: the first keys are all still there
        for idx in range(200):
            key, n = keys[idx]
            assert c.get(key) == _value_for(idx, n), key
        rss_mb = srv.rss_kb() / 1024
        assert rss_mb < mem_mb + 40, f"RSS {rss_mb:.1f} MB with -m {mem_mb}"


def test_item_size_limit_flag(server_factory):
    srv = server_factory("-I", "2m")
    with srv.connect(timeout=10) as c:
        v = b"x" * 1_500_000
        assert c.set(b"big", v) == b"STORED\r\n"
        assert c.get(b"big") == v
        too = b"y" * (2 * 1024 * 1024 + 10)
        c.send(b"set big2 0 0 %d\r\n" % len(too) + too + b"\r\n")
        assert c.readline(timeout=10) == b"SERVER_ERROR object too large for cache\r\n"
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
        st = c.stats("settings")
        assert st["item_size_max"] == str(2 * 1024 * 1024)


def test_item_size_limit_small(server_factory):
    srv = server_factory("-I", "512k")
    with srv.connect(timeout=10) as c:
        assert c.set(b"ok", b"a" * 400_000) == b"STORED\r\n"
        big = b"b" * 600_000
        c.send(b"set big 0 0 %d\r\n" % len(big) + big + b"\r\n")
        assert c.readline(timeout=10) == b"SERVER_ERROR object too large for cache\r\n"
        assert c.get(b"big") is None
        assert c.get(b"ok") == b"a" * 400_000
