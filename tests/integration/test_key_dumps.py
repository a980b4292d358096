"""Key dumps and LRU administration side by side with Debian's memcached 1.6.18: the
`lru_crawler` and `lru` commands' answers byte for byte, metadump's lines (memcached-tool dump
and keys, libmemcached's memcdump), a crawl reclaiming expired items, `stats sizes`, -X and
no_lru_crawler refusals, a Prometheus-exporter-style scrape (stats, stats slabs, stats items on
one connection, each within 1 s with many items) and python3-binary-memcached's stats() groups
as Datadog's check calls them. Every test runs the same steps against both servers."""

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import (HOST, IS_MEMCACHED, MEMCACHED_BIN, RawConn, Server, free_port,
                      root_args, start_server, wait_listening)

MEMCACHED_TOOL = "/usr/share/memcached/scripts/memcached-tool"

pytestmark = pytest.mark.skipif(
    IS_MEMCACHED or not os.path.exists(MEMCACHED_BIN),
    reason="side by side with memcached: runs once, against both")


class Memcached(Server):
    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def start_memcached(*extra):
    for _ in range(5):
        p = free_port()
        args = [MEMCACHED_BIN] + root_args() + ["-p", str(p), "-l", HOST, "-U", "0"]
        args += [str(a) for a in extra]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if wait_listening(HOST, p, proc):
            return Memcached(proc, HOST, p, args, os.devnull)
        proc.kill()
        proc.wait()
    raise AssertionError("memcached did not start")


@pytest.fixture
def both():
    """both(*flags) -> (memshield, memcached), started with the same flags."""
    servers = []

    def make(*flags):
        pair = (start_server(flags), start_memcached(*flags))
        servers.extend(pair)
        return pair

    yield make
    for s in servers:
        s.kill()


def talk(server, lines, pause=0.05):
    """Sends each line in turn and returns what came back for each (read until quiet)."""
    answers = []
    with RawConn(server.host, server.port) as c:
        for line in lines:
            c.send(line)
            time.sleep(pause)
            answers.append(c.read_available(timeout=0.3))
    return answers


def normalise(data):
    return re.sub(rb"(la|exp)=\d{6,}", rb"\1=T", data)


def dump_lines(server, arg=b"all"):
    with RawConn(server.host, server.port) as c:
        c.send(b"lru_crawler metadump " + arg + b"\r\n")
        data = c.read_until(b"END\r\n", timeout=30)
    return sorted(data[:-5].split(b"\n")[:-1])


def fill(server, n, prefix=b"key", exptime=0, value=b"v"):
    with RawConn(server.host, server.port) as c:
        batch = []
        for i in range(n):
            batch.append(b"set %s%d 0 %d %d noreply\r\n%s\r\n" % (prefix, i, exptime,
                                                                   len(value), value))
            if len(batch) == 1000:
                c.send(b"".join(batch))
                batch = []
        c.send(b"".join(batch) + b"mn\r\n")
        assert c.read_until(b"MN\r\n", timeout=30).endswith(b"MN\r\n")


