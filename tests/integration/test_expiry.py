"""Expiry: relative and absolute ttl, negative ttl, touch/gat/gats, and
flush_all with a delay.  Sleeps are kept to a few seconds per test."""

import time

import pytest


def poll_gone(conn, key, timeout):
    """Wait (bounded) until key disappears; returns seconds waited or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if conn.get(key) is None:
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def test_relative_ttl_expires(conn):
    assert conn.set(b"short", b"v", exptime=1) == b"STORED\r\n"
    assert conn.set(b"long", b"v", exptime=100) == b"STORED\r\n"
    assert conn.set(b"forever", b"v", exptime=0) == b"STORED\r\n"
    assert conn.get(b"short") == b"v"
    waited = poll_gone(conn, b"short", 3.0)
    assert waited is not None, "ttl=1 item still present after 3 s"
    assert conn.get(b"long") == b"v"
    assert conn.get(b"forever") == b"v"


def test_relative_ttl_not_early(conn):
    assert conn.set(b"k", b"v", exptime=3) == b"STORED\r\n"
    time.sleep(1.0)
    assert conn.get(b"k") == b"v"


def test_negative_ttl_is_immediately_expired(conn):
    assert conn.set(b"neg", b"v", exptime=-1) == b"STORED\r\n"
    assert conn.get(b"neg") is None
    # also replaces (and so removes) an existing value
    assert conn.set(b"neg2", b"v") == b"STORED\r\n"
    assert conn.set(b"neg2", b"w", exptime=-100) == b"STORED\r\n"
    assert conn.get(b"neg2") is None


def test_absolute_time_in_past_is_expired(conn):
    past = int(time.time()) - 3600
    assert conn.set(b"past", b"v", exptime=past) == b"STORED\r\n"
    assert conn.get(b"past") is None


def test_absolute_time_in_future_is_present(conn):
    future = int(time.time()) + 3600
    assert conn.set(b"future", b"v", exptime=future) == b"STORED\r\n"
    assert conn.get(b"future") == b"v"


def test_absolute_time_near_future_expires(conn):
    soon = int(time.time()) + 2
    assert conn.set(b"soon", b"v", exptime=soon) == b"STORED\r\n"
    assert conn.get(b"soon") == b"v"
    assert poll_gone(conn, b"soon", 4.0) is not None


def test_touch_extends_ttl(conn):
    assert conn.set(b"t", b"v", exptime=1) == b"STORED\r\n"
    assert conn.set(b"u", b"v", exptime=1) == b"STORED\r\n"
    assert conn.call(b"touch t 100\r\n") == b"TOUCHED\r\n"
    assert poll_gone(conn, b"u", 3.0) is not None
    assert conn.get(b"t") == b"v"


def test_touch_shortens_ttl(conn):
    assert conn.set(b"t", b"v") == b"STORED\r\n"
    assert conn.call(b"touch t 1\r\n") == b"TOUCHED\r\n"
    assert poll_gone(conn, b"t", 3.0) is not None


def test_touch_missing_and_noreply(conn):
    assert conn.call(b"touch missing 10\r\n") == b"NOT_FOUND\r\n"
    assert conn.set(b"t", b"v", exptime=100) == b"STORED\r\n"
    conn.send(b"touch t -1 noreply\r\n")
    assert conn.get(b"t") is None
    assert conn.read_available(0.1) == b""


def test_gat_returns_value_and_changes_ttl(conn):
    assert conn.call(b"set g 5 1 2\r\nhi\r\n") == b"STORED\r\n"
    assert conn.call(b"gat 100 g missing\r\n", b"END\r\n") == \
        b"VALUE g 5 2\r\nhi\r\nEND\r\n"
    time.sleep(2.2)
    assert conn.get(b"g") == b"hi"
    # and shorten it again
    assert conn.call(b"gat 1 g\r\n", b"END\r\n") == b"VALUE g 5 2\r\nhi\r\nEND\r\n"
    assert poll_gone(conn, b"g", 3.0) is not None


def test_gats_returns_cas(conn):
    assert conn.set(b"g", b"hi") == b"STORED\r\n"
    gets = conn.call(b"gets g\r\n", b"END\r\n")
    gats = conn.call(b"gats 100 g\r\n", b"END\r\n")
    assert gats.startswith(b"VALUE g 0 2 ")
    assert gats.endswith(b"\r\nhi\r\nEND\r\n")
    assert gets == gats
    assert conn.call(b"gats 100 missing\r\n") == b"END\r\n"


def test_flush_all_with_delay(conn):
    assert conn.set(b"a", b"1") == b"STORED\r\n"
    assert conn.set(b"b", b"2") == b"STORED\r\n"
    # memcached's flush deadline is realtime(delay) - 1 on a 1 s clock, so a
    # delay of 3 leaves the items visible for at least a second
    assert conn.call(b"flush_all 3\r\n") == b"OK\r\n"
    assert conn.get(b"a") == b"1"
    assert conn.get(b"b") == b"2"
    waited = poll_gone(conn, b"a", 4.5)
    assert waited is not None, "flush_all 3 did not take effect within 4.5 s"
    assert conn.get(b"b") is None
    # the cache works normally afterwards (memcached also drops items stored
    # in the flush's own second, so step past it first)
    time.sleep(1.1)
    assert conn.set(b"c", b"3") == b"STORED\r\n"
    assert conn.get(b"c") == b"3"


def test_flush_all_immediate_and_noreply(conn):
    assert conn.set(b"a", b"1") == b"STORED\r\n"
    assert conn.call(b"flush_all\r\n") == b"OK\r\n"
    assert conn.get(b"a") is None
    assert conn.set(b"a", b"1") == b"STORED\r\n"
    assert conn.get(b"a") == b"1"
    conn.send(b"flush_all noreply\r\n")
    assert conn.get(b"a") is None
    assert conn.set(b"b", b"2") == b"STORED\r\n"
    conn.send(b"flush_all 0 noreply\r\n")
    assert conn.get(b"b") is None
    assert conn.read_available(0.1) == b""


def test_flush_all_delay_noreply(conn):
    assert conn.set(b"a", b"1") == b"STORED\r\n"
    conn.send(b"flush_all 3 noreply\r\n")
    assert conn.get(b"a") == b"1"
    assert poll_gone(conn, b"a", 4.5) is not None
    assert conn.read_available(0.1) == b""


def test_flush_all_negative_is_immediate(conn):
    assert conn.set(b"a", b"1") == b"STORED\r\n"
    assert conn.call(b"flush_all -1\r\n") == b"OK\r\n"
    assert conn.get(b"a") is None
