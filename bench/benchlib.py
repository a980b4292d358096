"""Shared plumbing for bench/compare.py and bench/hitratio.py: finding binaries, starting
servers on free loopback ports, running memshield-loadgen, and reading /proc for CPU time
and RSS. Standard library only (Debian's /usr/bin/python3); everything stays on 127.0.0.1.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
MEMCACHED = "/usr/bin/memcached"
CLK_TCK = os.sysconf("SC_CLK_TCK")
BIN_DIRS = ["build/bin", "build-bench/bin"]


def find_binary(name, override=None):
    """Returns the path of a built tool, or None. An explicit path wins over the search."""
    if override:
        return override if os.access(override, os.X_OK) else None
    for d in BIN_DIRS:
        path = os.path.join(ROOT, d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pinned(argv, cpus):
    """argv run on the given CPU list ("1", "0-2") through taskset, or unchanged for None."""
    return ["taskset", "-c", cpus] + argv if cpus else argv


def pin_split():
    """(server CPUs, client CPUs) for --pin: the server on the last CPU, the client on the rest."""
    n = os.cpu_count() or 1
    if n < 2:
        raise RuntimeError("--pin needs at least 2 CPUs")
    last = n - 1
    return str(last), ("0" if last == 1 else f"0-{last - 1}")


def server_argv(kind, binary, port, threads, memory_mb, value_size=100):
    """The same memcached-style command line for every server kind."""
    if kind == "noop":
        return [binary, "-p", str(port), "-l", HOST, "-t", str(threads),
                "--value-size", str(value_size), "--lifetime", "7200"]
    argv = [binary, "-p", str(port), "-l", HOST, "-U", "0", "-t", str(threads),
            "-m", str(memory_mb), "-c", "4096"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    return argv


class Server:
    """A server process on a free loopback port, stopped by stop() or by leaving a with-block."""

    def __init__(self, kind, binary, threads, memory_mb, value_size=100, cpus=None):
        self.kind = kind
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{kind}-", suffix=".log",
                                               delete=False)
        argv = pinned(server_argv(kind, binary, self.port, threads, memory_mb, value_size), cpus)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_ready(10.0)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at startup: {self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5) as s:
                    s.sendall(b"version\r\n")
                    if s.recv(256).startswith(b"VERSION"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not answer on port {self.port}: {self.log_tail()}")

    def log_tail(self):
        try:
            with open(self.log.name, "rb") as f:
                return f.read()[-400:].decode(errors="replace").strip()
        except OSError:
            return ""

    def cpu_split(self):
        """(utime, stime) in seconds of the whole process (all threads), from /proc/PID/stat."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK

    def cpu_seconds(self):
        """utime + stime of the whole process (all threads)."""
        return sum(self.cpu_split())

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stats(self):
        """The server's 'stats' reply as a dict (empty if it has none)."""
        out = {}
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as s:
                s.sendall(b"stats\r\n")
                buf = b""
                while not buf.endswith(b"END\r\n") and len(buf) < 1 << 20:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            for line in buf.decode(errors="replace").splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "STAT":
                    out[parts[1]] = parts[2]
        except OSError:
            pass
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_loadgen(loadgen, port, args, timeout, on_started=None, cpus=None):
    """Runs memshield-loadgen with --json and returns its parsed result.

    on_started(proc) is called right after launch, so a caller can sample server counters at
    a chosen moment of the run (e.g. after the warmup)."""
    argv = pinned([loadgen, "--host", HOST, "--port", str(port), "--json", "--quiet"] + list(args),
                  cpus)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    extra = on_started(proc) if on_started else None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"loadgen timed out: {' '.join(argv)}")
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"loadgen failed (rc {proc.returncode}): {err.strip()[-400:]}")
    result = json.loads(lines[-1])
    result["stderr"] = err.strip()
    return result, extra
