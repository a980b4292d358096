#!/usr/bin/python3
"""Memory per idle client connection: for each server, open N connections on 127.0.0.1, send one
`get` on each and read its answer, keep them all open, and report the growth of the server's
resident memory divided by N. Operators with thousands of mostly idle application connections
pay this per connection.

    /usr/bin/python3 bench/idle_conns.py [--connections 1000] [--servers memshield,memcached]
"""

import argparse
import resource
import socket
import sys
import time

import benchlib


def measure(kind, binary, n):
    with benchlib.Server(kind, binary, threads=2, memory_mb=64) as srv:
        with socket.create_connection((benchlib.HOST, srv.port), timeout=5) as s:
            s.sendall(b"set k 0 0 100\r\n" + b"x" * 100 + b"\r\n")
            s.recv(64)
        time.sleep(0.2)
        before = srv.rss_bytes()
        conns = []
        try:
            for _ in range(n):
                c = socket.create_connection((benchlib.HOST, srv.port), timeout=5)
                conns.append(c)
                c.sendall(b"get k\r\n")
                got = b""
                while not got.endswith(b"END\r\n"):
                    chunk = c.recv(4096)
                    if not chunk:
                        raise RuntimeError(f"{kind}: connection closed after {len(conns)}")
                    got += chunk
            time.sleep(0.3)
            after = srv.rss_bytes()
        finally:
            for c in conns:
                c.close()
    return (after - before) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=1000,
                    help="connections per server (default 1000; both servers' default -c is 1024)")
    ap.add_argument("--servers", default="memshield,memcached")
    ap.add_argument("--memshield", help="path to the memshield binary")
    args = ap.parse_args()
    if not 1 <= args.connections <= 1000:
        sys.exit("--connections: 1 to 1000 (the servers' default connection limit is 1024)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    print(f"# {args.connections} idle connections per server, after one get each")
    print(f"{'server':<12}{'bytes/conn':>12}")
    for kind in args.servers.split(","):
        binary = (benchlib.find_binary("memshield", args.memshield) if kind == "memshield"
                  else benchlib.MEMCACHED)
        if binary is None:
            sys.exit(f"{kind}: binary not found (build first, see docs/BENCHMARKS.md)")
        print(f"{kind:<12}{measure(kind, binary, args.connections):>12,.0f}")


if __name__ == "__main__":
    main()
