"""Differential tests of the memcached 1.6 binary protocol: each case is a packet script sent to
memcached and to memshield over fresh connections; the replies must match byte for byte, with
only CAS values normalised (each distinct CAS becomes its order of appearance, 0 stays 0, so the
*pattern* is still compared) and stat values not compared. Whether the connection was closed
must match too. Cases are also pipelined into one write and re-sent byte by byte."""
import struct

import pytest

from memcompat import Chunks, run_both, run_many

REQ = 0x80
GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION, GETK, GETKQ, \
    APPEND, PREPEND, STAT, SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ, \
    PREPENDQ, VERBOSITY, TOUCH, GAT, GATQ = range(0x1f)
SASL_LIST, SASL_AUTH, SASL_STEP, GATK, GATKQ = 0x20, 0x21, 0x22, 0x23, 0x24


def pkt(op, key=b"", extras=b"", value=b"", cas=0, opaque=0, magic=REQ, bodylen=None, dt=0,
        vb=0):
    if isinstance(key, str):
        key = key.encode()
    body = len(extras) + len(key) + len(value) if bodylen is None else bodylen
    return struct.pack(">BBHBBHIIQ", magic, op, len(key), len(extras), dt, vb, body, opaque,
                       cas) + extras + key + value


def sx(flags=0, exp=0):
    return struct.pack(">II", flags, exp)


def dx(by, initial=0, exp=0):
    return struct.pack(">QQI", by, initial, exp)


def tx(exp):
    return struct.pack(">I", exp)


CASES = {}   # name -> (list of packets (bytes), pipeline_ok)


def case(name, *packets, pipeline=True):
    CASES[name] = (list(packets), pipeline)


def K(name, i=0):
    return f"bin-{name}-{i}"


