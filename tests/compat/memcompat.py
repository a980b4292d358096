"""Differential-test machinery: start memcached (the oracle) and memshield side by side, send both
the identical byte script, and compare what comes back byte for byte.

Only two things are normalised before comparing, because they may legitimately differ:
  * the CAS unique in "VALUE <key> <flags> <bytes> <cas>\\r\\n" lines (gets/gats); it is replaced
    by "<cas>", and instead the *pattern* of CAS values is compared: within one script, two VALUE
    lines carry the same CAS on memshield exactly when they carry the same CAS on memcached (same
    item, same CAS; a modification gives a new one).
  * every run of "STAT <name> <value>\\r\\n" lines (stats output) collapses to one placeholder line.
Everything else -- every byte, and whether the server closed the connection -- must match.

Scripts: a list of steps. A step is
  * bytes            -- written with one send()
  * Chunks(data, n)  -- written n bytes per send() (n=1: byte by byte)
  * Sleep(seconds)   -- pause before the next step (output is still being collected)
  * Wait()           -- wait until the server goes quiet before the next step
  * Dyn(fn)          -- wait until quiet, then send fn(cas_values_seen_so_far) (a bytes step built
                        from this server's own CAS values; the only way the two servers ever receive
                        different bytes)
"""
from __future__ import annotations

import atexit
import os
import re
import select
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ORACLE_BIN = os.environ.get("MEMCACHED_BIN", "/usr/bin/memcached")
CANDIDATE_BIN = os.environ.get("MEMSHIELD_BIN") or os.path.join(REPO, "build", "bin", "memshield")
BASE_FLAGS = ["-l", "127.0.0.1", "-U", "0", "-t", "2"]

QUIET = float(os.environ.get("COMPAT_QUIET", "0.1"))  # seconds of silence = "server is done"
SCRIPT_DEADLINE = 30.0                                 # hard cap on one script, seconds
START_DEADLINE = 10.0                                  # hard cap on waiting for accept()


# ----------------------------------------------------------------------------------------------
# Script steps

class Sleep:
    def __init__(self, seconds: float):
        assert 0 <= seconds <= 5, "only short sleeps"
        self.seconds = seconds

    def __repr__(self):
        return f"Sleep({self.seconds})"


class Chunks:
    def __init__(self, data: bytes, size: int = 1, pause: float = 0.0):
        assert size >= 1
        self.data, self.size, self.pause = data, size, pause

    def __repr__(self):
        return f"Chunks({self.data[:60]!r}{'...' if len(self.data) > 60 else ''}, {self.size})"


class Wait:
    def __repr__(self):
        return "Wait()"


class Dyn:
    """raw=True: fn gets every byte received so far instead of the parsed CAS list."""

    def __init__(self, fn, label: str = "dyn", raw: bool = False):
        self.fn, self.label, self.raw = fn, label, raw

    def __repr__(self):
        return f"Dyn({self.label})"


def chunked(script, size: int):
    """The same script with every bytes step re-sent `size` bytes per write."""
    out = []
    for step in script:
        if isinstance(step, (bytes, bytearray)):
            out.append(Chunks(bytes(step), size))
        elif isinstance(step, Chunks):
            out.append(Chunks(step.data, min(size, step.size), step.pause))
        else:
            out.append(step)
    return out


def script_bytes(script) -> bytes:
    """All static bytes of a script (Dyn steps excluded), for messages."""
    parts = []
    for step in script:
        if isinstance(step, (bytes, bytearray)):
            parts.append(bytes(step))
        elif isinstance(step, Chunks):
            parts.append(step.data)
        elif isinstance(step, Dyn):
            parts.append(b"<" + step.label.encode() + b">")
    return b"".join(parts)


# ----------------------------------------------------------------------------------------------
# Servers

_live_procs: set = set()


def _kill_all_at_exit():
    for p in list(_live_procs):
        _stop_proc(p)


atexit.register(_kill_all_at_exit)