ADMIN_SCRIPT = [
    b"set a 0 0 1\r\nx\r\n", b"set b%20c 5 100 2\r\nxy\r\n", b"get a\r\n",
    b"lru_crawler metadump 2\r\n", b"lru_crawler metadump 0\r\n", b"lru_crawler metadump 64\r\n",
    b"lru_crawler metadump x\r\n", b"lru_crawler metadump\r\n", b"lru_crawler\r\n",
    b"lru_crawler foo\r\n", b"lru_crawler enable\r\n", b"lru_crawler disable\r\n",
    b"lru_crawler disable\r\n", b"lru_crawler crawl 1\r\n", b"lru_crawler metadump all\r\n",
    b"lru_crawler enable\r\n", b"lru_crawler sleep 10\r\n", b"lru_crawler sleep 1000001\r\n",
    b"lru_crawler sleep x\r\n", b"lru_crawler tocrawl 5\r\n", b"lru_crawler tocrawl x\r\n",
    b"lru_crawler crawl 64\r\n", b"lru_crawler crawl 0\r\n", b"lru_crawler crawl\r\n",
    b"lru_crawler crawl x\r\n", b"lru_crawler crawl 1,2\r\n",
    b"lru\r\n", b"lru mode\r\n", b"lru mode flat\r\n", b"lru mode x\r\n", b"lru mode segmented\r\n",
    b"lru temp_ttl\r\n", b"lru temp_ttl 10\r\n", b"lru temp_ttl -1\r\n", b"lru temp_ttl x\r\n",
    b"lru tune\r\n", b"lru tune 10 20 0.1 2\r\n", b"lru tune 10 20 0.1\r\n",
    b"lru tune 10 71 0.1 2\r\n", b"lru tune 10 20 0 2\r\n", b"lru segmented\r\n", b"lru x\r\n",
    b"lru mode flat noreply\r\n", b"lru tune 10 90 0.1 2 noreply\r\n", b"lru mode flat extra\r\n",
    b"lru temp_ttl 99999999999\r\n", b"lru temp_ttl 2147483648\r\n", b"lru temp_ttl 7 8\r\n",
    b"lru_crawler enable noreply\r\n", b"lru_crawler crawl 1,\r\n",
    b"verbosity\r\n", b"verbosity 5\r\n", b"verbosity x\r\n", b"verbosity 1 noreply\r\n",
    b"stats sizes\r\n", b"stats sizes_enable\r\n", b"stats sizes\r\n",
    b"set d 0 0 100\r\n" + b"y" * 100 + b"\r\n", b"stats sizes\r\n", b"stats sizes_disable\r\n",
    b"stats reset\r\n",
]
SETTINGS = [b"lru_crawler", b"lru_crawler_sleep", b"lru_crawler_tocrawl", b"lru_segmented",
            b"hot_lru_pct", b"warm_lru_pct", b"hot_max_factor", b"warm_max_factor", b"temp_lru",
            b"temporary_ttl", b"verbosity", b"track_sizes", b"dump_enabled"]


def settings_of(server):
    with RawConn(server.host, server.port) as c:
        c.send(b"stats settings\r\n")
        data = c.read_until(b"END\r\n")
    return {l.split()[1]: l.split()[2] for l in data.split(b"\r\n") if l.startswith(b"STAT ")}


def test_lru_crawler_and_lru_commands_answer_as_memcached(both):
    """lru_crawler enable/disable/sleep/tocrawl/crawl, lru mode/temp_ttl/tune, verbosity,
    stats sizes_enable/sizes_disable: the same bytes, and the same settings afterwards."""
    ms, mc = both()
    got, want = talk(ms, ADMIN_SCRIPT), talk(mc, ADMIN_SCRIPT)
    for line, g, w in zip(ADMIN_SCRIPT, got, want):
        assert normalise(g) == normalise(w), line
    s_ms, s_mc = settings_of(ms), settings_of(mc)
    assert {k: s_ms[k] for k in SETTINGS} == {k: s_mc[k] for k in SETTINGS}
    assert ms.stats()["lru_crawler_starts"] == mc.stats()["lru_crawler_starts"] == "0"  # reset


@pytest.mark.parametrize("flags", [("-X",), ("-o", "no_lru_crawler"),
                                   ("-X", "-o", "no_lru_crawler"), ("-o", "no_modern")])
def test_dump_refusals_as_memcached(both, flags):
    """-X: metadump "ERROR metadump not allowed", cachedump refused, crawl allowed;
    no_lru_crawler / no_modern: "CLIENT_ERROR lru crawler disabled" until `lru_crawler enable`;
    no_modern: `lru mode` and `lru temp_ttl` unknown (no LRU maintainer)."""
    script = [b"set a 0 0 1\r\nx\r\n", b"lru_crawler metadump all\r\n",
              b"lru_crawler metadump 0\r\n", b"stats cachedump 1 1\r\n",
              b"lru_crawler crawl 1\r\n", b"lru_crawler crawl 0\r\n", b"lru mode flat\r\n",
              b"lru temp_ttl 5\r\n", b"lru_crawler enable\r\n", b"lru_crawler metadump all\r\n"]
    ms, mc = both(*flags)
    assert [normalise(a) for a in talk(ms, script)] == [normalise(a) for a in talk(mc, script)]


