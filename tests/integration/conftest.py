"""Shared fixtures for the memshield integration suite.

The server under test is memshield (env MEMSHIELD_BIN, default
<repo>/build/bin/memshield).  Setting MEMSHIELD_SERVER=memcached runs the very
same tests against Debian's /usr/bin/memcached, the reference behaviour; tests
of deliberate memshield differences carry the ``memshield_only`` marker and are
skipped there.

Every server listens on a loopback address only, every wait is bounded in time
and every loop in count.  Servers are stopped at teardown: SIGTERM, then SIGKILL
after 5 s (20 s in sanitized runs; procutil.py); a memshield that does not exit
0, or leaves a sanitizer report (log_path in ASAN_OPTIONS/UBSAN_OPTIONS), fails
the test.
MEMSHIELD_TEST_ARGS adds flags to every memshield start_server() launches
(e.g. MEMSHIELD_TEST_ARGS=--seccomp runs the suite under the syscall filter).
"""

import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import procutil

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "bin" / "memshield"
MEMCACHED_BIN = "/usr/bin/memcached"

SERVER_KIND = os.environ.get("MEMSHIELD_SERVER", "memshield").strip().lower()
IS_MEMCACHED = SERVER_KIND == "memcached"

HOST = "127.0.0.1"
START_TIMEOUT = 5.0
VERSION = "1.6.18"

memshield_only = pytest.mark.skipif(
    IS_MEMCACHED, reason="deliberate memshield behaviour, differs from memcached")


def server_binary():
    if IS_MEMCACHED:
        return MEMCACHED_BIN
    return os.environ.get("MEMSHIELD_BIN") or str(DEFAULT_BIN)


def root_args():
    """memcached and memshield refuse to run as root without -u."""
    if os.geteuid() == 0:
        return ["-u", "root"]
    return []


