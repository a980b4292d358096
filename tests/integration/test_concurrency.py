"""Many concurrent clients, each on its own connection."""

import threading
import time

from conftest import RawConn

N_CLIENTS = 200
ITERATIONS = 40


def _worker(server, idx, errors, barrier):
    try:
        c = RawConn(server.host, server.port, timeout=20)
    except OSError as e:
        errors.append(f"client {idx}: connect failed: {e}")
        return
    try:
        barrier.wait(timeout=30)
        for i in range(ITERATIONS):
            key = b"c%d-%d" % (idx, i % 7)
            val = b"%d:%d:" % (idx, i) + b"x" * ((idx * 31 + i * 17) % 500)
            r = c.set(key, val)
            if r != b"STORED\r\n":
                errors.append(f"client {idx} iter {i}: set -> {r!r}")
                return
            got = c.get(key)
            if got != val:
                errors.append(f"client {idx} iter {i}: get -> {got[:40]!r}")
                return
            # a key shared by everyone: value must always be well formed
            c.send(b"incr shared 1\r\n")
            line = c.readline()
            if not line.rstrip(b"\r\n").isdigit():
                errors.append(f"client {idx} iter {i}: incr -> {line!r}")
                return
    except Exception as e:  # noqa: BLE001 - collect everything
        errors.append(f"client {idx}: {type(e).__name__}: {e}")
    finally:
        c.close()


def test_200_concurrent_clients(server):
    with server.connect() as c:
        assert c.set(b"shared", b"0") == b"STORED\r\n"
    errors = []
    barrier = threading.Barrier(N_CLIENTS)
    threads = [threading.Thread(target=_worker, args=(server, i, errors, barrier),
                                daemon=True) for i in range(N_CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, 60 - (time.monotonic() - t0)))
    alive = [t for t in threads if t.is_alive()]
    assert not alive, f"{len(alive)} clients still running after 60 s"
    assert not errors, errors[:10]
    with server.connect() as c:
        assert c.get(b"shared") == str(N_CLIENTS * ITERATIONS).encode()
        st = c.stats()
        assert int(st["total_connections"]) >= N_CLIENTS
        assert int(st["cmd_set"]) >= N_CLIENTS * ITERATIONS
        # every client's last value is still there
        for idx in range(0, N_CLIENTS, 37):
            i = ITERATIONS - 1
            key = b"c%d-%d" % (idx, i % 7)
            val = b"%d:%d:" % (idx, i) + b"x" * ((idx * 31 + i * 17) % 500)
            assert c.get(key) == val


def test_concurrent_connections_all_open_at_once(server):
    """200 connections held open simultaneously, all answered."""
    conns = []
    try:
        for _ in range(N_CLIENTS):
            conns.append(server.connect())
        for i, c in enumerate(conns):
            c.send(b"set held%d 0 0 1\r\n%d\r\n" % (i, i % 10))
        for c in conns:
            assert c.readline() == b"STORED\r\n"
        st = server.stats()
        assert int(st["curr_connections"]) >= N_CLIENTS
        for i, c in enumerate(conns):
            assert c.get(b"held%d" % ((i + 1) % N_CLIENTS)) == b"%d" % (((i + 1) % N_CLIENTS) % 10)
    finally:
        for c in conns:
            c.close()
