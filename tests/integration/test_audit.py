"""memshield-audit against real servers on loopback.

Every server here is started by the test on a free loopback port and killed at teardown:
Debian's memcached with and without UDP (and with ASCII auth), memshield with its defaults and
with -U, an HTTP server, a server that stalls, and a closed port. The audit is only ever pointed
at loopback addresses.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import procutil
from conftest import free_tcp_udp_port, root_args, wait_listening

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("MEMSHIELD_BUILD_DIR") or REPO_ROOT / "build")
AUDIT_BIN = BUILD_DIR / "bin" / "memshield-audit"
MEMSHIELD_BIN = os.environ.get("MEMSHIELD_BIN") or str(BUILD_DIR / "bin" / "memshield")
MEMCACHED_BIN = "/usr/bin/memcached"
NO_UDP_LINE = "UDP is not available in this build"

needs_memcached = pytest.mark.skipif(not os.access(MEMCACHED_BIN, os.X_OK),
                                     reason="Debian's memcached is not installed")


# --- helpers -----------------------------------------------------------------------------

class Proc:
    def __init__(self, args, host, port):
        self.host, self.port, self.args = host, port, args
        fd, self.errfile = tempfile.mkstemp(prefix="audit-it-", suffix=".stderr")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=fd)
        os.close(fd)

    def stderr_text(self):
        with open(self.errfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill(self):
        """memshield: SIGTERM, then SIGKILL after a bounded wait (procutil.py); others: SIGKILL."""
        ours = os.path.basename(self.args[0]) == "memshield"
        procutil.stop(self.proc, name=self.args[0], check=ours, graceful=ours)
        try:
            os.unlink(self.errfile)
        except OSError:
            pass


@pytest.fixture
def spawn():
    """Starts processes that are always killed at teardown."""
    procs = []

    def start(args, host, port, wait=True):
        p = Proc(args, host, port)
        procs.append(p)
        if wait:
            assert wait_listening(host, port, p.proc), f"{args} did not start:\n{p.stderr_text()}"
        return p

    yield start
    for p in procs:
        p.kill()


def memcached(spawn, *extra, host="127.0.0.1", udp=True):
    port = free_tcp_udp_port(host)
    args = [MEMCACHED_BIN] + root_args() + ["-p", str(port), "-l", host,
                                            "-U", str(port if udp else 0)] + list(extra)
    return spawn(args, host, port)


def target(p):
    return f"[{p.host}]:{p.port}" if ":" in p.host else f"{p.host}:{p.port}"


def run_audit(*args, timeout=60):
    assert AUDIT_BIN.exists(), f"build memshield-audit first: {AUDIT_BIN}"
    start = time.monotonic()
    r = subprocess.run([str(AUDIT_BIN)] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    r.elapsed = time.monotonic() - start
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def audit_json(*args, **kw):
    r = run_audit("--json", *args, **kw)
    assert r.returncode in (0, 1, 2), (r.returncode, r.err)
    return r, json.loads(r.out)


def server_stats(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect((host, port))
        s.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            d = s.recv(65536)
            assert d, buf
            buf += d
    out = {}
    for line in buf.decode().split("\r\n"):
        if line.startswith("STAT "):
            _, k, v = line.split(" ", 2)
            out[k] = v
    return out


def probe(obj, name):
    return next(p for p in obj["udp_probes"] if p["probe"] == name)


REQUIRED_FIELDS = {
    "target": str, "tcp_open": bool, "udp_open": bool, "auth_required": (bool, type(None)),
    "version": (str, type(None)), "udp_amplification": (int, float), "risk": str,
    "fixes": list, "reasons": list, "udp_probes": list, "scanned": bool,
}


def check_schema(objs):
    assert isinstance(objs, list) and objs
    for o in objs:
        for field, typ in REQUIRED_FIELDS.items():
            assert field in o, (field, o)
            assert isinstance(o[field], typ), (field, o[field])
        assert o["risk"] in ("critical", "high", "medium", "low", "none", "unknown")
        assert all(isinstance(f, str) for f in o["fixes"])
        if not o["udp_open"]:
            assert o["udp_amplification"] == 0


# --- memcached with UDP: the reflector ----------------------------------------------------

@needs_memcached
def test_memcached_udp_is_critical_with_stats_in_the_hundreds(spawn):
    mc = memcached(spawn)
    r, objs = audit_json(target(mc))
    check_schema(objs)
    o = objs[0]
    assert r.returncode == 2
    assert o["risk"] == "critical"
    assert o["tcp_open"] and o["udp_open"] and o["auth_required"] is False
    assert o["version"].startswith("1.6")
    stats = probe(o, "stats")
    assert stats["complete"] and stats["datagrams"] >= 2
    assert 100 <= stats["amplification"] < 1000, stats
    assert stats["request_wire_bytes"] == stats["request_bytes"] + 28
    assert stats["wire_amplification"] < stats["amplification"]
    assert probe(o, "version")["amplification"] > 1.0
    assert o["udp_amplification"] == max(p["amplification"] for p in o["udp_probes"])
    assert any("-U 0" in f for f in o["fixes"]) and any("--nft" in f for f in o["fixes"])
    assert o["writable"] is None  # not asked to write


@needs_memcached
def test_non_intrusive_mode_writes_nothing(spawn):
    mc = memcached(spawn)
    before = server_stats(mc.host, mc.port)
    r = run_audit(target(mc))
    assert r.returncode == 2, r.err
    after = server_stats(mc.host, mc.port)
    # Nothing stored, changed or removed. (The UDP "miss" probe is a get of an absent key: a
    # read, so cmd_get and get_misses may move.)
    for k in ("curr_items", "total_items", "bytes", "cmd_set", "cmd_flush", "cmd_touch",
              "delete_hits", "delete_misses", "incr_hits", "incr_misses", "decr_hits",
              "decr_misses", "cas_hits", "cas_misses", "touch_hits", "touch_misses", "get_hits"):
        assert before[k] == after[k], (k, before[k], after[k])


@needs_memcached
def test_intrusive_get_measures_a_preloaded_value_and_cleans_up(spawn):
    mc = memcached(spawn)
    before = server_stats(mc.host, mc.port)
    r, objs = audit_json("--intrusive", target(mc))
    o = objs[0]
    assert r.returncode == 2 and o["risk"] == "critical" and o["writable"] is True
    get = probe(o, "get")
    assert get["complete"] and get["datagrams"] >= 700, get
    assert get["response_bytes"] > 1_000_000
    assert get["amplification"] > 10_000
    assert o["udp_amplification"] == get["amplification"]
    after = server_stats(mc.host, mc.port)
    assert after["curr_items"] == before["curr_items"]  # stored, then deleted
    assert int(after["delete_hits"]) == int(before["delete_hits"]) + 1


@needs_memcached
def test_text_report_plain_when_piped_colour_on_request(spawn):
    mc = memcached(spawn)
    plain = run_audit(target(mc))
    assert plain.returncode == 2
    assert "\x1b[" not in plain.out
    for word in ("CRITICAL", "stats", "version", "amplification", "CVE-2018-1000115", "-U 0"):
        assert word.lower() in plain.out.lower(), word
    colour = run_audit("--color", "always", target(mc))
    assert "\x1b[" in colour.out


@needs_memcached
def test_nft_prints_only_a_ruleset_and_sends_nothing(spawn):
    mc = memcached(spawn)
    before = int(server_stats(mc.host, mc.port)["bytes_read"])
    r = run_audit("--nft", "--allow", "10.0.0.0/8", target(mc))
    after = int(server_stats(mc.host, mc.port)["bytes_read"])
    assert r.returncode == 0, r.err
    # Only our own second "stats\r\n" was read: the audit sent nothing over TCP or UDP.
    assert after - before == len(b"stats\r\n")
    assert r.out.startswith("#!/usr/sbin/nft -f")
    assert f"tcp dport {{ {mc.port} }}" in r.out and f"udp dport {{ {mc.port} }}" in r.out
    assert "127.0.0.0/8, 10.0.0.0/8" in r.out
    assert "limit rate" in r.out and "counter drop" in r.out
    assert "TARGET" not in r.out and "risk" not in r.out.lower()
    if shutil.which("nft"):
        chk = subprocess.run(["nft", "-c", "-f", "-"], input=r.stdout, capture_output=True)
        assert chk.returncode == 0 or b"Operation not permitted" in chk.stderr, chk.stderr


# --- memcached without UDP, or with authentication ------------------------------------------

@needs_memcached
def test_memcached_tcp_only_on_loopback_is_low(spawn):
    mc = memcached(spawn, udp=False)
    r, objs = audit_json(target(mc))
    check_schema(objs)
    o = objs[0]
    assert r.returncode == 0
    assert o["tcp_open"] and not o["udp_open"] and o["udp_state"] == "closed"
    assert o["auth_required"] is False and o["risk"] == "low"
    assert o["udp_amplification"] == 0
    assert o["curr_items"] == 0 and o["limit_maxbytes"] > 0


@needs_memcached
def test_memcached_with_ascii_auth_is_none(spawn, tmp_path):
    auth = tmp_path / "auth"
    auth.write_text("auditor:secret\n")
    mc = memcached(spawn, "-Y", str(auth), udp=False)
    r, objs = audit_json(target(mc))
    o = objs[0]
    assert r.returncode == 0
    assert o["tcp_open"] and o["auth_required"] is True and o["risk"] == "none"
    assert o["version"] is None


@needs_memcached
def test_ipv6_loopback(spawn):
    mc = memcached(spawn, host="::1")
    r, objs = audit_json(target(mc))
    o = objs[0]
    assert o["target"] == f"[::1]:{mc.port}" and o["loopback"] is True
    assert r.returncode == 2 and o["risk"] == "critical"
    stats = probe(o, "stats")
    assert stats["amplification"] >= 100
    assert stats["request_wire_bytes"] == stats["request_bytes"] + 48


@needs_memcached
def test_cidr_expansion_finds_the_one_server(spawn):
    mc = memcached(spawn)
    r, objs = audit_json("--port", mc.port, "127.0.0.0/30")
    check_schema(objs)
    assert [o["target"] for o in objs] == [f"127.0.0.{i}:{mc.port}" for i in range(4)]
    risks = {o["target"]: o["risk"] for o in objs}
    assert risks.pop(f"127.0.0.1:{mc.port}") == "critical"
    assert set(risks.values()) == {"none"}
    assert r.returncode == 2
    for o in objs:
        if o["target"] != f"127.0.0.1:{mc.port}":
            assert not o["tcp_open"] and not o["udp_open"]


@needs_memcached
def test_target_file(spawn, tmp_path):
    mc = memcached(spawn, udp=False)
    closed = free_tcp_udp_port()
    f = tmp_path / "targets"
    f.write_text(f"# fleet\n{target(mc)}\n\n127.0.0.1:{closed}  # spare\n")
    r, objs = audit_json(f"@{f}")
    assert [o["target"] for o in objs] == [target(mc), f"127.0.0.1:{closed}"]
    assert [o["risk"] for o in objs] == ["low", "none"]
    assert r.returncode == 0


# --- memshield ----------------------------------------------------------------------------

def memshield(spawn, *extra):
    assert os.access(MEMSHIELD_BIN, os.X_OK), f"memshield binary not found: {MEMSHIELD_BIN}"
    port = free_tcp_udp_port()
    p = spawn([MEMSHIELD_BIN] + root_args() + ["-p", str(port), "-l", "127.0.0.1"] + list(extra),
              "127.0.0.1", port)
    return p


def test_memshield_defaults_are_none_or_low(spawn):
    ms = memshield(spawn)
    r, objs = audit_json(target(ms))
    check_schema(objs)
    o = objs[0]
    assert r.returncode == 0
    assert o["risk"] in ("none", "low")
    assert not o["udp_open"] and o["udp_amplification"] == 0


def memshield_udp(spawn):
    port = free_tcp_udp_port()
    ms = spawn([MEMSHIELD_BIN] + root_args() + ["-p", str(port), "-U", str(port), "-l",
                                                 "127.0.0.1"],
               "127.0.0.1", port)
    time.sleep(0.2)  # let start-up notices reach stderr
    if NO_UDP_LINE in ms.stderr_text():
        pytest.skip("memshield was built without UDP (issue 3 not landed): its stderr says "
                    f"'{NO_UDP_LINE}'")
    return ms


@pytest.mark.parametrize("mode", [[], ["--intrusive"]], ids=["read-only", "intrusive"])
def test_memshield_udp_with_guard_does_not_amplify(spawn, mode):
    # A fresh server per mode: memshield's budget remembers our address for 10 s, and credit
    # left by an earlier run would be invisible to this one.
    ms = memshield_udp(spawn)
    r, objs = audit_json("--timeout", "0.3", *mode, target(ms))
    o = objs[0]
    assert o["udp_open"], o
    assert o["udp_amplification"] <= 1.0, o["udp_probes"]
    assert o["udp_wire_amplification"] <= 1.0, o["udp_probes"]
    assert o["risk"] != "critical" and r.returncode != 2, o
    assert o["risk"] == "medium" and r.returncode == 1, o
    if mode:
        # The 1 MB value is withheld: at most the short "use TCP" notice comes back, and only
        # for requests at least that large, so a small get usually hears nothing.
        assert o["writable"] is True and probe(o, "get")["state"] in ("answered", "no_answer")


# --- things that are not memcached ---------------------------------------------------------

def test_closed_port_is_none():
    port = free_tcp_udp_port()
    r, objs = audit_json(f"127.0.0.1:{port}")
    check_schema(objs)
    o = objs[0]
    assert r.returncode == 0 and o["risk"] == "none"
    assert o["tcp_state"] == "closed" and not o["tcp_open"]
    assert not o["udp_open"] and o["udp_state"] == "closed" and o["udp_amplification"] == 0
    assert o["version"] is None and o["auth_required"] is None


def test_http_server_is_not_memcached(spawn):
    port = free_tcp_udp_port()
    spawn([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
          "127.0.0.1", port)
    r, objs = audit_json(f"127.0.0.1:{port}")
    o = objs[0]
    assert r.returncode == 0 and o["risk"] == "none"
    assert o["tcp_open"] and o["speaks"] == "other" and o["version"] is None
    assert not o["udp_open"]


@pytest.fixture
def stalling_server():
    """Accepts TCP connections and never answers; a bound UDP socket that never replies."""
    port = free_tcp_udp_port()
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    held, stop = [], threading.Event()

    def accept_loop():
        tcp.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(tcp.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept_loop, daemon=True)
    t.start()
    yield port
    stop.set()
    t.join(timeout=2)
    for s in held + [tcp, udp]:
        s.close()


def test_stalling_server_timeouts_hold(stalling_server):
    r, objs = audit_json("--timeout", "0.3", f"127.0.0.1:{stalling_server}")
    o = objs[0]
    # TCP version (0.3 s) + UDP version and stats (0.3 s each), plus pacing.
    assert r.elapsed < 3.0, r.elapsed
    assert o["tcp_open"] and o["speaks"] == "silent" and o["version"] is None
    assert not o["udp_open"] and o["udp_state"] == "no_answer"
    assert all(p["state"] == "no_answer" for p in o["udp_probes"])
    assert o["risk"] == "none" and r.returncode == 0
    assert any("closed or filtered" in x for x in o["reasons"])


def test_total_time_bound(stalling_server):
    closed = free_tcp_udp_port()
    r, objs = audit_json("--timeout", "2", "--max-time", "0.5",
                         f"127.0.0.1:{stalling_server}", f"127.0.0.1:{closed}")
    assert r.elapsed < 2.5, r.elapsed
    assert objs[1]["scanned"] is False and objs[1]["risk"] == "unknown"
    assert r.returncode == 1  # an incomplete scan is never all-clear
    assert "max-time" in r.err


# --- usage and limits ----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [],
    ["127.0.0.1:99999"],
    ["not a host"],
    ["--rate", "0", "127.0.0.1"],
    ["--bogus", "127.0.0.1"],
    ["127.0.0.0/0"],
    ["@/nonexistent/targets.txt"],
])
def test_usage_errors_exit_3(args):
    r = run_audit(*args)
    assert r.returncode == 3, (args, r.out, r.err)
    assert r.out == "" and r.err


def test_slash_zero_needs_max_targets_and_a_small_cidr_does_not():
    r = run_audit("10.0.0.0/0")
    assert r.returncode == 3 and "--max-targets" in r.err and r.elapsed < 2
    port = free_tcp_udp_port()
    r = run_audit("--json", "--max-targets", "2", f"127.0.0.0/31:{port}")
    assert r.returncode == 0 and len(json.loads(r.out)) == 2
    r = run_audit("--max-targets", "3", f"127.0.0.0/30:{port}")
    assert r.returncode == 3


def test_rate_limit_spaces_probes():
    closed = free_tcp_udp_port()
    # A closed port costs two probes (TCP connect, UDP version); at 4/s that is >= 0.25 s.
    r = run_audit("--rate", "4", f"127.0.0.1:{closed}")
    assert r.returncode == 0 and r.elapsed >= 0.25


def test_help_documents_risk_table():
    r = run_audit("--help")
    assert r.returncode == 0
    for word in ("critical", "high", "medium", "low", "none", "--intrusive", "--nft", "--rate",
                 "--max-targets", "--max-time"):
        assert word in r.out