def free_port(host=HOST):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_tcp_udp_port(host=HOST):
    """A port free for both TCP and UDP on host (loopback only)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(fam, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            p = t.getsockname()[1]
            try:
                with socket.socket(fam, socket.SOCK_DGRAM) as u:
                    u.bind((host, p))
            except OSError:
                continue
            return p
    raise RuntimeError("no free port")


def require_binary():
    b = server_binary()
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        pytest.fail(f"server binary not found or not executable: {b}")
    return b


def run_binary(args, timeout=10):
    """Run the server binary to completion (for -h, -V, bad flags)."""
    b = require_binary()
    return subprocess.run([b] + root_args() + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


class Server:
    """A running server process on a loopback port."""

    def __init__(self, proc, host, port, args, errfile):
        self.proc = proc
        self.host = host
        self.port = port
        self.args = args
        self._errfile = errfile

    @property
    def pid(self):
        return self.proc.pid

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def stderr_text(self):
        try:
            with open(self._errfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def connect(self, timeout=5.0):
        return RawConn(self.host, self.port, timeout=timeout)

    def stats(self, sub=""):
        with self.connect() as c:
            return c.stats(sub)

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def kill(self):
        """Stops the server: SIGTERM and a bounded wait, then SIGKILL (memcached: SIGKILL)."""
        procutil.stop(self.proc, name=f"server on {self.addr}", check=not IS_MEMCACHED,
                      graceful=not IS_MEMCACHED)
        try:
            os.unlink(self._errfile)
        except OSError:
            pass


def wait_listening(host, port, proc, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect((host, port))
                return True
        except OSError:
            time.sleep(0.02)
    return False


def start_server(extra_args=(), listen=HOST, port=None, connect_host=None,
                 wait=True, attempts=5, udp_off=True):
    """Start the server under test.

    listen: value for -l, or None to pass no -l at all.
    extra_args: further flags (-m, -M, -c, -I, -t, -C ...).
    udp_off: pass -U 0 (default).
    Retries on a port race (another process grabbed the free port)."""
    binary = require_binary()
    host = connect_host or (listen if listen and listen not in ("0.0.0.0", "::")
                            else HOST)
    last_err = ""
    for _ in range(attempts):
        # A wildcard listener collides with any address's use of the port: probe the wildcard.
        p = port or free_port(listen if listen in ("0.0.0.0", "::") else host)
        args = [binary] + root_args() + ["-p", str(p)]
        if listen is not None:
            args += ["-l", listen]
        if udp_off:
            args += ["-U", "0"]
        args += [str(a) for a in extra_args]
        if not IS_MEMCACHED:
            args += shlex.split(os.environ.get("MEMSHIELD_TEST_ARGS", ""))
        fd, errfile = tempfile.mkstemp(prefix="memshield-it-", suffix=".stderr")
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=fd)
        os.close(fd)
        srv = Server(proc, host, p, args, errfile)
        if not wait:
            return srv
        if wait_listening(host, p, proc):
            # guard against a port race: the listener must be our process
            time.sleep(0.05)
            if proc.poll() is None:
                return srv
        last_err = srv.stderr_text()
        rc = proc.poll()
        srv.kill()
        if rc is not None and "in use" not in last_err.lower():
            break
    raise AssertionError(
        f"server did not start listening within {START_TIMEOUT}s: {args}\n"
        f"stderr:\n{last_err}")


@pytest.fixture(autouse=True)
def _server_exit_check():
    """Fails the test during which a server exited badly at teardown or a sanitizer wrote a
    report (torn down after the server fixtures, so their stops are covered)."""
    before = procutil.sanitizer_report_files()
    yield
    problems = procutil.drain_problems()
    for path in sorted(procutil.sanitizer_report_files() - before):
        problems.append(f"sanitizer report {path}:\n{procutil.read_report(path)}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """Module-scoped servers stop after the last test: their problems fail the session."""
    problems = procutil.drain_problems()
    if problems:
        print("\n".join(problems))
        session.exitstatus = 1


@pytest.fixture
def server_factory():
    servers = []

    def make(*extra_args, **kw):
        s = start_server(extra_args, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.kill()


@pytest.fixture
def server(server_factory):
    """A default server: -p PORT -l 127.0.0.1 -U 0."""
    return server_factory()


@pytest.fixture
def conn(server):
    c = server.connect()
    yield c
    c.close()


class RawConn:
    """A raw TCP connection with bounded reads."""

    def __init__(self, host, port, timeout=5.0, nodelay=True):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.timeout = timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Read one chunk into buf; False on timeout or EOF."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            d = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            return False
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, term, timeout=None):
        """Bytes up to and including term (all buffered bytes on timeout/EOF)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        start = 0
        while self.buf.find(term, start) < 0:
            start = max(0, len(self.buf) - len(term) + 1)
            if not self._fill(deadline):
                return self._take(len(self.buf))
        return self._take(self.buf.find(term) + len(term))

    def read_exact(self, n, timeout=None):
        """Exactly n bytes, or fewer on timeout/EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                break
        return self._take(n)

    def readline(self, timeout=None):
        return self.read_until(b"\r\n", timeout)

    def read_available(self, timeout=0.3):
        """Everything that arrives within timeout (for 'nothing more' checks)."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        return self._take(len(self.buf))

    def request(self, data, expected, timeout=None):
        """Send data, read len(expected) bytes, return them (compare outside)."""
        self.send(data)
        return self.read_exact(len(expected), timeout)

    def call(self, data, term=b"\r\n", timeout=None):
        self.send(data)
        return self.read_until(term, timeout)

    def is_closed(self, timeout=2.0):
        """True if the peer closes within timeout (any data before EOF dropped)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._fill(deadline):
                break
        return self.eof

    # --- small protocol helpers -----------------------------------------
    def set(self, key, value, flags=0, exptime=0, cmd=b"set"):
        if isinstance(key, str):
            key = key.encode()
        if isinstance(value, str):
            value = value.encode()
        return self.call(b"%s %s %d %d %d\r\n%s\r\n"
                         % (cmd, key, flags, exptime, len(value), value))

    def get(self, key):
        """Value bytes or None."""
        if isinstance(key, str):
            key = key.encode()
        self.send(b"get " + key + b"\r\n")
        line = self.readline()
        if line == b"END\r\n":
            return None
        parts = line.split()
        assert parts[0] == b"VALUE" and parts[1] == key, line
        n = int(parts[3])
        data = self.read_exact(n + 2)
        assert data.endswith(b"\r\n"), data[-10:]
        end = self.readline()
        assert end == b"END\r\n", end
        return data[:-2]

    def stats(self, sub=""):
        cmd = b"stats" + ((b" " + sub.encode()) if sub else b"") + b"\r\n"
        self.send(cmd)
        raw = self.read_until(b"END\r\n")
        assert raw.endswith(b"END\r\n"), raw[-200:]
        out = {}
        for line in raw.split(b"\r\n"):
            if line.startswith(b"STAT "):
                parts = line.decode().split(" ", 2)
                out[parts[1]] = parts[2] if len(parts) > 2 else ""
        return out


def pytest_report_header(config):
    return f"server under test: {SERVER_KIND} ({server_binary()})"