def build():
    n = "getmiss"; case(n, pkt(GET, K(n)), pkt(GETK, K(n)), pkt(GAT, K(n), tx(0)),
                        pkt(GATK, K(n), tx(0)), pkt(TOUCH, K(n), tx(0)))
    n = "sethit"; case(n, pkt(SET, K(n), sx(5, 0), b"val"), pkt(GET, K(n)), pkt(GETK, K(n)),
                       pkt(GAT, K(n), tx(100)), pkt(GATK, K(n), tx(100)), pkt(TOUCH, K(n), tx(0)))
    n = "flags"; case(n, pkt(SET, K(n), sx(0xdeadbeef), b"x"), pkt(GET, K(n)))
    n = "empty"; case(n, pkt(SET, K(n), sx(1), b""), pkt(GETK, K(n)))
    n = "add"; case(n, pkt(ADD, K(n), sx(), b"a"), pkt(ADD, K(n), sx(), b"b"), pkt(GET, K(n)))
    n = "replace"; case(n, pkt(REPLACE, K(n), sx(), b"a"), pkt(SET, K(n), sx(), b"b"),
                        pkt(REPLACE, K(n), sx(3), b"c"), pkt(GET, K(n)))
    n = "appendprepend"; case(n, pkt(APPEND, K(n), b"", b"a"), pkt(PREPEND, K(n), b"", b"a"),
                              pkt(SET, K(n), sx(7), b"mid"), pkt(APPEND, K(n), b"", b"END"),
                              pkt(PREPEND, K(n), b"", b"BEG"), pkt(GETK, K(n)))
    n = "casmiss"; case(n, pkt(SET, K(n), sx(), b"x", cas=12345),
                        pkt(ADD, K(n), sx(), b"x", cas=12345), pkt(GET, K(n)))
    n = "casbad"; case(n, pkt(SET, K(n), sx(), b"x"), pkt(SET, K(n), sx(), b"y", cas=999999),
                       pkt(REPLACE, K(n), sx(), b"y", cas=999999), pkt(GET, K(n)))
    n = "delete"; case(n, pkt(DELETE, K(n)), pkt(SET, K(n), sx(), b"x"), pkt(DELETE, K(n)),
                       pkt(GET, K(n)))
    n = "deletecas"; case(n, pkt(SET, K(n), sx(), b"x"), pkt(DELETE, K(n), cas=99),
                          pkt(GET, K(n)))
    n = "incr"; case(n, pkt(INCR, K(n), dx(1, 7)), pkt(INCR, K(n), dx(3, 7)),
                     pkt(DECR, K(n), dx(100, 7)), pkt(INCR, K(n, 1), dx(1, 7, 0xffffffff)),
                     pkt(DECR, K(n, 1), dx(1, 7, 0xffffffff)), pkt(GET, K(n)))
    n = "incrwrap"; case(n, pkt(INCR, K(n), dx(1, 2 ** 64 - 1)), pkt(INCR, K(n), dx(2)),
                         pkt(GET, K(n)))
    n = "incrnonnum"; case(n, pkt(SET, K(n), sx(), b"abc"), pkt(INCR, K(n), dx(1)),
                           pkt(DECR, K(n), dx(1)))
    n = "incrspaces"; case(n, pkt(SET, K(n), sx(), b"100"), pkt(DECR, K(n), dx(95)),
                           pkt(GET, K(n)))
    n = "version"; case(n, pkt(VERSION), pkt(NOOP, opaque=0xdeadbeef))
    n = "opaque"; case(n, pkt(GET, K(n), opaque=0x01020304), pkt(GETK, K(n), opaque=7))
    n = "unknown"; case(n, pkt(0x55), pkt(0x1f), pkt(0x30), pkt(0xfe), pkt(SASL_LIST),
                        pkt(SASL_AUTH, "PLAIN", b"", b"\0u\0p"), pkt(NOOP))
    n = "verbosity"; case(n, pkt(VERBOSITY), pkt(NOOP))
    n = "quietset"; case(n, pkt(SETQ, K(n), sx(), b"v"), pkt(ADDQ, K(n), sx(), b"v"),
                         pkt(REPLACEQ, K(n, 1), sx(), b"v"), pkt(APPENDQ, K(n, 1), b"", b"v"),
                         pkt(PREPENDQ, K(n), b"", b"p"), pkt(SETQ, K(n), sx(), b"v", cas=9),
                         pkt(NOOP))
    n = "quietget"; case(n, pkt(SET, K(n), sx(2), b"v"), pkt(GETQ, K(n, 1)), pkt(GETQ, K(n)),
                         pkt(GETKQ, K(n)), pkt(GETKQ, K(n, 1)), pkt(GATQ, K(n, 1), tx(0)),
                         pkt(GATKQ, K(n), tx(0)), pkt(NOOP))
    n = "quietdelta"; case(n, pkt(INCRQ, K(n), dx(1, 5)), pkt(DECRQ, K(n), dx(1)),
                           pkt(INCRQ, K(n, 1), dx(1, 0, 0xffffffff)), pkt(DELETEQ, K(n, 1)),
                           pkt(SET, K(n, 2), sx(), b"z"), pkt(INCRQ, K(n, 2), dx(1)),
                           pkt(DELETEQ, K(n)), pkt(GET, K(n)), pkt(NOOP))
    n = "toolarge"; case(n, pkt(SET, K(n), sx(), b"old"),
                         pkt(SET, K(n), sx(), b"x" * (1024 * 1024)), pkt(GET, K(n)),
                         pkt(SETQ, K(n), sx(), b"y" * (1024 * 1024 + 1)), pkt(NOOP),
                         pipeline=False)
    n = "maxkey"; case(n, pkt(SET, "k" * 250, sx(), b"v"), pkt(GETK, "k" * 250))
    n = "datatype"; case(n, pkt(GET, K(n), dt=1), pkt(GET, K(n), vb=5))
    # Refused packets: each closes the connection (so they end their script).
    n = "inv-get-extras"; case(n, pkt(NOOP), pkt(GET, K(n), b"abcd"), pipeline=False)
    n = "inv-get-nokey"; case(n, pkt(GET, b""), pipeline=False)
    n = "inv-key251"; case(n, pkt(GET, "a" * 251), pipeline=False)
    n = "inv-set-extras"; case(n, pkt(SET, K(n), b"abc", b"v"), pipeline=False)
    n = "inv-set-nokey"; case(n, pkt(SET, b"", sx(), b"v"), pipeline=False)
    n = "inv-append-extras"; case(n, pkt(APPEND, K(n), b"abcd", b"x"), pipeline=False)
    n = "inv-delete-value"; case(n, pkt(DELETE, K(n), b"", b"vv"), pipeline=False)
    n = "inv-incr-extras"; case(n, pkt(INCR, K(n), b"abc"), pipeline=False)
    n = "inv-flush-key"; case(n, pkt(FLUSH, K(n)), pipeline=False)
    n = "inv-flush-extras"; case(n, pkt(FLUSH, b"", b"ab"), pipeline=False)
    n = "inv-noop-key"; case(n, pkt(NOOP, K(n)), pipeline=False)
    n = "inv-version-body"; case(n, pkt(VERSION, b"", b"", b"x"), pipeline=False)
    n = "inv-touch-noextras"; case(n, pkt(TOUCH, K(n)), pipeline=False)
    n = "len-key-beyond-body"; case(n, pkt(NOOP), pkt(GET, "kkkk", bodylen=2), pipeline=False)
    n = "len-huge-get"; case(n, pkt(GET, K(n), bodylen=0xffffff00), pipeline=False)
    n = "len-huge-noop"; case(n, pkt(NOOP, bodylen=0xffffff00), pipeline=False)
    n = "len-huge-set"; case(n, pkt(SET, K(n), sx(), b"", bodylen=0xffffffff), pipeline=False)
    n = "badmagic"; case(n, pkt(NOOP), pkt(GET, K(n), magic=0x81), pipeline=False)
    n = "text-after-binary"; case(n, pkt(NOOP), b"get " + b"k" * 40 + b"\r\n", pipeline=False)
    n = "quit"; case(n, pkt(NOOP), pkt(QUIT), pkt(NOOP), pipeline=False)
    n = "quitq"; case(n, pkt(NOOP), pkt(QUITQ), pkt(NOOP), pipeline=False)