def _stop_proc(proc):
    """SIGTERM (memshield leaves through its shutdown path), SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    _live_procs.discard(proc)


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all held open at once, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Server:
    def __init__(self, name: str, binary: str, extra: list[str]):
        self.name, self.binary, self.extra = name, binary, list(extra)
        self.proc = None
        self.port = None
        self.log = None
        self.args = None

    def start(self, port: int):
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise RuntimeError(f"{self.name}: no executable at {self.binary}")
        args = [self.binary, "-p", str(port), *BASE_FLAGS, *self.extra]
        if os.geteuid() == 0:
            args += ["-u", "root"]  # memcached refuses to run as root otherwise
        self.args = args
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        _live_procs.add(self.proc)
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                time.sleep(0.02)
                continue
            time.sleep(0.05)  # the listener must be ours: our process must still be alive
            if self.proc.poll() is None:
                self.port = port
                return
            break
        out = self.output()
        self.stop()
        raise RuntimeError(f"{self.name} did not start: {' '.join(args)}\n{out}")

    def output(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read()[-4000:].decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            _stop_proc(self.proc)


class ServerPair:
    """memcached (oracle) and memshield (candidate), identical flags."""

    def __init__(self, extra=()):
        self.extra = list(extra)
        self.oracle = Server("memcached", ORACLE_BIN, self.extra)
        self.candidate = Server("memshield", CANDIDATE_BIN, self.extra)

    def start(self):
        try:
            for attempt in range(3):
                po, pc = free_ports(2)
                try:
                    if not self.oracle.alive():
                        self.oracle.start(po)
                    if not self.candidate.alive():
                        self.candidate.start(pc)
                    return self
                except RuntimeError:
                    if attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise

    def stop(self):
        self.oracle.stop()
        self.candidate.stop()

    def revive(self) -> list[str]:
        """Restart any server that died (so later tests still run); returns what happened."""
        msgs = []
        for s in (self.oracle, self.candidate):
            if not s.alive():
                code = s.proc.returncode if s.proc is not None else None
                msgs.append(f"{s.name} DIED (exit status {code}); its output:\n{s.output()}")
                s.stop()
                try:
                    s.start(free_ports(1)[0])
                except RuntimeError as e:
                    msgs.append(f"and could not be restarted: {e}")
        return msgs

    def check_alive(self):
        msgs = self.revive()
        if msgs:
            raise AssertionError("\n".join(msgs))


# ----------------------------------------------------------------------------------------------
# Running a script

@dataclass
class Result:
    data: bytes
    closed: bool          # the server closed the connection (EOF or reset)
    close_kind: str       # "", "eof" or "reset" (informational only)
    send_error: str       # a send failed because the server had closed (informational only)
    timed_out: bool       # never went quiet within SCRIPT_DEADLINE
    sent: bytes = b""     # what was actually sent (differs between servers only in Dyn steps)


class _Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(10)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.close_kind = ""
        self.last_activity = time.monotonic()
        self.stopping = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while not self.stopping:
            try:
                r, _, _ = select.select([self.sock], [], [], 0.02)
                if not r:
                    continue
                d = self.sock.recv(1 << 20)
            except (ConnectionResetError, ConnectionAbortedError):
                self.close_kind = "reset"
                break
            except OSError:
                if self.stopping:
                    break
                self.close_kind = "reset"
                break
            if not d:
                self.close_kind = "eof"
                break
            with self.lock:
                self.buf += d
                self.last_activity = time.monotonic()

    def touch(self):
        self.last_activity = time.monotonic()

    def wait_quiet(self, quiet: float, deadline: float) -> bool:
        """True when quiet (or closed), False on hitting the deadline."""
        while True:
            if self.close_kind:
                self.reader.join(1)
                return True
            now = time.monotonic()
            if now - self.last_activity >= quiet:
                return True
            if now >= deadline:
                return False
            time.sleep(min(0.005, quiet / 4))

    def close(self):
        self.stopping = True
        self.reader.join(2)
        try:
            self.sock.close()
        except OSError:
            pass


def parse_cas(data: bytes) -> list[int]:
    return [c for _, c in normalize(data)[1]]


def run_script(port: int, script, quiet: float = QUIET) -> Result:
    conn = _Conn(port)
    deadline = time.monotonic() + SCRIPT_DEADLINE
    send_error = ""
    timed_out = False
    sent = bytearray()
    try:
        for step in script:
            if conn.close_kind or send_error:
                break
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                continue
            if isinstance(step, Wait):
                timed_out |= not conn.wait_quiet(quiet, deadline)
                continue
            if isinstance(step, Dyn):
                timed_out |= not conn.wait_quiet(quiet, deadline)
                with conn.lock:
                    seen = bytes(conn.buf)
                pieces = [step.fn(seen if step.raw else parse_cas(seen))]
                size, pause = None, 0.0
            elif isinstance(step, Chunks):
                pieces, size, pause = [step.data], step.size, step.pause
            elif isinstance(step, (bytes, bytearray)):
                pieces, size, pause = [bytes(step)], None, 0.0
            else:
                raise TypeError(f"bad script step {step!r}")
            data = pieces[0]
            if size is None:
                parts = [data]
            else:
                parts = [data[i:i + size] for i in range(0, len(data), size)]
            for part in parts:
                try:
                    conn.sock.sendall(part)
                except (BrokenPipeError, ConnectionResetError, OSError) as e:
                    send_error = type(e).__name__
                    break
                conn.touch()
                sent += part
                if pause:
                    time.sleep(pause)
        timed_out |= not conn.wait_quiet(quiet, deadline)
        with conn.lock:
            data = bytes(conn.buf)
        return Result(data, bool(conn.close_kind), conn.close_kind, send_error, timed_out,
                      bytes(sent))
    finally:
        conn.close()


def run_both(pair: ServerPair, script, quiet: float = QUIET) -> tuple[Result, Result]:
    """The same script on fresh connections to both servers, concurrently."""
    results = [None, None]
    errors = [None, None]

    def go(i, server):
        try:
            results[i] = run_script(server.port, script, quiet)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors[i] = e

    threads = [threading.Thread(target=go, args=(i, s), daemon=True)
               for i, s in enumerate((pair.oracle, pair.candidate))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SCRIPT_DEADLINE + 10)
    for i, e in enumerate(errors):
        if e is not None:
            who = (pair.oracle, pair.candidate)[i].name
            raise AssertionError(f"{who}: could not run script: {e!r}")
    return results[0], results[1]


def run_many(pair: ServerPair, jobs: dict, quiet: float = QUIET, workers: int = 8) -> dict:
    """Run many independent scripts (each on its own pair of fresh connections) concurrently:
    {name: script} -> {name: (script, oracle Result, candidate Result)}. The scripts must not
    interfere (distinct keys, no flush_all)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=workers) as ex:
        futs = {name: ex.submit(run_both, pair, script, quiet) for name, script in jobs.items()}
        out = {}
        for name, f in futs.items():
            try:
                out[name] = (jobs[name], *f.result(timeout=SCRIPT_DEADLINE + 30))
            except Exception:  # noqa: BLE001 - the test re-runs it on its own and reports
                pass
    if pair.revive():  # a crash: every result may be wrong; tests re-run their case alone
        return {}
    return out


