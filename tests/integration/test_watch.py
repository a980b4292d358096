"""`watch` (memcached's live event log) and `cache_memlimit`, against the real binary. Run with
MEMSHIELD_SERVER=memcached the same tests check Debian's memcached 1.6.18 gives the same answers
and line formats (watcher.t, dyn-maxbytes.t); memshield_only tests cover what memcached does
differently (RSS returned at once on a shrink)."""

import re
import socket
import time

import pytest

from conftest import IS_MEMCACHED, memshield_only

TS = r"ts=\d+\.\d+ gid=\d+ "


def watcher(server, kinds=b""):
    w = server.connect()
    w.send(b"watch" + (b" " + kinds if kinds else b"") + b"\r\n")
    assert w.readline() == b"OK\r\n"
    time.sleep(0.2)  # memcached's logger thread picks the watcher up asynchronously
    return w


def line(w, timeout=5.0):
    return w.read_until(b"\n", timeout).decode()


def test_watch_answers_ok_error_as_memcached(server):
    for cmd, want in [(b"watch", b"OK"), (b"watch fetchers mutations evictions connevents", b"OK"),
                      (b"watch rawcmds", b"OK"), (b"watch sysevents", b"OK"),
                      (b"watch deletions", b"OK"),  # 1.6.19+ (1.6.18: ERROR), taken
                      (b"watch foo", b"ERROR"), (b"watch FETCHERS", b"ERROR")]:
        with server.connect() as c:
            assert c.call(cmd + b"\r\n") == want + b"\r\n", cmd


def test_watch_disabled_by_W(server_factory):
    with server_factory("-W").connect() as c:
        assert c.call(b"watch mutations\r\n") == b"CLIENT_ERROR watch commands not allowed\r\n"


def test_watch_fetchers_and_mutations_line_formats(server):
    w = watcher(server, b"fetchers mutations")
    with server.connect() as c:
        assert c.call(b"set vfoo 5 0 4\r\nvbar\r\n") == b"STORED\r\n"
        c.send(b"get vfoo\r\n")
        c.read_until(b"END\r\n")
        assert c.call(b"add vfoo 0 0 1\r\nx\r\n") == b"NOT_STORED\r\n"
        assert c.call(b"set k%x 0 9 1\r\nz\r\n") == b"STORED\r\n"
        assert c.call(b"append vfoo 0 0 2\r\nxy\r\n") == b"STORED\r\n"
    assert re.fullmatch(TS + r"type=item_get key=vfoo status=not_found clsid=0 cfd=\d+ size=0\n",
                        line(w))
    assert re.fullmatch(TS + r"type=item_store key=vfoo status=stored cmd=set ttl=0 clsid=\d+ "
                        r"cfd=\d+ size=4\n", line(w))
    assert re.fullmatch(TS + r"type=item_get key=vfoo status=found clsid=\d+ cfd=\d+ size=4\n",
                        line(w))
    assert re.fullmatch(TS + r"type=item_get key=vfoo status=found clsid=\d+ cfd=\d+ size=4\n",
                        line(w))
    assert re.fullmatch(TS + r"type=item_store key=vfoo status=not_stored cmd=add ttl=0 "
                        r"clsid=\d+ cfd=\d+ size=1\n", line(w))
    assert "type=item_get key=k%25x status=not_found" in line(w)  # keys are URI-encoded
    assert re.search(r"type=item_store key=k%25x status=stored cmd=set ttl=9 ", line(w))
    assert "type=item_get key=vfoo status=found" in line(w)
    assert re.search(r"type=item_store key=vfoo status=stored cmd=append ttl=0 clsid=\d+ "
                     r"cfd=\d+ size=6\n", line(w))  # the joined item's size
    w.close()


def test_watch_longest_key_is_uri_encoded(server):
    w = watcher(server, b"mutations")
    with server.connect() as c:
        assert c.call(b"set " + b"#" * 250 + b" 0 0 1\r\nx\r\n") == b"STORED\r\n"
    assert len(line(w).split()[3]) == 250 * 3 + len("key=")
    w.close()


