"""Raw-socket tests of every text-protocol error case.

Each test checks the exact bytes memcached 1.6.18 sends, that the connection
stays usable afterwards (where memcached keeps it open), and that neither a
sentinel key nor a second, idle connection is disturbed."""

import socket
import time

import pytest

SENTINEL_KEY = b"sentinel"
SENTINEL_VAL = b"sentinel-value-0123456789"

BAD_FORMAT = b"CLIENT_ERROR bad command line format\r\n"


@pytest.fixture
def env(server):
    """(conn, other_conn): sentinel key stored; checked untouched at teardown."""
    other = server.connect()
    assert other.set(SENTINEL_KEY, SENTINEL_VAL) == b"STORED\r\n"
    c = server.connect()
    yield c, other
    c.close()
    # the other connection still works and the sentinel key is untouched
    assert other.get(SENTINEL_KEY) == SENTINEL_VAL
    assert other.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    other.close()
    with server.connect() as fresh:
        assert fresh.get(SENTINEL_KEY) == SENTINEL_VAL


def assert_usable(c, key=b"after-error"):
    assert c.set(key, b"ok") == b"STORED\r\n"
    assert c.get(key) == b"ok"


def test_unknown_command(env):
    c, _ = env
    assert c.request(b"bogus\r\n", b"ERROR\r\n") == b"ERROR\r\n"
    assert c.request(b"bogus with args 1 2 3\r\n", b"ERROR\r\n") == b"ERROR\r\n"
    # commands are case sensitive
    assert c.request(b"GET foo\r\n", b"ERROR\r\n") == b"ERROR\r\n"
    assert c.request(b"\r\n", b"ERROR\r\n") == b"ERROR\r\n"
    assert_usable(c)


@pytest.mark.parametrize("cmd", [b"get", b"gets", b"incr a", b"delete",
                                 b"touch a", b"set a", b"set a 0 0"])
def test_too_few_tokens_is_error(env, cmd):
    c, _ = env
    assert c.request(cmd + b"\r\n", b"ERROR\r\n") == b"ERROR\r\n"
    assert c.read_available(0.1) == b""
    assert_usable(c)


@pytest.mark.parametrize("line", [
    pytest.param(b"set k x 0 1", id="flags-not-a-number"),
    pytest.param(b"set k -1 0 1", id="flags-negative"),
    pytest.param(b"set k 0 x 1", id="exptime-not-a-number"),
    pytest.param(b"set k 0 1.5 1", id="exptime-float"),
    pytest.param(b"set k 0 0 abc", id="length-not-a-number"),
    pytest.param(b"add k 0 x 1", id="add-bad-exptime"),
    pytest.param(b"replace k x 0 1", id="replace-bad-flags"),
    pytest.param(b"append k 0 0 x", id="append-bad-length"),
    pytest.param(b"cas k 0 0 1 abc", id="cas-bad-unique"),
])
def test_bad_storage_line(env, line):
    """memcached answers CLIENT_ERROR and does not swallow the data block,
    so the data line is then parsed as a command (ERROR)."""
    c, _ = env
    expected = BAD_FORMAT + b"ERROR\r\n"
    assert c.request(line + b"\r\nb\r\n", expected) == expected
    assert c.read_available(0.1) == b""
    assert c.get(b"k") is None
    assert_usable(c)


def test_negative_length(env):
    c, _ = env
    assert c.request(b"set k 0 0 -1\r\n", BAD_FORMAT) == BAD_FORMAT
    assert c.read_available(0.1) == b""
    assert c.get(b"k") is None
    assert_usable(c)


def test_key_over_250_bytes_on_set(env):
    c, _ = env
    key = b"k" * 251
    expected = BAD_FORMAT + b"ERROR\r\n"
    assert c.request(b"set " + key + b" 0 0 1\r\nb\r\n", expected) == expected
    assert c.read_available(0.1) == b""
    assert_usable(c)


def test_key_over_250_bytes_on_get(env):
    c, _ = env
    key = b"k" * 251
    assert c.request(b"get " + key + b"\r\n", BAD_FORMAT) == BAD_FORMAT
    assert c.request(b"get a " + key + b"\r\n", BAD_FORMAT) == BAD_FORMAT
    assert c.read_available(0.1) == b""
    assert_usable(c)