# ----------------------------------------------------------------------------------------------
# Normalising and comparing

VALUE_RE = re.compile(rb"VALUE ([^ \n]+) (\d+) (\d+)(?: (\d+))?\r\n\Z")
STATS_PLACEHOLDER = b"STAT <stats lines, values not compared>\r\n"


def normalize(data: bytes, cas_exact: bool = False):
    """-> (normalised bytes, [(key, cas), ...] in order of appearance)."""
    out = bytearray()
    cas = []
    i, n = 0, len(data)
    in_stats = False
    while i < n:
        j = data.find(b"\n", i)
        if j < 0:
            out += data[i:]
            break
        line = data[i:j + 1]
        if line.startswith(b"STAT "):
            if not in_stats:
                out += STATS_PLACEHOLDER
                in_stats = True
            i = j + 1
            continue
        in_stats = False
        m = VALUE_RE.match(line)
        if m:
            nbytes = int(m.group(3))
            if m.group(4) is not None:
                cas.append((m.group(1), int(m.group(4))))
                if not cas_exact:
                    line = line[:m.start(4)] + b"<cas>\r\n"
            out += line
            end = min(n, j + 1 + nbytes + 2)
            out += data[j + 1:end]
            i = end
            continue
        out += line
        i = j + 1
    return bytes(out), cas


def cas_pattern(cas: list) -> list[int]:
    """For each VALUE line: index of the first VALUE line with the same CAS number."""
    first = {}
    return [first.setdefault(c, idx) for idx, (_, c) in enumerate(cas)]