build()


def normalize(data: bytes):
    """Packets with CAS values replaced by their order of first appearance; runs of stat
    packets (non-empty key) collapse to one marker. Trailing bytes kept raw."""
    out, seen, i, in_stats = [], {}, 0, False
    while i + 24 <= len(data):
        magic, op, kl, el, dt, st, bl, opq, cas = struct.unpack(">BBHBBHIIQ", data[i:i + 24])
        body = data[i + 24:i + 24 + bl]
        if len(body) < bl:
            break
        i += 24 + bl
        if op == STAT and st == 0 and kl > 0:
            if not in_stats:
                out.append(("stats",))
            in_stats = True
            continue
        in_stats = False
        c = 0 if cas == 0 else seen.setdefault(cas, len(seen) + 1)
        out.append((magic, op, kl, el, dt, st, bl, opq, c, body))
    if i < len(data):
        out.append(("tail", data[i:]))
    return out


def compare(name, script, oracle, candidate):
    a, b = normalize(oracle.data), normalize(candidate.data)
    assert a == b, f"{name}: replies differ\n memcached: {a!r}\n memshield: {b!r}"
    assert oracle.closed == candidate.closed, (
        f"{name}: memcached closed={oracle.closed}, memshield closed={candidate.closed}")
    assert not oracle.timed_out and not candidate.timed_out


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(pair, name):
    packets, _ = CASES[name]
    script = [b"".join(packets)]
    compare(name, script, *run_both(pair, script))


def test_each_packet_written_separately(pair):
    jobs = {name: list(pk) for name, (pk, _) in CASES.items()}
    results = run_many(pair, jobs)
    assert len(results) == len(jobs)
    for name, (script, o, c) in results.items():
        compare(name, script, o, c)


@pytest.mark.parametrize("size", [1, 7, 23, 25])
def test_pipelined_in_chunks(pair, size):
    data = b"".join(b"".join(pk) for name, (pk, ok) in sorted(CASES.items()) if ok)
    data = data.replace(b"bin-", b"c%02d-" % size)   # fresh keys, same lengths, for each run
    script = [Chunks(data, size)] if size < 20 else [Chunks(data, size * 1000 + 3)]
    compare(f"pipelined/{size}", script, *run_both(pair, script))