def test_key_of_exactly_250_bytes_is_fine(env):
    c, _ = env
    key = b"k" * 250
    assert c.set(key, b"v") == b"STORED\r\n"
    assert c.get(key) == b"v"


def test_bad_data_chunk_longer_than_declared(env):
    c, _ = env
    # 3 data bytes for a declared length of 1: memcached reads 1+2 bytes, sees
    # no CRLF, answers bad data chunk, then the leftover "\r\n" is an empty
    # command line -> ERROR.
    expected = b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"
    assert c.request(b"set k 0 0 1\r\nbbb\r\n", expected) == expected
    assert c.read_available(0.1) == b""
    assert c.get(b"k") is None
    assert_usable(c)


def test_bad_data_chunk_keeps_old_value(env):
    c, _ = env
    assert c.set(b"k", b"x") == b"STORED\r\n"
    expected = b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"
    assert c.request(b"set k 0 0 1\r\nbbb\r\n", expected) == expected
    assert c.get(b"k") == b"x"


def test_bad_data_chunk_shorter_then_more(env):
    """A short block followed by more data: the server waits for length+2
    bytes, then reports the bad chunk."""
    c, _ = env
    c.send(b"set k 0 0 5\r\nab")
    assert c.read_available(0.2) == b""          # still waiting for data
    expected = b"CLIENT_ERROR bad data chunk\r\n"
    assert c.request(b"\r\nxyz", expected) == expected   # 7 bytes, no CRLF at end
    assert c.read_available(0.1) == b""
    assert c.get(b"k") is None
    assert_usable(c)


def test_value_over_item_size_limit_is_swallowed(server_factory):
    srv = server_factory("-I", "1m")
    with srv.connect() as other, srv.connect() as c:
        assert other.set(SENTINEL_KEY, SENTINEL_VAL) == b"STORED\r\n"
        big = b"x" * 2_000_000
        expected = b"SERVER_ERROR object too large for cache\r\n"
        c.send(b"set big 0 0 %d\r\n" % len(big))
        c.send(big + b"\r\n")
        assert c.readline() == expected
        # the value was swallowed: the next command is answered normally
        assert c.call(b"get big\r\n") == b"END\r\n"
        assert c.read_available(0.1) == b""
        assert_usable(c)
        assert other.get(SENTINEL_KEY) == SENTINEL_VAL


def test_value_over_item_size_limit_in_one_write(server_factory):
    srv = server_factory("-I", "1m")
    with srv.connect() as c:
        big = b"y" * (1024 * 1024 + 1)
        expected = b"SERVER_ERROR object too large for cache\r\nVERSION 1.6.18\r\n"
        got = c.request(b"set big 0 0 %d\r\n%s\r\nversion\r\n" % (len(big), big),
                        expected, timeout=10)
        assert got == expected
        assert c.read_available(0.1) == b""


def test_too_large_set_removes_existing_value(server_factory):
    """memcached unlinks the old item when a set of the key is too large,
    so stale data does not survive a failed update."""
    srv = server_factory("-I", "1m")
    with srv.connect() as c:
        assert c.set(b"k", b"old") == b"STORED\r\n"
        big = b"z" * 2_000_000
        c.send(b"set k 0 0 %d\r\n%s\r\n" % (len(big), big))
        assert c.readline() == b"SERVER_ERROR object too large for cache\r\n"
        assert c.get(b"k") is None


def test_too_large_noreply_is_silent_and_swallowed(server_factory):
    srv = server_factory("-I", "1m")
    with srv.connect() as c:
        big = b"z" * 2_000_000
        c.send(b"set k 0 0 %d noreply\r\n%s\r\n" % (len(big), big))
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_incr_non_numeric(env):
    c, _ = env
    assert c.set(b"n", b"abc") == b"STORED\r\n"
    exp = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    assert c.call(b"incr n 1\r\n") == exp
    assert c.call(b"decr n 1\r\n") == exp
    assert c.get(b"n") == b"abc"
    assert_usable(c)


