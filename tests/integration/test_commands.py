"""Raw-socket checks of the ordinary commands: storage commands and their
replies, noreply, cas, version, verbosity, quit, -C."""

import pytest


def test_version(conn):
    assert conn.call(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_verbosity(conn):
    assert conn.call(b"verbosity 1\r\n") == b"OK\r\n"
    assert conn.call(b"verbosity 0\r\n") == b"OK\r\n"
    conn.send(b"verbosity 1 noreply\r\n")
    assert conn.call(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_quit_closes_connection(server):
    with server.connect() as c:
        assert c.set(b"k", b"v") == b"STORED\r\n"
        c.send(b"quit\r\n")
        assert c.is_closed(timeout=2.0)
        assert bytes(c.buf) == b""
    with server.connect() as c:
        assert c.get(b"k") == b"v"


def test_quit_in_pipeline_stops_processing(server):
    with server.connect() as c:
        c.send(b"set a 0 0 1\r\n1\r\nquit\r\nset b 0 0 1\r\n2\r\n")
        assert c.read_until(b"STORED\r\n") == b"STORED\r\n"
        assert c.is_closed(timeout=2.0)
        assert bytes(c.buf) == b""
    with server.connect() as c:
        assert c.get(b"a") == b"1"
        assert c.get(b"b") is None


def test_set_get_round_trip_exact_bytes(conn):
    assert conn.call(b"set k 4294967295 0 5\r\nhello\r\n") == b"STORED\r\n"
    assert conn.call(b"get k\r\n", b"END\r\n") == b"VALUE k 4294967295 5\r\nhello\r\nEND\r\n"


def test_binary_value_with_crlf_inside(conn):
    v = b"a\r\nb\r\n\x00\xff\r\nEND\r\n"
    assert conn.set(b"bin", v) == b"STORED\r\n"
    assert conn.get(b"bin") == v


def test_empty_value(conn):
    assert conn.call(b"set e 0 0 0\r\n\r\n") == b"STORED\r\n"
    assert conn.call(b"get e\r\n", b"END\r\n") == b"VALUE e 0 0\r\n\r\nEND\r\n"


def test_get_multi_and_duplicates(conn):
    assert conn.set(b"a", b"1") == b"STORED\r\n"
    assert conn.set(b"b", b"22") == b"STORED\r\n"
    exp = (b"VALUE a 0 1\r\n1\r\nVALUE b 0 2\r\n22\r\nVALUE a 0 1\r\n1\r\nEND\r\n")
    assert conn.request(b"get a missing b a\r\n", exp) == exp
    assert conn.call(b"get x y z\r\n") == b"END\r\n"


def test_add_replace_append_prepend_replies(conn):
    assert conn.call(b"add k 0 0 1\r\n1\r\n") == b"STORED\r\n"
    assert conn.call(b"add k 0 0 1\r\n2\r\n") == b"NOT_STORED\r\n"
    assert conn.call(b"replace nope 0 0 1\r\n2\r\n") == b"NOT_STORED\r\n"
    assert conn.call(b"replace k 5 0 1\r\n3\r\n") == b"STORED\r\n"
    assert conn.call(b"append nope 0 0 1\r\n2\r\n") == b"NOT_STORED\r\n"
    assert conn.call(b"prepend nope 0 0 1\r\n2\r\n") == b"NOT_STORED\r\n"
    # append/prepend ignore the new flags and exptime
    assert conn.call(b"append k 9 0 2\r\n45\r\n") == b"STORED\r\n"
    assert conn.call(b"prepend k 9 0 2\r\n12\r\n") == b"STORED\r\n"
    assert conn.call(b"get k\r\n", b"END\r\n") == b"VALUE k 5 5\r\n12345\r\nEND\r\n"
    assert conn.get(b"nope") is None


def test_cas_semantics(conn):
    assert conn.call(b"cas k 0 0 1 1\r\nx\r\n") == b"NOT_FOUND\r\n"
    assert conn.set(b"k", b"v1") == b"STORED\r\n"
    line = conn.call(b"gets k\r\n", b"END\r\n").split(b"\r\n")[0]
    parts = line.split()
    assert parts[:4] == [b"VALUE", b"k", b"0", b"2"] and len(parts) == 5
    unique = int(parts[4])
    assert unique > 0
    assert conn.call(b"cas k 0 0 2 %d\r\nv2\r\n" % (unique + 1000)) == b"EXISTS\r\n"
    assert conn.call(b"cas k 3 0 2 %d\r\nv2\r\n" % unique) == b"STORED\r\n"
    assert conn.call(b"cas k 0 0 2 %d\r\nv3\r\n" % unique) == b"EXISTS\r\n"
    assert conn.call(b"get k\r\n", b"END\r\n") == b"VALUE k 3 2\r\nv2\r\nEND\r\n"
    # every modification changes the unique
    line2 = conn.call(b"gets k\r\n", b"END\r\n").split(b"\r\n")[0]
    assert int(line2.split()[4]) != unique


def test_gets_multiple_keys_have_distinct_uniques(conn):
    assert conn.set(b"a", b"1") == b"STORED\r\n"
    assert conn.set(b"b", b"2") == b"STORED\r\n"
    raw = conn.call(b"gets a b\r\n", b"END\r\n")
    lines = raw.split(b"\r\n")
    assert lines[0].startswith(b"VALUE a 0 1 ") and lines[2].startswith(b"VALUE b 0 1 ")
    assert lines[0].split()[4] != lines[2].split()[4]


def test_noreply_storage_commands(conn):
    conn.send(b"set k 0 0 1 noreply\r\na\r\n"
              b"add k 0 0 1 noreply\r\nb\r\n"
              b"replace k 0 0 1 noreply\r\nc\r\n"
              b"append k 0 0 1 noreply\r\nd\r\n"
              b"prepend k 0 0 1 noreply\r\ne\r\n"
              b"set d 0 0 1 noreply\r\nx\r\n"
              b"delete d noreply\r\n"
              b"delete d noreply\r\n"
              b"touch k 100 noreply\r\n"
              b"cas k 0 0 1 1 noreply\r\nz\r\n")
    assert conn.call(b"get k d\r\n", b"END\r\n") == b"VALUE k 0 3\r\necd\r\nEND\r\n"
    assert conn.read_available(0.1) == b""


def test_delete(conn):
    assert conn.call(b"delete k\r\n") == b"NOT_FOUND\r\n"
    assert conn.set(b"k", b"v") == b"STORED\r\n"
    assert conn.call(b"delete k\r\n") == b"DELETED\r\n"
    assert conn.get(b"k") is None


def test_no_cas_flag_gets_returns_zero(server_factory):
    srv = server_factory("-C")
    with srv.connect() as c:
        assert c.set(b"k", b"v") == b"STORED\r\n"
        assert c.call(b"gets k\r\n", b"END\r\n") == b"VALUE k 0 1 0\r\nv\r\nEND\r\n"
        assert c.set(b"k", b"w") == b"STORED\r\n"
        assert c.call(b"gets k\r\n", b"END\r\n") == b"VALUE k 0 1 0\r\nw\r\nEND\r\n"
        assert c.call(b"gats 100 k\r\n", b"END\r\n") == b"VALUE k 0 1 0\r\nw\r\nEND\r\n"
        # plain get is unchanged
        assert c.call(b"get k\r\n", b"END\r\n") == b"VALUE k 0 1\r\nw\r\nEND\r\n"


def test_keys_with_unusual_bytes(conn):
    for key in (b"a:b/c.d-e_f", b"\xc3\xa9t\xc3\xa9", b"x" * 250, b"{}[]()!@#$%^&*"):
        assert conn.set(key, b"v") == b"STORED\r\n", key
        assert conn.get(key) == b"v", key
