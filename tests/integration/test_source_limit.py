"""--max-conns-per-source: one IP address holds at most N connections; the next is closed at
accept without a byte, counted in `stats shield`, and the slot comes back when one closes."""

import socket
import time

from conftest import memshield_only

pytestmark = memshield_only


def shield_stat(srv, name):
    with srv.connect() as c:
        c.send(b"stats shield\r\n")
        raw = c.read_until(b"END\r\n")
    for line in raw.split(b"\r\n"):
        parts = line.split()
        if len(parts) == 3 and parts[1] == name.encode():
            return int(parts[2])
    raise AssertionError(raw)


def refused(host, port, src="127.0.0.1"):
    """True if the server closes a fresh connection without sending anything."""
    s = socket.socket()
    s.settimeout(2)
    s.bind((src, 0))
    s.connect((host, port))
    try:
        s.sendall(b"version\r\n")
        data = s.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    finally:
        s.close()
    return data == b""


def test_limit_per_address(server_factory):
    srv = server_factory("--max-conns-per-source=3")
    held = [srv.connect() for _ in range(3)]
    for c in held:
        assert c.call(b"version\r\n").startswith(b"VERSION")
    assert refused(srv.host, srv.port)
    assert refused(srv.host, srv.port)
    # Another source address on loopback is counted on its own.
    assert not refused(srv.host, srv.port, src="127.0.0.2")
    # Closing one gives its slot back.
    held.pop().close()
    deadline = time.monotonic() + 3
    while refused(srv.host, srv.port) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server sees the close a moment later
    assert time.monotonic() < deadline
    for c in held:
        c.close()
    # Every refused attempt above was counted (the stats connection itself is admitted).
    time.sleep(0.1)
    assert shield_stat(srv, "tcp_rejected_per_source") >= 2


def test_off_by_default(server_factory):
    srv = server_factory()
    held = [srv.connect() for _ in range(50)]
    assert not refused(srv.host, srv.port)
    assert shield_stat(srv, "tcp_rejected_per_source") == 0
    for c in held:
        c.close()