@pytest.mark.parametrize("delta", [b"x", b"-1", b"1x", b"18446744073709551616"])
def test_invalid_delta(env, delta):
    c, _ = env
    assert c.set(b"n", b"5") == b"STORED\r\n"
    exp = b"CLIENT_ERROR invalid numeric delta argument\r\n"
    assert c.call(b"incr n " + delta + b"\r\n") == exp
    assert c.call(b"decr n " + delta + b"\r\n") == exp
    assert c.get(b"n") == b"5"
    assert_usable(c)


@pytest.mark.parametrize("extra", [b"x", b"a b"])
def test_delete_bad_extra_argument(env, extra):
    c, _ = env
    assert c.set(b"d", b"1") == b"STORED\r\n"
    exp = b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
    assert c.call(b"delete d " + extra + b"\r\n") == exp
    assert c.get(b"d") == b"1"            # not deleted
    assert_usable(c)


def test_delete_legacy_zero_time_accepted(env):
    c, _ = env
    assert c.set(b"d", b"1") == b"STORED\r\n"
    assert c.call(b"delete d 0\r\n") == b"DELETED\r\n"
    assert c.call(b"delete d 0\r\n") == b"NOT_FOUND\r\n"


def test_flush_all_bad_exptime(env):
    c, _ = env
    assert c.call(b"flush_all x\r\n") == b"CLIENT_ERROR invalid exptime argument\r\n"
    assert_usable(c)


def test_verbosity_bad_argument(env):
    c, _ = env
    assert c.call(b"verbosity x\r\n") == BAD_FORMAT
    assert c.call(b"verbosity\r\n") == b"ERROR\r\n"
    assert_usable(c)


@pytest.mark.parametrize("size", [3000, 8192])
def test_overlong_line_without_newline_closes(env, size):
    """A non-get line over the line limit with no newline: memcached sends
    nothing and closes the connection."""
    c, _ = env
    c.send(b"a" * size)
    assert c.is_closed(timeout=3.0)
    # nothing at all was sent before the close
    assert bytes(c.buf) == b""


def test_overlong_set_line_without_newline_closes(env):
    c, _ = env
    c.send(b"set " + b"k" * 3000)
    assert c.is_closed(timeout=3.0)
    assert bytes(c.buf) == b""


def test_long_get_line_is_served(env):
    """get lines may exceed the line limit (many keys) and are answered."""
    c, _ = env
    assert c.set(b"a", b"x") == b"STORED\r\n"
    keys = b" ".join(b"a" if i % 100 == 0 else b"miss%d" % i for i in range(1000))
    assert len(keys) > 3000
    c.send(b"get " + keys + b"\r\n")
    expected = b"VALUE a 0 1\r\nx\r\n" * 10 + b"END\r\n"
    assert c.read_exact(len(expected)) == expected
    assert c.read_available(0.1) == b""
    assert_usable(c)


def test_errors_do_not_disturb_a_pipeline(env):
    """Errors inside a pipelined batch produce their reply in order.

    (A too-long key in a pipelined get is left out on purpose: memcached
    1.6.18 then drops the replies of the commands before it in the same
    read, a reference bug not worth emulating.)"""
    c, _ = env
    batch = (b"set p1 0 0 1\r\n1\r\n"
             b"bogus\r\n"
             b"incr p1 x\r\n"
             b"incr p1 41\r\n"
             b"delete p1 x\r\n"
             b"flush_all x\r\n"
             b"get p1\r\n")
    expected = (b"STORED\r\n"
                b"ERROR\r\n"
                b"CLIENT_ERROR invalid numeric delta argument\r\n"
                b"42\r\n"
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
                b"CLIENT_ERROR invalid exptime argument\r\n"
                b"VALUE p1 0 2\r\n42\r\nEND\r\n")
    assert c.request(batch, expected) == expected
    assert c.read_available(0.1) == b""


def test_closed_connection_does_not_affect_others(server):
    """A connection closed by the server (overlong line) leaves others alone."""
    with server.connect() as a, server.connect() as b:
        assert a.set(b"shared", b"v") == b"STORED\r\n"
        b.send(b"z" * 4000)
        assert b.is_closed(timeout=3.0)
        assert a.get(b"shared") == b"v"
        with server.connect() as c:
            assert c.get(b"shared") == b"v"
