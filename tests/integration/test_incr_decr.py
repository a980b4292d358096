"""incr/decr semantics over raw sockets: 64-bit wrap, floor at 0, the
space padding memcached leaves when a number shrinks."""

import pytest

MAX64 = 2**64 - 1


def test_incr_decr_basic(conn):
    assert conn.set(b"n", b"10") == b"STORED\r\n"
    assert conn.call(b"incr n 5\r\n") == b"15\r\n"
    assert conn.call(b"decr n 3\r\n") == b"12\r\n"
    assert conn.call(b"incr n 0\r\n") == b"12\r\n"
    assert conn.get(b"n") == b"12"


def test_incr_decr_missing_key(conn):
    assert conn.call(b"incr nokey 1\r\n") == b"NOT_FOUND\r\n"
    assert conn.call(b"decr nokey 1\r\n") == b"NOT_FOUND\r\n"
    assert conn.get(b"nokey") is None


def test_incr_wraps_at_64_bits(conn):
    assert conn.set(b"n", str(MAX64).encode()) == b"STORED\r\n"
    assert conn.call(b"incr n 1\r\n") == b"0\r\n"
    assert conn.set(b"n", str(MAX64).encode()) == b"STORED\r\n"
    assert conn.call(b"incr n 2\r\n") == b"1\r\n"
    assert conn.set(b"n", b"5") == b"STORED\r\n"
    assert conn.call(b"incr n %d\r\n" % MAX64) == b"4\r\n"


def test_incr_max_delta(conn):
    assert conn.set(b"n", b"0") == b"STORED\r\n"
    assert conn.call(b"incr n %d\r\n" % MAX64) == b"%d\r\n" % MAX64
    assert conn.get(b"n") == str(MAX64).encode()


def test_decr_floors_at_zero(conn):
    assert conn.set(b"n", b"5") == b"STORED\r\n"
    assert conn.call(b"decr n 100\r\n") == b"0\r\n"
    assert conn.get(b"n") == b"0"
    assert conn.call(b"decr n 1\r\n") == b"0\r\n"
    assert conn.set(b"n", str(MAX64).encode()) == b"STORED\r\n"
    assert conn.call(b"decr n %d\r\n" % MAX64) == b"0\r\n"


def test_decr_shrink_pads_with_space(conn):
    assert conn.set(b"n", b"100") == b"STORED\r\n"
    assert conn.call(b"decr n 1\r\n") == b"99\r\n"
    # memcached rewrites in place: value length stays 3, padded with a space
    assert conn.call(b"get n\r\n", b"END\r\n") == b"VALUE n 0 3\r\n99 \r\nEND\r\n"
    # a padded number still counts as numeric
    assert conn.call(b"incr n 1\r\n") == b"100\r\n"
    assert conn.call(b"get n\r\n", b"END\r\n") == b"VALUE n 0 3\r\n100\r\nEND\r\n"


def test_decr_shrink_several_digits(conn):
    assert conn.set(b"n", b"10000") == b"STORED\r\n"
    assert conn.call(b"decr n 9995\r\n") == b"5\r\n"
    assert conn.call(b"get n\r\n", b"END\r\n") == b"VALUE n 0 5\r\n5    \r\nEND\r\n"


def test_incr_grows_value(conn):
    assert conn.set(b"n", b"99") == b"STORED\r\n"
    assert conn.call(b"incr n 1\r\n") == b"100\r\n"
    assert conn.call(b"get n\r\n", b"END\r\n") == b"VALUE n 0 3\r\n100\r\nEND\r\n"
    assert conn.call(b"incr n 99999999900\r\n") == b"100000000000\r\n"
    assert conn.get(b"n") == b"100000000000"


def test_incr_keeps_flags(conn):
    assert conn.call(b"set n 42 0 1\r\n7\r\n") == b"STORED\r\n"
    assert conn.call(b"incr n 3\r\n") == b"10\r\n"
    assert conn.call(b"get n\r\n", b"END\r\n") == b"VALUE n 42 2\r\n10\r\nEND\r\n"


def test_incr_changes_cas(conn):
    assert conn.set(b"n", b"1") == b"STORED\r\n"
    before = conn.call(b"gets n\r\n", b"END\r\n").split(b"\r\n")[0].split()[4]
    assert conn.call(b"incr n 1\r\n") == b"2\r\n"
    after = conn.call(b"gets n\r\n", b"END\r\n").split(b"\r\n")[0].split()[4]
    assert before != after


def test_incr_decr_noreply(conn):
    assert conn.set(b"n", b"10") == b"STORED\r\n"
    conn.send(b"incr n 5 noreply\r\ndecr n 2 noreply\r\nincr missing 1 noreply\r\n")
    assert conn.get(b"n") == b"13"
    assert conn.read_available(0.1) == b""


def test_incr_on_leading_zero_and_empty(conn):
    assert conn.set(b"n", b"007") == b"STORED\r\n"
    assert conn.call(b"incr n 1\r\n") == b"8\r\n"
    assert conn.call(b"get n\r\n", b"END\r\n") == b"VALUE n 0 3\r\n8  \r\nEND\r\n"


@pytest.mark.parametrize("value", [b"abc", b"12abc", b"-5", b"1.5"])
def test_incr_non_numeric_values(conn, value):
    assert conn.set(b"n", value) == b"STORED\r\n"
    exp = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    assert conn.call(b"incr n 1\r\n") == exp
    assert conn.get(b"n") == value