def show(data: bytes, limit: int = 3000) -> str:
    if len(data) > limit:
        head = data[:limit * 2 // 3]
        tail = data[-limit // 3:]
        return f"{head!r} ...[{len(data) - len(head) - len(tail)} bytes]... {tail!r}"
    return repr(data)


def first_diff(a: bytes, b: bytes) -> int:
    for k in range(min(len(a), len(b))):
        if a[k] != b[k]:
            return k
    return min(len(a), len(b))


def describe(script, ro: Result, rc: Result, why: str) -> str:
    sb = script_bytes(script)
    if any(isinstance(s, Dyn) for s in script) and ro.sent:
        sent = (f"--- sent to memcached: {show(ro.sent, 1500)}\n"
                f"--- sent to memshield: {show(rc.sent, 1500)}\n")
    else:
        sent = ""
    return (f"\n=== MISMATCH: {why}\n"
            f"--- script ({len(sb)} bytes): {show(sb, 1500)}\n{sent}"
            f"--- memcached ({len(ro.data)} bytes, closed={ro.closed}{' ' + ro.close_kind if ro.close_kind else ''}"
            f"{', timed out' if ro.timed_out else ''}):\n{show(ro.data)}\n"
            f"--- memshield ({len(rc.data)} bytes, closed={rc.closed}{' ' + rc.close_kind if rc.close_kind else ''}"
            f"{', timed out' if rc.timed_out else ''}):\n{show(rc.data)}\n")


def compare(script, ro: Result, rc: Result, cas_exact: bool = False):
    """Raise AssertionError describing both outputs unless they match."""
    no, co = normalize(ro.data, cas_exact)
    nc, cc = normalize(rc.data, cas_exact)
    if no != nc:
        k = first_diff(no, nc)
        raise AssertionError(describe(
            script, ro, rc, f"response bytes differ (normalised, first difference at byte {k}: "
                            f"memcached {no[k:k + 40]!r} vs memshield {nc[k:k + 40]!r})"))
    if ro.closed != rc.closed:
        raise AssertionError(describe(
            script, ro, rc, f"connection closed: memcached={ro.closed} memshield={rc.closed}"))
    if cas_pattern(co) != cas_pattern(cc):
        raise AssertionError(describe(
            script, ro, rc, f"CAS pattern differs: memcached {[c for _, c in co]} "
                            f"vs memshield {[c for _, c in cc]}"))
    if ro.timed_out or rc.timed_out:
        raise AssertionError(describe(script, ro, rc, "never went quiet"))


def check(pair: ServerPair, script, cas_exact: bool = False, quiet: float = QUIET,
          keyed: bool = True, prefix: bytes = b"k", attempts=None):
    """Run the script on both servers and assert identical (normalised) output; returns the two
    Results. With keyed, "$K"-style placeholders get fresh unique keys (see with_keys); `script`
    may also be a callable returning a fresh script. A mismatch is re-checked once with a longer
    quiet period (and fresh keys), so that only a reproducible difference is reported."""
    attempts = attempts or (quiet, max(quiet * 4, 0.4))
    for n, q in enumerate(attempts):
        s = script() if callable(script) else script
        if keyed:
            s = with_keys(s, prefix)
        ro, rc = run_both(pair, s, q)
        died = pair.revive()
        if died:
            raise AssertionError(describe(s, ro, rc, "a server died") + "\n".join(died))
        try:
            compare(s, ro, rc, cas_exact)
            return ro, rc
        except AssertionError as e:
            if n == len(attempts) - 1:
                raise AssertionError(f"{e}(reproduced with quiet={q}s after a first mismatch)") \
                    from None
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------------------------
# Unique keys: "$K", "$K2", ... in a script become keys unique to one case.

_key_counter = [0]
_KEY_RE = re.compile(rb"\$K(\d?)")


def with_keys(script, prefix: bytes = b"k"):
    _key_counter[0] += 1
    base = prefix + b"%d" % _key_counter[0]
    mapping = {}

    def sub(m):
        return mapping.setdefault(m.group(1), base + (b"_" + m.group(1) if m.group(1) else b""))

    out = []
    for step in script:
        if isinstance(step, (bytes, bytearray)):
            out.append(_KEY_RE.sub(sub, bytes(step)))
        elif isinstance(step, Chunks):
            out.append(Chunks(_KEY_RE.sub(sub, step.data), step.size, step.pause))
        elif isinstance(step, Dyn):
            out.append(Dyn(lambda cas, fn=step.fn: _KEY_RE.sub(sub, fn(cas)), step.label,
                           step.raw))
        else:
            out.append(step)
    return out
