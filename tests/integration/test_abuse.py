"""Connection abuse: 10,000 idle connections and 500 slowloris connections (one byte a second
of a request that never ends) against one server, while a well-behaved client keeps doing
set/get round trips. Its p99 latency must stay under 10 ms, the idle connections must stay
open (no idle_timeout given) and the slowloris ones must be closed by --request-timeout=5.

Single-threaded: every abusive socket is non-blocking and polled through one selector; the
measured client is a blocking socket used between the drips. Everything is bounded in time
(~15 s in all) and on loopback only; the idle connections come from 127.0.0.2-11 so the
ephemeral port range of one address is never the limit.
"""

import errno
import resource
import selectors
import socket
import time

import pytest

from conftest import HOST, memshield_only

pytestmark = memshield_only

IDLE = 10_000
SLOW = 500
REQUEST_TIMEOUT = 5
ROUND_TRIPS = 2_000
DURATION = 9.0  # seconds of drips and round trips after the abusive connections are up


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def open_many(n, sources, port, deadline):
    """n non-blocking connections, round-robin over `sources`; returns the connected sockets."""
    sel = selectors.DefaultSelector()
    pending, done = 0, []
    i = 0
    while (i < n or pending) and time.monotonic() < deadline:
        while i < n and pending < 1000:  # stay under the listen backlog
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((sources[i % len(sources)], 0))
            rc = s.connect_ex((HOST, port))
            assert rc in (0, errno.EINPROGRESS), errno.errorcode.get(rc, rc)
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
            i += 1
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert err == 0, errno.errorcode.get(err, err)
            done.append(s)
    sel.close()
    assert len(done) == n, f"only {len(done)} of {n} connections within the time bound"
    return done


def round_trip(c, payload, key):
    t0 = time.perf_counter()
    c.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(payload), payload))
    assert c.recv(64) == b"STORED\r\n"
    t1 = time.perf_counter()
    c.sendall(b"get %s\r\n" % key)
    want = b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(payload), payload)
    got = b""
    while len(got) < len(want):
        d = c.recv(4096)
        assert d, "well-behaved client disconnected"
        got += d
    assert got == want
    t2 = time.perf_counter()
    return [t1 - t0, t2 - t1]


def test_idle_and_slowloris_do_not_hurt_a_good_client(server_factory):
    raise_nofile(IDLE + SLOW + 512)
    srv = server_factory("-c", "12000", f"--request-timeout={REQUEST_TIMEOUT}", "-b", "4096")
    test_deadline = time.monotonic() + 60  # hard bound, far above the ~15 s it takes
    idle = open_many(IDLE, [f"127.0.0.{i}" for i in range(2, 12)], srv.port, test_deadline)
    slow = open_many(SLOW, ["127.0.0.1"], srv.port, test_deadline)
    good = socket.create_connection((HOST, srv.port), timeout=5)
    good.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert round_trip(good, b"warm", b"warm")

    sel = selectors.DefaultSelector()
    for s in slow:
        sel.register(s, selectors.EVENT_READ)
    command = b"set slowloris 0 0 10 never ends" * 4
    alive = set(slow)
    closed_after = []
    rtts = []
    start = time.monotonic()
    next_drip, step = start, 0
    gap = DURATION / (ROUND_TRIPS // 2)
    next_rt = start
    while time.monotonic() - start < DURATION and time.monotonic() < test_deadline:
        now = time.monotonic()
        if now >= next_drip:
            byte = command[step % len(command):step % len(command) + 1]
            for s in list(alive):
                try:
                    s.send(byte)
                except OSError:
                    pass  # reset: counted when the selector reports it
            step += 1
            next_drip += 1.0
        for key, _ in sel.select(timeout=0):
            s = key.fileobj
            try:
                data = s.recv(256)
            except OSError:
                data = b""
            assert data == b"", f"slowloris connection got an answer: {data!r}"
            sel.unregister(s)
            alive.discard(s)
            closed_after.append(time.monotonic() - start)
        if now >= next_rt and len(rtts) < ROUND_TRIPS:
            rtts += round_trip(good, b"x" * 100, b"k%d" % (len(rtts) % 50))
            next_rt += gap
        else:
            time.sleep(0.0005)

    # The idle connections are all still open: nothing to read, no EOF.
    isel = selectors.DefaultSelector()
    for s in idle:
        isel.register(s, selectors.EVENT_READ)
    idle_closed = len(isel.select(timeout=0.2))
    isel.close()
    sel.close()
    for s in idle + slow:
        s.close()
    good.close()

    rtts.sort()
    p50 = rtts[len(rtts) // 2] * 1000
    p99 = rtts[int(len(rtts) * 0.99)] * 1000
    print(f"\nround trips: {len(rtts)}, p50 {p50:.3f} ms, p99 {p99:.3f} ms, max "
          f"{rtts[-1] * 1000:.3f} ms; slowloris closed: {len(closed_after)}/{SLOW}, after "
          f"{min(closed_after, default=0):.1f}..{max(closed_after, default=0):.1f} s; "
          f"idle closed: {idle_closed}/{IDLE}")
    assert len(rtts) >= ROUND_TRIPS * 0.95
    assert p99 < 10.0, f"p99 {p99:.3f} ms"
    assert idle_closed == 0
    assert len(closed_after) == SLOW, f"{SLOW - len(closed_after)} slowloris still open"
    # Closed by the request timeout (swept once a second), not before.
    assert min(closed_after) >= REQUEST_TIMEOUT - 1.0
    assert max(closed_after) <= REQUEST_TIMEOUT + 3.0
    # The server lets go of everything the test opened.
    deadline = time.monotonic() + 10
    while int(srv.stats()["curr_connections"]) > 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert int(srv.stats()["curr_connections"]) <= 10