def test_metadump_lines_as_memcached(both):
    """Byte for byte but for times: uri-encoded keys, exp -1 or absolute, cas, fetch, cls 1,
    memcached's item size; LF-terminated lines, then END."""
    ms, mc = both()
    script = [b"set a/b:c~d-e.f_g!*()@,;+$&=?#[] 5 0 1\r\nx\r\n", b"set plain 0 1000 3\r\nabc\r\n",
              b"get plain\r\n"]
    talk(ms, script), talk(mc, script)
    assert [normalise(l) for l in dump_lines(ms)] == [normalise(l) for l in dump_lines(mc)]
    assert dump_lines(ms, b"hash") == dump_lines(ms, b"all")
    # memcached refuses a metadump behind answers it has not sent (mn and gets flush them).
    piped = [b"mn\r\nlru_crawler metadump all\r\n", b"version\r\nlru_crawler metadump all\r\n",
             b"mg zz v\r\nlru_crawler metadump all\r\n", b"mg plain\r\nlru_crawler metadump 1\r\n",
             b"set q 0 0 1\r\nq\r\nlru_crawler metadump all\r\n"]
    assert [normalise(a) for a in talk(ms, piped)] == [normalise(a) for a in talk(mc, piped)]


def test_crawl_reclaims_expired_items_as_memcached(both):
    """lru-crawler.t: after `lru_crawler crawl 1` (polled through lru_crawler_running) the
    expired items are gone: curr_items, 1:used_chunks and items:1:crawler_reclaimed agree."""
    results = []
    for server in both("-o", "no_modern,lru_crawler"):
        fill(server, 30, prefix=b"ifoo")
        fill(server, 30, prefix=b"sfoo", exptime=1)
        time.sleep(2.5)
        assert talk(server, [b"lru_crawler crawl 1\r\n"]) == [b"OK\r\n"]
        with RawConn(server.host, server.port) as c:
            for _ in range(50):
                if c.stats()["lru_crawler_running"] == "0":
                    break
                time.sleep(0.1)
            st = c.stats()
            results.append((st["curr_items"], c.stats("slabs")["1:used_chunks"],
                            c.stats("items")["items:1:crawler_reclaimed"],
                            int(st["lru_crawler_starts"]) >= 1))
    assert results[0] == results[1] == ("30", "30", "30", True)


def test_stats_sizes_with_track_sizes_as_memcached(both):
    script = [b"set a 0 0 1\r\nx\r\n", b"set b 0 0 100\r\n" + b"y" * 100 + b"\r\n",
              b"stats sizes\r\n", b"stats sizes_disable\r\n", b"stats sizes\r\n",
              b"stats sizes_enable\r\n", b"set c 0 0 300\r\n" + b"z" * 300 + b"\r\n",
              b"stats sizes\r\n"]
    ms, mc = both("-o", "track_sizes")
    assert talk(ms, script) == talk(mc, script)


