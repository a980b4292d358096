#!/usr/bin/env python3
"""A polite client's get latency while another connection dumps every key.

Fills the server with N keys (default 1,000,000), then a client sends one `get` at a time, one
every --interval ms, and records each round trip: first for --baseline seconds with nothing else
running, then for as long as another process reads (--dumps times in a row) `lru_crawler metadump all` to its END as fast
as it can. Prints p50/p99/p99.9/max of both phases, the dump's length and duration.

    python3 bench/dump_latency.py                      # memshield from build/bin
    python3 bench/dump_latency.py --server memcached   # Debian's memcached, same steps
"""

import argparse
import multiprocessing
import socket
import sys
import time

import benchlib


def fill(port, n, value=b"v" * 32):
    with socket.create_connection((benchlib.HOST, port)) as s:
        batch = []
        for i in range(n):
            batch.append(b"set key:%08d 0 0 %d noreply\r\n%s\r\n" % (i, len(value), value))
            if len(batch) == 5000:
                s.sendall(b"".join(batch))
                batch = []
        s.sendall(b"".join(batch) + b"version\r\n")
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += s.recv(4096)


def dump(port, result):
    """Reads a whole metadump; puts (lines, bytes, seconds) in result."""
    t0 = time.perf_counter()
    total = lines = 0
    tail = b""
    with socket.create_connection((benchlib.HOST, port)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.sendall(b"lru_crawler metadump all\r\n")
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-5:]
            if tail == b"END\r\n":
                break
    result.put((lines - 1, total, time.perf_counter() - t0))


def polite(port, n, interval, stop):
    """One get at a time every `interval` seconds until stop() is true; the round trips."""
    lat = []
    with socket.create_connection((benchlib.HOST, port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        i = 0
        next_t = time.perf_counter()
        while not stop():
            key = b"key:%08d" % ((i * 7919) % n)
            i += 1
            t0 = time.perf_counter()
            s.sendall(b"get " + key + b"\r\n")
            buf = b""
            while not buf.endswith(b"END\r\n"):
                buf += s.recv(4096)
            lat.append(time.perf_counter() - t0)
            next_t += interval
            delay = next_t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = time.perf_counter()
    return lat


def summary(name, lat):
    lat = sorted(lat)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3
    print(f"{name:>12}: {len(lat):6d} gets  p50 {pick(0.5):.3f} ms  p99 {pick(0.99):.3f} ms  "
          f"p99.9 {pick(0.999):.3f} ms  max {lat[-1] * 1e3:.3f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", choices=["memshield", "memcached"], default="memshield")
    ap.add_argument("--binary", help="server binary (default: build/bin/memshield)")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", type=int, default=1024, help="-m, MB")
    ap.add_argument("--interval", type=float, default=1.0, help="ms between the polite gets")
    ap.add_argument("--dumps", type=int, default=10, help="dumps in a row, gets during all")
    ap.add_argument("--baseline", type=float, default=3.0, help="seconds without a dump")
    args = ap.parse_args()
    binary = (benchlib.MEMCACHED if args.server == "memcached"
              else benchlib.find_binary("memshield", args.binary))
    if binary is None:
        sys.exit("memshield not built (cmake --build build --target memshield)")
    with benchlib.Server(args.server, binary, args.threads, args.memory) as srv:
        t0 = time.perf_counter()
        fill(srv.port, args.keys)
        print(f"{args.server}: {args.keys} keys stored in {time.perf_counter() - t0:.1f} s, "
              f"curr_items {srv.stats().get('curr_items')}")
        end = time.perf_counter() + args.baseline
        base = polite(srv.port, args.keys, args.interval / 1e3, lambda: time.perf_counter() > end)
        during = []
        for _ in range(args.dumps):
            result = multiprocessing.Queue()
            reader = multiprocessing.Process(target=dump, args=(srv.port, result))
            reader.start()
            during += polite(srv.port, args.keys, args.interval / 1e3,
                             lambda: not reader.is_alive() or not result.empty())
            lines, nbytes, secs = result.get()
            reader.join()
            print(f"metadump all: {lines} lines, {nbytes / 1e6:.1f} MB in {secs:.2f} s")
        summary("no dump", base)
        summary("during dump", during)


if __name__ == "__main__":
    main()