def test_watch_connevents_normal_and_error_close(server):
    w = watcher(server, b"connevents")
    c = server.connect()
    assert c.call(b"version\r\n").startswith(b"VERSION")
    c.send(b"quit\r\n")
    assert re.fullmatch(TS + r"type=conn_new rip=127\.0\.0\.1 rport=\d+ transport=tcp cfd=\d+\n",
                        line(w))
    assert re.fullmatch(TS + r"type=conn_close rip=127\.0\.0\.1 rport=\d+ transport=tcp "
                        r"reason=normal cfd=\d+\n", line(w))
    c.close()
    c = server.connect()
    c.send(b"GET / HTTP/1.1\r\n")
    assert "type=conn_new" in line(w)
    assert re.search(r"type=conn_close .* reason=error cfd=\d+\n", line(w))
    c.close()
    w.close()


def test_watch_evictions_line_format(server_factory):
    srv = server_factory("-m", "8", "-o", "watcher_logbuf_size=1024")
    w = watcher(srv, b"evictions")
    value = b"B" * 50000
    with srv.connect() as c:
        for i in range(400):
            c.send(b"set ev%d 0 0 %d noreply\r\n" % (i, len(value)) + value + b"\r\n")
        assert c.call(b"version\r\n").startswith(b"VERSION")
    assert re.fullmatch(TS + r"type=eviction key=ev\d+ fetch=no ttl=-1 la=\d+ clsid=\d+ "
                        r"size=50000\n", line(w))
    w.close()


def test_watch_slow_watcher_gets_skipped_marker(server_factory):
    srv = server_factory("-o", "watcher_logbuf_size=8")
    w = srv.connect()
    w.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    w.send(b"watch\r\n")
    assert w.readline() == b"OK\r\n"
    time.sleep(0.2)
    spacer = b"X" * 180
    with srv.connect() as c:
        start = time.monotonic()
        for i in range(80000):  # as watcher.t: memcached's buffers need this many
            c.send(b"get foo%d%s\r\n" % (i, spacer))
            assert c.readline() == b"END\r\n"
        took = time.monotonic() - start
        time.sleep(0.5)
        seen = None
        for n in range(200000):
            if n % 50 == 0:
                assert c.call(b"get foo\r\n") == b"END\r\n"
            ln = line(w)
            if ln.startswith("skipped="):
                seen = ln
                break
        assert seen is not None and re.fullmatch(r"skipped=\d+\n", seen)
        assert c.call(b"get foob\r\n") == b"END\r\n"
        assert re.match(TS + "type=item_get", line(w))
    assert took < 60  # the stalled watcher never held the worker up
    w.close()


def test_watch_log_watchers_stat(server):
    with server.connect() as c:
        w1 = watcher(server, b"fetchers")
        w2 = watcher(server, b"fetchers")
        time.sleep(0.5)
        assert c.stats()["log_watchers"] == "2"
        sent = int(c.stats()["log_watcher_sent"])
        assert c.call(b"get nothing\r\n") == b"END\r\n"
        assert "key=nothing" in line(w1) and "key=nothing" in line(w2)
        assert int(c.stats()["log_watcher_sent"]) == sent + 2  # a line to each watcher
        w1.close()
        w2.close()
        deadline = time.monotonic() + 5
        while c.stats()["log_watchers"] != "0" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.stats()["log_watchers"] == "0"


def test_watcher_takes_no_more_commands(server):
    w = server.connect()
    w.send(b"watch connevents\r\nversion\r\n")
    assert w.readline() == b"OK\r\n"
    assert w.read_available(0.5) == b""
    w.close()