def run_tool(server, mode):
    r = subprocess.run(["perl", MEMCACHED_TOOL, f"{server.host}:{server.port}", mode],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.skipif(not os.path.exists(MEMCACHED_TOOL), reason="memcached-tool not installed")
def test_memcached_tool_dump_and_keys_list_the_same_keys(both):
    ms, mc = both()
    for server in (ms, mc):
        fill(server, 2000)
        fill(server, 20, prefix=b"odd%/:", value=b"x" * 50)  # percent-encoded by metadump
    keys = {}
    for name, server in (("ms", ms), ("mc", mc)):
        out = run_tool(server, "keys")
        keys[name] = sorted(re.findall(rb"^key=(\S+) exp=", out, re.M))
        dump = run_tool(server, "dump")
        keys[name + "-dump"] = sorted(re.findall(rb"^add (\S+) 0 0 \d+\r\n", dump, re.M))
        for mode in ("display", "stats", "settings", "sizes"):
            assert run_tool(server, mode)
    assert len(keys["ms"]) == 2020 and keys["ms"] == keys["mc"]
    assert keys["ms-dump"] == keys["mc-dump"] and len(keys["ms-dump"]) == 2020
    stats_fields = {}
    for name, server in (("ms", ms), ("mc", mc)):
        stats_fields[name] = set(re.findall(rb"^\s*(\w+)\s", run_tool(server, "stats"), re.M))
    assert stats_fields["ms"] == stats_fields["mc"]


@pytest.mark.skipif(shutil.which("memcdump") is None, reason="libmemcached-tools not installed")
def test_memcdump_lists_keys(both):
    """memcdump walks `stats items` and `stats cachedump`; memcached lists only its cold LRU
    there, which holds every item without the LRU maintainer."""
    listed = []
    for server in both("-o", "no_lru_maintainer"):
        fill(server, 500)
        r = subprocess.run(["memcdump", f"--servers={server.host}:{server.port}"],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        listed.append(sorted(r.stdout.split()))
    assert len(listed[0]) == 500 and listed[0] == listed[1]


def test_exporter_scrape_reads_each_group_within_a_second(both):
    """A Prometheus exporter's scrape: stats, stats slabs, stats items on one connection, each
    read to END within 1 s, with 200,000 items; the same field names as memcached (slab and
    item fields per class, compared with the class id taken out)."""
    names = []
    for server in both("-m", "256"):
        fill(server, 200000)
        got = {}
        with RawConn(server.host, server.port) as c:
            for group in (b"", b"slabs", b"items"):
                t0 = time.monotonic()
                c.send(b"stats " + group + b"\r\n" if group else b"stats\r\n")
                data = c.read_until(b"END\r\n", timeout=1.0)
                assert time.monotonic() - t0 < 1.0
                fields = [l.split()[1] for l in data.split(b"\r\n") if l.startswith(b"STAT ")]
                got[group] = {re.sub(rb"^(items:)?\d+:", rb"\1N:", f) for f in fields}
        names.append(got)
    assert names[0] == names[1]


def test_python_binary_memcached_stats_groups(both):
    """python3-binary-memcached's Client.stats() with no key, 'slabs', 'items', 'settings', as
    Datadog's mcache check calls it: the same field names per group (class ids taken out)."""
    bmemcached = pytest.importorskip("bmemcached")
    names = []
    for server in both():
        fill(server, 100)
        client = bmemcached.Client([f"{server.host}:{server.port}"])
        got = {}
        for key in ("", "slabs", "items", "settings"):
            st = client.stats(key) if key else client.stats()
            (only,) = st.values()
            got[key] = {re.sub(r"^(items:)?\d+:", r"\1N:", k) for k in only}
        client.disconnect_all()
        names.append(got)
    assert names[0] == names[1]


def test_shutdown_graceful_with_dash_A(both):
    """`shutdown graceful` with -A: the connection closes and the server exits, as memcached;
    without -A both refuse."""
    for server in both("-A"):
        with RawConn(server.host, server.port) as c:
            c.send(b"shutdown graceful\r\n")
            assert c.is_closed(timeout=5)
        assert server.wait(10) is not None
    for server in both():
        assert talk(server, [b"shutdown graceful\r\n"]) == [b"ERROR: shutdown not enabled\r\n"]


def test_metadump_waits_for_a_slow_reader_without_stalling_others(server_factory):
    """A dump is made as its reader drains the socket: while the reader sleeps, the server holds
    a bounded backlog (not the 22 MB dump) and other connections' gets are answered at once;
    then the whole dump arrives, followed by the answer to a command pipelined behind it."""
    srv = server_factory("-m", "256")
    fill(srv, 300000)
    rss_before = srv.rss_kb()
    with RawConn(srv.host, srv.port) as slow, RawConn(srv.host, srv.port) as other:
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        slow.send(b"lru_crawler metadump all\r\nversion\r\n")
        time.sleep(0.5)
        worst = 0.0
        for i in range(100):
            t0 = time.monotonic()
            other.send(b"get key%d\r\n" % (i * 997))
            assert other.read_until(b"END\r\n").startswith(b"VALUE ")
            worst = max(worst, time.monotonic() - t0)
        assert worst < 0.2
        assert srv.rss_kb() - rss_before < 8 * 1024  # the backlog, not the dump
        data = slow.read_until(b"VERSION ", timeout=60)
        assert data.count(b"\n") == 300000 + 1 and data.endswith(b"END\r\nVERSION ")
