#!/usr/bin/env python3
"""A takeover under load (not CI): 50 persistent connections doing 90/10 get/set with every
reply checked, one pymemcache client with default settings and one thread opening new
connections, against `memshield -e FILE --takeover=SOCK`; half-way a second memshield takes
over. Reports refused connects, failed or wrong replies, lost items, the longest single request
and how long throughput stayed under half its level before.

    bench/takeover.py build/bin/memshield [--conns 50] [--keys 20000] [--seconds 6]
"""

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pymemcache.client.base import Client as PymClient

BUCKET = 0.05  # seconds per throughput bucket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed by the server")
            self.buf += d
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed by the server")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def set(self, k, v):
        self.s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(v), v))
        return self.line()

    def get(self, k):
        self.s.sendall(b"get %s\r\n" % k)
        l = self.line()
        if l == b"END\r\n":
            return None
        n = int(l.split()[3])
        v = self.exact(n + 2)[:-2]
        if self.line() != b"END\r\n":
            raise ValueError("no END")
        return v


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.buckets = {}
        self.errors = []
        self.refused = 0
        self.max_latency = 0.0
        self.t0 = time.monotonic()

    def done(self, took):
        b = int((time.monotonic() - self.t0) / BUCKET)
        with self.lock:
            self.buckets[b] = self.buckets.get(b, 0) + 1
            if took > self.max_latency:
                self.max_latency = took

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def worker(port, idx, keys, expected, stop, st):
    """Owns keys idx, idx+conns, ...: knows the value each must have."""
    rnd = random.Random(idx)
    try:
        c = Conn(port)
    except OSError as e:
        st.error(f"conn {idx}: connect: {e}")
        return
    n = 0
    while not stop.is_set():
        k = rnd.choice(keys)
        t = time.monotonic()
        try:
            if rnd.random() < 0.1:
                v = b"%s-%d-%d" % (k, idx, n)
                r = c.set(k, v)
                if r != b"STORED\r\n":
                    st.error(f"conn {idx}: set {k!r}: {r!r}")
                    return
                expected[k] = v
            else:
                v = c.get(k)
                if v != expected[k]:
                    st.error(f"conn {idx}: get {k!r}: {v!r}, want {expected[k]!r}")
                    return
        except (OSError, ValueError) as e:
            st.error(f"conn {idx}: {e!r}")
            return
        st.done(time.monotonic() - t)
        n += 1


def pym_worker(port, stop, st):
    c = PymClient(("127.0.0.1", port))  # default settings
    n = 0
    while not stop.is_set():
        t = time.monotonic()
        try:
            k = "pym-%d" % (n % 100)
            c.set(k, str(n))
            if c.get(k) != str(n).encode():
                st.error(f"pymemcache: wrong value for {k}")
                return
        except Exception as e:
            st.error(f"pymemcache: {e!r}")
            return
        st.done(time.monotonic() - t)
        n += 1


def connector(port, stop, st):
    while not stop.is_set():
        try:
            c = Conn(port)
            c.s.sendall(b"version\r\n")
            if not c.line().startswith(b"VERSION"):
                st.error("connector: bad version reply")
            c.s.close()
        except OSError as e:
            with st.lock:
                st.refused += 1
            st.error(f"connector: {e!r}")
        time.sleep(0.005)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--keys", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    d = tempfile.mkdtemp(prefix="takeover-bench-", dir="/dev/shm")
    port = free_port()
    ctl = os.path.join(d, "ctl.sock")
    args = [a.binary, "-u", "root", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "256",
            "-t", str(a.threads), "-e", os.path.join(d, "mem"), f"--takeover={ctl}", "-v"]
    old = subprocess.Popen(args, stderr=open(os.path.join(d, "old.log"), "w"))
    for _ in range(500):
        if os.path.exists(ctl):
            break
        time.sleep(0.01)
    keys = [b"key-%d" % i for i in range(a.keys)]
    expected = {}
    c = Conn(port)
    for k in keys:
        v = b"init-" + k
        c.s.sendall(b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(v), v))
        expected[k] = v
    c.s.sendall(b"mn\r\n")
    while c.line() != b"MN\r\n":
        pass
    c.s.close()

    st = Stats()
    stop = threading.Event()
    # Each connection owns a disjoint slice of the keys, so it knows every value exactly.
    slices = [keys[i::a.conns] for i in range(a.conns)]
    threads = [threading.Thread(target=worker, args=(port, i, slices[i], expected, stop, st))
               for i in range(a.conns)]
    threads.append(threading.Thread(target=pym_worker, args=(port, stop, st)))
    threads.append(threading.Thread(target=connector, args=(port, stop, st)))
    for t in threads:
        t.start()
    time.sleep(a.seconds / 2)
    t_take = time.monotonic()
    new = subprocess.Popen(args, stderr=open(os.path.join(d, "new.log"), "w"))
    old_rc = old.wait(timeout=60)
    t_done = time.monotonic()
    time.sleep(a.seconds / 2)
    stop.set()
    for t in threads:
        t.join(30)

    lost = 0
    c = Conn(port)
    for k in keys:
        if c.get(k) != expected[k]:
            lost += 1
    c.s.sendall(b"stats\r\n")
    pid = None
    while True:
        l = c.line()
        if l.startswith(b"STAT pid "):
            pid = int(l.split()[2])
        if l == b"END\r\n":
            break

    take_b = int((t_take - st.t0) / BUCKET)
    before = [st.buckets.get(b, 0) for b in range(max(0, take_b - 20), take_b)]
    level = sorted(before)[len(before) // 2] if before else 0
    last = max(st.buckets) if st.buckets else 0
    low = [b for b in range(take_b, last) if st.buckets.get(b, 0) < level / 2]
    dip = (max(low) - min(low) + 1) * BUCKET if low else 0.0
    total = sum(st.buckets.values())
    print(f"requests: {total} in {a.seconds:.1f} s ({a.conns} connections + pymemcache + "
          f"a connector), {level / BUCKET:.0f}/s before the takeover")
    print(f"old process exit status {old_rc}, handoff took {1000 * (t_done - t_take):.0f} ms "
          f"from the new process's start to the old one's exit; stats pid now {pid} "
          f"(new {new.pid})")
    print(f"refused connects: {st.refused}")
    print(f"failed or wrong replies: {len(st.errors)}")
    for e in st.errors[:10]:
        print("   ", e)
    print(f"lost items: {lost} of {len(keys)}")
    print(f"throughput under half its level for {1000 * dip:.0f} ms "
          f"(buckets of {1000 * BUCKET:.0f} ms); longest single request "
          f"{1000 * st.max_latency:.0f} ms")
    step = int(0.25 / BUCKET)
    line = []
    for b0 in range(0, last + 1, step):
        mark = "*" if b0 <= take_b < b0 + step else ""
        line.append(f"{mark}{sum(st.buckets.get(b, 0) for b in range(b0, b0 + step)) * 4}")
    print("requests/s per 250 ms (* = the takeover starts):", " ".join(line))
    for name in ("old.log", "new.log"):
        with open(os.path.join(d, name)) as f:
            for line in f:
                if "takeover" in line or "restart" in line:
                    print(f"  [{name}] {line.rstrip()}")
    new.terminate()
    new.wait(timeout=30)
    shutil.rmtree(d, ignore_errors=True)
    bad = st.refused or st.errors or lost or old_rc != 0 or pid != new.pid
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