def test_cache_memlimit_answers_as_memcached(server):
    with server.connect() as c:
        for cmd, want in [
                (b"cache_memlimit", b"ERROR"), (b"cache_memlimit abc", b"ERROR"),
                (b"cache_memlimit -5", b"ERROR"), (b"cache_memlimit 8abc", b"ERROR"),
                (b"cache_memlimit 8 x y", b"ERROR"),
                (b"cache_memlimit 0", b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"),
                (b"cache_memlimit 7", b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"),
                (b"cache_memlimit 99999999999",
                 b"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes"),
                (b"cache_memlimit 18446744073709551616", b"ERROR"),
                (b"cache_memlimit 17592186044416",  # 2^44: its low 32 bits are 0
                 b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"),
                (b"cache_memlimit 8 x", b"OK"), (b"cache_memlimit 100", b"OK")]:
            assert c.call(cmd + b"\r\n") == want + b"\r\n", cmd
        c.send(b"cache_memlimit 90 noreply\r\n")
        assert c.stats("settings")["maxbytes"] == str(90 << 20)
        assert c.stats()["limit_maxbytes"] == str(90 << 20)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


@memshield_only
def test_cache_memlimit_shrink_evicts_and_returns_memory_then_grows(server_factory):
    srv = server_factory("-m", "64", "-t", "2")
    value = b"v" * 4000
    with srv.connect() as c:
        for i in range(20000):  # ~80 MB offered to a 64 MB cache
            c.send(b"set k%d 0 0 %d noreply\r\n" % (i, len(value)) + value + b"\r\n")
        assert c.call(b"version\r\n").startswith(b"VERSION")
        full = rss_kb(srv.pid)
        assert int(c.stats()["bytes"]) > 48 << 20
        assert c.call(b"cache_memlimit 16\r\n") == b"OK\r\n"
        st = c.stats()
        assert int(st["bytes"]) <= 16 << 20
        assert st["limit_maxbytes"] == str(16 << 20)
        deadline = time.monotonic() + 5
        while rss_kb(srv.pid) > full - 32 * 1024 and time.monotonic() < deadline:
            time.sleep(0.1)
        small = rss_kb(srv.pid)
        assert small < full - 32 * 1024, (full, small)
        assert c.call(b"cache_memlimit 64\r\n") == b"OK\r\n"
        for i in range(20000, 32000):
            c.send(b"set k%d 0 0 %d noreply\r\n" % (i, len(value)) + value + b"\r\n")
        assert c.call(b"version\r\n").startswith(b"VERSION")
        assert int(c.stats()["bytes"]) > 32 << 20  # room again for more than the 16 MB
        assert c.stats("settings")["maxbytes"] == str(64 << 20)


def test_watch_meta_commands_log_like_text_ones(server):
    w = watcher(server, b"fetchers mutations")
    with server.connect() as c:
        assert c.call(b"ms mk 2 T30\r\nhi\r\n") == b"HD\r\n"
        assert c.call(b"mg mk v\r\n", term=b"hi\r\n").startswith(b"VA 2")
        assert c.call(b"md mk\r\n") == b"HD\r\n"
        assert c.call(b"ma mk\r\n") == b"NF\r\n"
    want = [r"type=item_get key=mk status=not_found clsid=0 cfd=\d+ size=0",
            r"type=item_store key=mk status=stored cmd=set ttl=30 clsid=\d+ cfd=\d+ size=2",
            r"type=item_get key=mk status=found clsid=\d+ cfd=\d+ size=2",
            r"type=item_get key=mk status=found clsid=\d+ cfd=\d+ size=2",
            r"type=item_get key=mk status=not_found clsid=0 cfd=\d+ size=0"]
    for pattern in want:
        got = line(w)
        assert re.fullmatch(TS + pattern + "\n", got), (pattern, got)
    w.close()


def test_watch_binary_protocol_logs_like_text(server):
    import struct

    def req(op, key, extras=b"", val=b""):
        body = extras + key + val
        return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0, len(body), 0,
                           0) + body

    w = watcher(server, b"fetchers mutations")
    with server.connect() as c:
        c.send(req(0x01, b"bk", struct.pack(">II", 0, 30), b"abc"))
        c.read_exact(24)
        c.send(req(0x00, b"bk"))
        c.read_exact(24 + 4 + 3)
    want = [r"type=item_get key=bk status=not_found clsid=0 cfd=\d+ size=0",
            r"type=item_store key=bk status=stored cmd=set ttl=30 clsid=\d+ cfd=\d+ size=3",
            r"type=item_get key=bk status=found clsid=\d+ cfd=\d+ size=3"]
    for pattern in want:
        got = line(w)
        assert re.fullmatch(TS + pattern + "\n", got), (pattern, got)
    w.close()