def test_stats(pair):
    for script in ([pkt(STAT)], [pkt(STAT, "settings")], [pkt(STAT, "reset"), pkt(NOOP)],
                   [pkt(STAT, "nosuch")]):
        o, c = run_both(pair, script)
        compare("stats", script, o, c)


def test_flush(servers):
    # Its own pair: flushing would disturb the other cases.
    p = servers("-t", "1")
    script = [pkt(SET, "f", sx(), b"v"), pkt(FLUSHQ), pkt(GET, "f"), pkt(SET, "f", sx(), b"v"),
              pkt(FLUSH, b"", tx(0)), pkt(GETK, "f"), pkt(NOOP)]
    compare("flush", script, *run_both(p, script))


def test_flush_disabled(servers):
    p = servers("-F")
    script = [pkt(FLUSH), pkt(NOOP)]
    compare("flush -F", script, *run_both(p, script))


def test_unknown_command_swallows_only_its_body(pair):
    """Deliberate difference: memcached swallows an unknown command's body *plus* its extras
    and key again, eating into the next request; memshield discards exactly the body."""
    from memcompat import run_script
    r = run_script(pair.candidate.port, [pkt(0x55, "abc", b"", b"xyz") + pkt(NOOP)])
    got = normalize(r.data)
    assert [p[5] for p in got] == [0x81, 0]


@pytest.mark.parametrize("mode", ["ascii", "binary", "auto"])
def test_binding_protocol(servers, mode):
    p = servers("-B", mode)
    for script in ([pkt(VERSION), pkt(NOOP)], [b"version\r\n"],
                   [b"version\r\n" + b"x" * 30], [pkt(NOOP), b"version\r\n" + b"x" * 30]):
        compare(f"-B {mode}", script, *run_both(p, script))


def test_ascii_auth_forces_text(servers, tmp_path_factory):
    """-Y: memcached serves text only (a binary request would bypass ascii auth)."""
    auth = tmp_path_factory.mktemp("auth") / "authfile"
    auth.write_text("u:p\n")
    p = servers("-Y", str(auth))
    for script in ([pkt(VERSION), pkt(GET, "k")], [pkt(VERSION) + b"x" * 40 + b"\r\n"]):
        compare("-Y", script, *run_both(p, script))


def last_cas(raw: bytes) -> int:
    """The CAS of the last whole response packet received."""
    i, cas = 0, 0
    while i + 24 <= len(raw):
        bl, cas = struct.unpack(">I4xQ", raw[i + 8:i + 24])
        i += 24 + bl
    return cas


def test_cas_checked_by_every_command(pair):
    """incr/decr, append/prepend and delete with the item's current CAS succeed, with a stale
    one fail with KEY_EEXISTS (each compared under the item's lock in memshield)."""
    from memcompat import Dyn
    k = "bin-cas-every"
    script = [pkt(SET, k, sx(), b"5"),
              Dyn(lambda raw: pkt(INCR, k, dx(2), cas=last_cas(raw)), raw=True),
              Dyn(lambda raw: pkt(DECR, k, dx(1), cas=last_cas(raw) - 1) +
                  pkt(DECR, k, dx(1), cas=last_cas(raw)), raw=True),
              Dyn(lambda raw: pkt(APPEND, k, b"", b"0", cas=last_cas(raw)), raw=True),
              Dyn(lambda raw: pkt(PREPEND, k, b"", b"1", cas=last_cas(raw) + 7) +
                  pkt(PREPEND, k, b"", b"1", cas=last_cas(raw)), raw=True),
              Dyn(lambda raw: pkt(DELETE, k, cas=last_cas(raw) + 1) + pkt(GET, k), raw=True),
              Dyn(lambda raw: pkt(DELETE, k, cas=last_cas(raw)) + pkt(GET, k) +
                  pkt(INCR, k, dx(1, 3), cas=99) + pkt(APPEND, k, b"", b"x", cas=99) +
                  pkt(DELETE, k, cas=99), raw=True)]
    compare("cas-every", script, *run_both(pair, script))


