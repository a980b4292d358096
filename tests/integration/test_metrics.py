"""Issue 8: the optional Prometheus endpoint (--metrics=[ADDR:]PORT).

Starts memshield with --metrics on a free loopback port, scrapes it with urllib and checks that
memcached_exporter's names are there and move with traffic, that memshield_shield_* covers every
`stats shield` counter, that bad flag values exit 64, and that anything but GET /metrics is
answered and closed without harming the server.
"""

import re
import socket
import time
import urllib.error
import urllib.request

import pytest

from conftest import HOST, IS_MEMCACHED, free_port, run_binary

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="memshield's own endpoint")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        body = r.read().decode()
    samples = {}
    types = {}
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples, types


def wait_scrape(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return scrape(port)
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def metrics_server(server_factory):
    mport = free_port()
    srv = server_factory(f"--metrics={HOST}:{mport}")
    srv.metrics_port = mport
    wait_scrape(mport)
    return srv


def test_exporter_names_present(metrics_server):
    s, types = scrape(metrics_server.metrics_port)
    assert s["memcached_up"] == 1
    assert s['memcached_version{version="1.6.18"}'] == 1
    for name in ["memcached_uptime_seconds", "memcached_current_connections",
                 "memcached_connections_total", "memcached_items_evicted_total",
                 "memcached_current_items", "memcached_current_bytes", "memcached_limit_bytes",
                 "memcached_read_bytes_total", "memcached_written_bytes_total",
                 "memcached_items_total", "memcached_max_connections",
                 "memcached_connections_rejected_total"]:
        assert name in s, name
    assert s["memcached_limit_bytes"] == 64 * 1024 * 1024
    assert types["memcached_commands_total"] == "counter"
    assert types["memcached_current_items"] == "gauge"
    assert 'memcached_commands_total{command="get",status="hit"}' in s
    assert 'memcached_commands_total{command="set",status="hit"}' in s


def test_every_shield_counter_exported(metrics_server):
    s, _ = scrape(metrics_server.metrics_port)
    shield = metrics_server.stats("shield")
    assert shield, "stats shield is empty"
    for name in shield:
        assert f"memshield_shield_{name}_total" in s, name


def test_values_move_with_traffic(metrics_server):
    port = metrics_server.metrics_port
    before, _ = scrape(port)
    with metrics_server.connect() as c:
        c.set(b"k1", b"hello")
        c.set(b"k2", b"world!")
        c.get(b"k1")
        c.get(b"nope")
    after, _ = scrape(port)
    hit = 'memcached_commands_total{command="get",status="hit"}'
    miss = 'memcached_commands_total{command="get",status="miss"}'
    sets = 'memcached_commands_total{command="set",status="hit"}'
    assert after[hit] == before[hit] + 1
    assert after[miss] == before[miss] + 1
    assert after[sets] == before[sets] + 2
    assert after["memcached_current_items"] == before["memcached_current_items"] + 2
    assert after["memcached_items_total"] == before["memcached_items_total"] + 2
    assert after["memcached_current_bytes"] > before["memcached_current_bytes"]
    assert after["memcached_read_bytes_total"] > before["memcached_read_bytes_total"]
    assert after["memcached_connections_total"] > before["memcached_connections_total"]
    # The same numbers as `stats`.
    st = metrics_server.stats()
    assert int(st["curr_items"]) == after["memcached_current_items"]
    assert int(st["get_hits"]) == after[hit]


def test_port_only_means_loopback(server_factory):
    mport = free_port()
    server_factory(f"--metrics={mport}")
    s, _ = wait_scrape(mport)
    assert s["memcached_up"] == 1


@pytest.mark.parametrize("value", ["localhost:9150", "example.com:80", "127.0.0.1:0",
                                   "127.0.0.1:65536", "127.0.0.1:", "::1:9150", "[::1]9150",
                                   "abc", ""])
def test_bad_values_exit_64(value):
    r = run_binary([f"--metrics={value}", "-p", str(free_port())], timeout=10)
    assert r.returncode == 64, (value, r.stderr)
    assert b"--metrics" in r.stderr


def raw_exchange(port, data, timeout=5.0):
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        if data:
            try:
                s.sendall(data)
            except OSError:
                pass  # the server may close before taking everything: that is the point
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def test_hostile_requests_are_closed(metrics_server):
    port = metrics_server.metrics_port
    r = raw_exchange(port, b"POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
    assert r.startswith(b"HTTP/1.0 405")
    r = raw_exchange(port, b"GET /other HTTP/1.0\r\n\r\n")
    assert r.startswith(b"HTTP/1.0 404")
    r = raw_exchange(port, b"GET /" + b"a" * 100000 + b" HTTP/1.0\r\n\r\n")
    assert r == b"" or r.startswith(b"HTTP/1.0 431")
    r = raw_exchange(port, b"garbage\r\n\r\n")
    assert r.startswith(b"HTTP/1.0 400") or r.startswith(b"HTTP/1.0 405")
    # A client that connects and says nothing is dropped after the I/O timeout.
    t0 = time.monotonic()
    assert raw_exchange(port, b"", timeout=10) == b""
    assert time.monotonic() - t0 < 8
    # Still serving, and the cache never noticed.
    s, _ = scrape(port)
    assert s["memcached_up"] == 1
    assert metrics_server.proc.poll() is None
    with metrics_server.connect() as c:
        c.set(b"alive", b"1")
    assert metrics_server.stats()["curr_items"] == "1"


def test_response_closes_connection(metrics_server):
    r = raw_exchange(metrics_server.metrics_port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    assert b"Connection: close" in head
    m = re.search(rb"Content-Length: (\d+)", head)
    assert m and int(m.group(1)) == len(body)
    assert b"memcached_up 1\n" in body
