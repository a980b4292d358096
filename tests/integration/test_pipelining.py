"""Pipelining and fragmentation: many commands per write, one command over
many packets, big values in tiny writes."""

import random
import socket
import time

import pytest


def test_1000_mixed_commands_in_one_write(conn):
    rnd = random.Random(1234)
    req = []
    exp = []
    store = {}
    for i in range(1000):
        key = b"key%d" % rnd.randrange(60)
        op = rnd.random()
        if op < 0.45:
            val = b"v%d-" % i + b"x" * rnd.randrange(0, 200)
            req.append(b"set %s %d 0 %d\r\n%s\r\n" % (key, i, len(val), val))
            exp.append(b"STORED\r\n")
            store[key] = (i, val)
        elif op < 0.85:
            req.append(b"get %s\r\n" % key)
            if key in store:
                fl, val = store[key]
                exp.append(b"VALUE %s %d %d\r\n%s\r\nEND\r\n" % (key, fl, len(val), val))
            else:
                exp.append(b"END\r\n")
        elif op < 0.95:
            req.append(b"delete %s\r\n" % key)
            exp.append(b"DELETED\r\n" if store.pop(key, None) else b"NOT_FOUND\r\n")
        else:
            keys = [b"key%d" % rnd.randrange(60) for _ in range(3)]
            req.append(b"get " + b" ".join(keys) + b"\r\n")
            out = b""
            for k in keys:
                if k in store:
                    fl, val = store[k]
                    out += b"VALUE %s %d %d\r\n%s\r\n" % (k, fl, len(val), val)
            exp.append(out + b"END\r\n")
    payload = b"".join(req)
    expected = b"".join(exp)
    conn.send(payload)
    got = conn.read_exact(len(expected), timeout=15)
    if got != expected:
        # locate the first differing response for a readable failure
        pos = 0
        for i, e in enumerate(exp):
            if got[pos:pos + len(e)] != e:
                pytest.fail(f"response #{i} to {req[i][:80]!r}: expected {e[:120]!r}, "
                            f"got {got[pos:pos + len(e)][:120]!r}")
            pos += len(e)
    assert conn.read_available(0.1) == b""


def test_noreply_commands_in_pipeline(conn):
    payload = b"".join(b"set nr%d 0 0 1 noreply\r\n%d\r\n" % (i, i % 10) for i in range(500))
    payload += b"get nr0 nr499\r\n"
    conn.send(payload)
    expected = b"VALUE nr0 0 1\r\n0\r\nVALUE nr499 0 1\r\n9\r\nEND\r\n"
    assert conn.read_exact(len(expected), timeout=10) == expected
    assert conn.read_available(0.1) == b""


def test_command_split_across_many_packets(conn):
    msg = b"set split 42 0 11\r\nhello world\r\n"
    for i in range(len(msg)):
        conn.send(msg[i:i + 1])
        time.sleep(0.002)
    assert conn.readline() == b"STORED\r\n"
    get = b"get split\r\n"
    for i in range(len(get)):
        conn.send(get[i:i + 1])
        time.sleep(0.002)
    expected = b"VALUE split 42 11\r\nhello world\r\nEND\r\n"
    assert conn.read_exact(len(expected)) == expected


def test_crlf_split_between_packets(conn):
    conn.send(b"set s 0 0 2\r")
    time.sleep(0.05)
    conn.send(b"\nab\r")
    time.sleep(0.05)
    conn.send(b"\nget s\r")
    time.sleep(0.05)
    conn.send(b"\n")
    expected = b"STORED\r\nVALUE s 0 2\r\nab\r\nEND\r\n"
    assert conn.read_exact(len(expected)) == expected


def test_bare_newline_terminators_accepted(conn):
    expected = b"STORED\r\nVALUE nl 0 2\r\nab\r\nEND\r\n"
    assert conn.request(b"set nl 0 0 2\nab\r\nget nl\n", expected) == expected


def test_64k_value_in_one_byte_writes(conn):
    value = bytes(random.Random(7).getrandbits(8) for _ in range(64 * 1024))
    msg = b"set v64 0 0 %d\r\n" % len(value) + value + b"\r\n"
    for i in range(len(msg)):
        conn.send(msg[i:i + 1])
    assert conn.readline(timeout=10) == b"STORED\r\n"
    assert conn.get(b"v64") == value


def test_1mib_value_in_small_writes(conn):
    n = 1_048_000
    value = (bytes(range(256)) * (n // 256 + 1))[:n]
    header = b"set big 0 0 %d\r\n" % n
    deadline = time.monotonic() + 20
    for i in range(len(header)):
        conn.send(header[i:i + 1])
    body = value + b"\r\n"
    edge = 4096
    # 1-byte writes for the first and last 4 KB, 1-7 KB writes in between
    for i in range(edge):
        conn.send(body[i:i + 1])
    pos = edge
    rnd = random.Random(3)
    while pos < len(body) - edge:
        assert time.monotonic() < deadline
        step = min(rnd.randrange(1000, 7000), len(body) - edge - pos)
        conn.send(body[pos:pos + step])
        pos += step
    for i in range(pos, len(body)):
        conn.send(body[i:i + 1])
    assert conn.readline(timeout=10) == b"STORED\r\n"
    conn.send(b"get big\r\n")
    hdr = conn.readline()
    assert hdr == b"VALUE big 0 %d\r\n" % n
    data = conn.read_exact(n + 2, timeout=10)
    assert data == value + b"\r\n"
    assert conn.readline() == b"END\r\n"


def test_pipelined_gets_of_large_values(conn):
    vals = {b"L%d" % i: bytes([65 + i]) * (100_000 + i) for i in range(10)}
    for k, v in vals.items():
        assert conn.set(k, v) == b"STORED\r\n"
    conn.send(b"".join(b"get %s\r\n" % k for k in vals))
    for k, v in vals.items():
        assert conn.readline() == b"VALUE %s 0 %d\r\n" % (k, len(v))
        assert conn.read_exact(len(v) + 2, timeout=10) == v + b"\r\n"
        assert conn.readline() == b"END\r\n"


def test_slow_reader_gets_everything(server):
    """Client pipelines many gets of a 100 KB value and reads only later:
    nothing is lost or reordered while the server's output backs up."""
    with server.connect() as c:
        v = b"q" * 100_000
        assert c.set(b"big", v) == b"STORED\r\n"
        c.send(b"get big\r\n" * 50 + b"version\r\n")
        time.sleep(0.5)
        one = b"VALUE big 0 100000\r\n" + v + b"\r\nEND\r\n"
        expected = one * 50 + b"VERSION 1.6.18\r\n"
        got = c.read_exact(len(expected), timeout=15)
        if got != expected:
            common = next((i for i, (x, y) in enumerate(zip(got, expected)) if x != y),
                          min(len(got), len(expected)))
            pytest.fail(f"received {len(got)} of {len(expected)} bytes "
                        f"({len(got) / len(one):.2f} replies), first difference at "
                        f"byte {common}; tail {got[-40:]!r}; eof={c.eof}")
