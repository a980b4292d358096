#!/usr/bin/env python3
"""Warm restart timing (-e): loads N small items (default 1,000,000; 32-byte keys, 100-byte
values), stops with SIGUSR1 and restarts on the same memory file, and reports how long the
save and the restore took (process signalled -> exited; process started -> serving with every
item back) against a cold start. Not run in CI.

    python3 bench/restart_time.py [--items N] [--memory MB] [--bin build/bin/memshield]
    python3 bench/restart_time.py --bin /usr/bin/memcached --downtime 2   # the reference
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, port, memfile, memory):
    args = [binary, "-p", str(port), "-U", "0", "-m", str(memory), "-e", memfile, "-v"]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    while True:
        try:
            # Answered, not just accepted: the listener is open before the store is restored.
            with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                s.sendall(b"version\r\n")
                if s.recv(100).startswith(b"VERSION"):
                    return proc, time.monotonic() - t0
        except OSError:
            if proc.poll() is not None:
                sys.exit("server exited: " + proc.stderr.read().decode())
            time.sleep(0.002)


def command(port, data, end):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        buf = b""
        while not buf.endswith(end):
            buf += s.recv(1 << 20)
        return buf


def load(port, n):
    value = b"v" * 100
    with socket.create_connection(("127.0.0.1", port)) as s:
        batch = []
        for i in range(n):
            batch.append(b"set key:%028d 0 0 100 noreply\r\n%s\r\n" % (i, value))
            if len(batch) == 2000 or i == n - 1:
                s.sendall(b"".join(batch))
                batch = []
        s.sendall(b"mn\r\n")
        buf = b""
        while not buf.endswith(b"MN\r\n"):
            buf += s.recv(65536)


def curr_items(port):
    out = command(port, b"stats\r\n", b"END\r\n")
    for line in out.split(b"\r\n"):
        if line.startswith(b"STAT curr_items "):
            return int(line.split()[2])
    return -1


def stop(proc):
    t0 = time.monotonic()
    proc.send_signal(signal.SIGUSR1)
    proc.wait(timeout=120)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--memory", type=int, default=1024)
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin", "memshield"))
    ap.add_argument("--downtime", type=float, default=0,
                    help="seconds between stop and restart (memcached 1.6.18 needs about 2)")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="memshield-bench-", dir="/dev/shm")
    memfile = os.path.join(d, "mem")
    port = free_port()
    try:
        proc, cold = start(a.bin, port, memfile, a.memory)
        t0 = time.monotonic()
        load(port, a.items)
        loaded = time.monotonic() - t0
        before = curr_items(port)
        save = stop(proc)
        meta = os.path.getsize(memfile + ".meta")
        time.sleep(a.downtime)
        proc, warm = start(a.bin, port, memfile, a.memory)
        after = curr_items(port)
        restored = proc
        check = command(port, b"get key:%028d\r\n" % (a.items // 2), b"END\r\n")
        stop(proc)
        print(f"items {a.items} (32-byte keys, 100-byte values), -m {a.memory}")
        print(f"load {loaded:.2f} s; curr_items before {before}, after restart {after}")
        print(f"cold start to first answer: {cold * 1000:.0f} ms")
        print(f"save (SIGUSR1 to exit): {save * 1000:.0f} ms; metadata file {meta} bytes")
        print(f"warm start to first answer (every item indexed): {warm * 1000:.0f} ms")
        print(f"spot check: {'ok' if b'VALUE' in check else 'MISSING'}")
        for line in restored.stderr.read().decode(errors="replace").splitlines():
            if "restored" in line or "restart" in line.lower():
                print("server:", line)
    finally:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


if __name__ == "__main__":
    main()