def test_sasl_plain_login(servers, tmp_path_factory, monkeypatch):
    """-S with a real login: memcached through Cyrus SASL (sasldb made by saslpasswd2, found via
    SASL_CONF_PATH), memshield through its password file; refused, accepted and after-login
    replies must match byte for byte."""
    import shutil
    import subprocess
    if shutil.which("saslpasswd2") is None:
        pytest.skip("saslpasswd2 (Debian sasl2-bin) is not installed")
    d = tmp_path_factory.mktemp("sasl")
    subprocess.run(["saslpasswd2", "-p", "-a", "memcached", "-f", str(d / "sasldb2"), "-c",
                    "alice"], input=b"secret", check=True, timeout=10)
    (d / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {d / 'sasldb2'}\n")
    (d / "pwdb").write_text("alice:secret\n")
    monkeypatch.setenv("SASL_CONF_PATH", str(d))
    monkeypatch.setenv("MEMCACHED_SASL_PWDB", str(d / "pwdb"))
    p = servers("-S")
    k = "bin-sasl-ok"
    logins = 0
    for script in ([pkt(SASL_LIST), pkt(GET, k), pkt(SASL_AUTH, "PLAIN", b"", b"\0alice\0bad")],
                   [pkt(SASL_AUTH, "PLAIN", b"", b"\0alice\0secret"), pkt(SET, k, sx(3), b"v"),
                    pkt(GETK, k), pkt(DELETE, k), pkt(NOOP)],
                   [pkt(SASL_AUTH, "PLAIN", b"", b"alice\0alice\0secret"), pkt(VERSION)],
                   [pkt(SASL_AUTH, "PLAIN", b"", b"\0nobody\0secret"), pkt(NOOP)]):
        o, c = run_both(p, script)
        compare("sasl-login", script, o, c)
        logins += b"Authenticated" in o.data
    assert logins == 2, "memcached's Cyrus SASL login did not succeed"


def _answer_in_two_steps(port, first, rest):
    """Sends `first`, returns what came back within 0.3 s, then sends `rest` and returns what
    comes back until the server goes quiet: (early, late, closed)."""
    import socket
    import time
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(first)
        s.settimeout(0.3)
        early = b""
        try:
            early = s.recv(65536)
        except socket.timeout:
            pass
        s.sendall(rest)
        late, closed = b"", False
        deadline = time.monotonic() + 10
        s.settimeout(0.3)
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            if not d:
                closed = True
                break
            late += d
        return early, late, closed
    finally:
        s.close()


@pytest.mark.parametrize("op", [SET, ADD, REPLACE, APPEND, PREPEND, SETQ])
def test_too_large_value_read_whole_before_answer(servers, op):
    """memcached 1.6.18 reads a too-large binary value (here 2 MB with -I 1m) to its end before
    answering "Too large.", and the connection stays in step; memshield used to answer after the
    first 64 KB, which made PHP's memcache client (binary mode) drop the connection."""
    p = servers("-I", "1m")
    extras = b"" if op in (APPEND, PREPEND) else sx(3, 0)
    big = pkt(op, "toolarge", extras, b"x" * (2 << 20), opaque=0x1234)
    cut = len(big) - 1000
    rest = big[cut:] + pkt(GET, "toolarge", opaque=2) + pkt(SET, "after", sx(), b"ok") + \
        pkt(GETK, "after", opaque=3)
    got = {}
    for srv in (p.oracle, p.candidate):
        got[srv.name] = _answer_in_two_steps(srv.port, big[:cut], rest)
    mc, ms = got["memcached"], got["memshield"]
    assert mc[0] == b"", "memcached reference: answered before the value was read"
    assert ms[0] == b"", f"memshield answered before the whole value was read: {ms[0][:40]!r}"
    assert normalize(ms[1]) == normalize(mc[1])
    assert b"Too large." in ms[1] and ms[2] is False and mc[2] is False
