"""Stopping the servers the tests start, and catching what sanitizers say about them.

Servers get SIGTERM first, so memshield leaves through its shutdown path (threads joined, store
freed) and, in the sanitized suite, LeakSanitizer runs at exit; SIGKILL follows only after a
bounded wait.  With ASAN_OPTIONS/UBSAN_OPTIONS log_path=PREFIX (scripts/test.sh sets it), each
pytest process narrows PREFIX to its own (PREFIX-pytest<pid>), so a report file belongs to one of
its servers; conftest fails the test during which one appears, or a server exits badly.
"""

import glob
import os
import signal
import subprocess
import sys
import time

_SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
# Sanitized servers leave slower (LeakSanitizer stops every thread and scans the heap, on cores
# the other tests share), so they get longer before SIGKILL.
GRACE_SECONDS = 20.0 if any(os.environ.get(v) for v in _SANITIZER_VARS) else 5.0

# Problems found while stopping servers since the last drain (bad exit status, hang).
_problems = []


def _narrow_log_paths():
    """Gives this pytest process its own sanitizer log prefix (children inherit it)."""
    prefixes = []
    tag = f"-pytest{os.getpid()}"
    for var in _SANITIZER_VARS:
        value = os.environ.get(var)
        if not value:
            continue
        parts = value.split(":")
        for i, part in enumerate(parts):
            if part.startswith("log_path=") and tag not in part:
                parts[i] = part + tag
            if parts[i].startswith("log_path="):
                prefixes.append(parts[i][len("log_path="):])
        os.environ[var] = ":".join(parts)
    return prefixes


LOG_PREFIXES = _narrow_log_paths()


def sanitizer_report_files():
    out = set()
    for prefix in LOG_PREFIXES:
        out.update(glob.glob(glob.escape(prefix) + ".*"))
    return out


def read_report(path, limit=20000):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def stop(proc, name="server", check=True, graceful=True, timeout=None):
    """Stops proc (SIGTERM, then SIGKILL after timeout s, default GRACE_SECONDS). Returns its
    exit status.

    check: a server that was running must exit 0 on SIGTERM; anything else (a sanitizer abort,
    a crash, a hang in shutdown) is recorded for the running test to fail on."""
    if proc.poll() is not None:
        return proc.returncode
    timeout = GRACE_SECONDS if timeout is None else timeout
    if graceful:
        try:
            # A stopped process cannot act on SIGTERM: continue it first, and only then. A SIGCONT
            # sent later would discard the SIGSTOP of LeakSanitizer's ptrace attach at exit,
            # and its tracer would wait for that stop forever.
            if _state(proc.pid) == "T":
                proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            started = time.monotonic()
            rc = proc.wait(timeout=timeout)
            took = time.monotonic() - started
            if took > 2:
                print(f"{name} (pid {proc.pid}) took {took:.1f} s to exit on SIGTERM",
                      file=sys.stderr)
            if check and rc != 0:
                _problems.append(f"{name} (pid {proc.pid}) exited with status {rc} on SIGTERM")
            return rc
        except subprocess.TimeoutExpired:
            if check:
                _problems.append(f"{name} (pid {proc.pid}) did not exit within {timeout:.0f} s "
                                 f"of SIGTERM; killed. Its threads:\n{thread_dump(proc.pid)}")
    helpers = _own_tracers(proc.pid)
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    for pid in helpers:  # e.g. LeakSanitizer's tracer task, which SIGKILL to the server misses
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    return proc.returncode


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _own_tracers(pid):
    """Tasks tracing pid's threads that run pid's own program image (LeakSanitizer's tracer is
    a clone sharing the server's memory): they outlive a SIGKILL of the server otherwise."""
    out = set()
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                tracer = next((int(l.split()[1]) for l in f if l.startswith("TracerPid:")), 0)
            if tracer > 0 and tracer != os.getpid():
                with open(f"/proc/{tracer}/cmdline", "rb") as f:
                    if f.read() == cmdline:
                        out.add(tracer)
    except (OSError, ValueError):
        pass
    return sorted(out)


def _task_summary(base):
    try:
        with open(f"{base}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"{base}/wchan") as f:
            wchan = f.read().strip()
        with open(f"{base}/syscall") as f:
            syscall = f.read().split()[0]
        return f"state {state} wchan {wchan} syscall {syscall}"
    except OSError as e:
        return str(e)


def thread_dump(pid, timeout=20):
    """Where a hung process's threads are: gdb's backtraces if gdb is installed, else each
    thread's state and kernel wait channel."""
    lines = []
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            base = f"/proc/{pid}/task/{tid}"
            with open(f"{base}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"{base}/wchan") as f:
                wchan = f.read().strip()
            with open(f"{base}/comm") as f:
                comm = f.read().strip()
            with open(f"{base}/status") as f:
                tracer = next((l.split()[1] for l in f if l.startswith("TracerPid:")), "?")
            lines.append(f"  tid {tid} {comm} state {state} wchan {wchan} tracer {tracer}")
            if tracer not in ("0", "?"):
                lines.append("    tracer: " + _task_summary(f"/proc/{tracer}"))
    except OSError as e:
        lines.append(f"  /proc/{pid}: {e}")
    if os.path.exists("/usr/bin/gdb"):
        try:
            r = subprocess.run(["/usr/bin/gdb", "-batch", "-nx", "-p", str(pid), "-ex",
                                "thread apply all bt 25"], capture_output=True, text=True,
                               timeout=timeout)
            out = [l for l in r.stdout.splitlines() if l.startswith(("#", "Thread"))][:300]
            lines += out or ["  gdb: " + (r.stderr.strip().splitlines() or ["no output"])[-1]]
        except (subprocess.TimeoutExpired, OSError) as e:
            lines.append(f"  gdb: {e}")
    return "\n".join(lines)


def drain_problems():
    out = list(_problems)
    _problems.clear()
    return out
