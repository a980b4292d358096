#!/usr/bin/python3
"""Hit-ratio comparison under memory pressure: each server starts fresh with a small -m and
receives the same seeded cache-aside stream from memshield-loadgen --cache-aside (zipfian
gets; every miss is followed by a set of that key). Workloads: plain zipf, and zipf mixed with
one-hit-wonder sequential keys (a scan). One connection, batches of --batch gets, so the
request stream depends only on the seed and on each server's own hits and misses. The hit ratio
is measured after a warm-up stream (--warmup gets, another seed) has filled the cache and run
it for a while: a steady-state figure, as cache studies report, rather than one dominated by
the cold start (--warmup 0 gives the old cold-start figure).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

WORKLOADS = {
    "zipf": ("zipf 0.99 gets, cache-aside", []),
    "scan": ("zipf 0.99 gets + 30% one-hit-wonder sequential keys", ["--scan-fraction", "0.3"]),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("workloads", nargs="*", default=list(WORKLOADS),
                   help=f"workload names (default all): {', '.join(WORKLOADS)}")
    p.add_argument("--servers", default="memshield,memcached")
    p.add_argument("--memory", type=int, default=16, help="server -m in MB")
    p.add_argument("--threads", type=int, default=2, help="server -t")
    # 500k keys of ~300-byte items is ~150 MB of working set: -m 16 holds about a tenth.
    p.add_argument("--keys", type=int, default=500_000)
    p.add_argument("--value-size", type=int, default=200)
    p.add_argument("--requests", type=int, default=1_000_000, help="gets per workload (max 2M)")
    p.add_argument("--warmup", type=int, default=1_000_000,
                   help="unmeasured gets first, with another seed (max 2M, 0 = none)")
    p.add_argument("--batch", type=int, default=100, help="gets in flight per batch")
    p.add_argument("--alpha", type=float, default=0.99)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--memshield", help="path to the memshield binary")
    p.add_argument("--loadgen", help="path to memshield-loadgen")
    p.add_argument("--json-out", help="also write the results to this file")
    args = p.parse_args()
    for w in args.workloads:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w}")
    if not 1 <= args.requests <= 2_000_000:
        p.error("--requests must be in [1, 2000000]")
    if not 0 <= args.warmup <= 2_000_000:
        p.error("--warmup must be in [0, 2000000]")
    return args


def main():
    args = parse_args()
    loadgen = benchlib.find_binary("memshield-loadgen", args.loadgen)
    if not loadgen:
        sys.exit("memshield-loadgen not found: build it (see docs/BENCHMARKS.md)")
    binaries = {}
    for kind in [s.strip() for s in args.servers.split(",") if s.strip()]:
        if kind == "memcached":
            binaries[kind] = benchlib.MEMCACHED
        elif kind == "memshield":
            path = benchlib.find_binary("memshield", args.memshield)
            if path:
                binaries[kind] = path
            else:
                print("# memshield: binary not found, skipped (results pending)")
        else:
            sys.exit(f"unknown server {kind} (the no-op server has no cache to hit)")
    print(f"# -m {args.memory} -t {args.threads}; {args.keys:,} keys, {args.value_size}-byte "
          f"values, {args.warmup:,} warm-up then {args.requests:,} measured gets per workload, "
          f"seed {args.seed}, batches of {args.batch}")
    results = {}
    details = {}
    for name in args.workloads:
        desc, extra = WORKLOADS[name]
        print(f"\n== {name}: {desc}")
        print(f"{'server':<10} {'hit ratio':>9} {'hits':>10} {'misses':>10} {'items':>9} "
              f"{'evictions':>10} {'errors':>6} {'seconds':>8}")
        for kind, path in binaries.items():
            with benchlib.Server(kind, path, args.threads, args.memory) as server:
                def stream(requests, seed):
                    return benchlib.run_loadgen(
                        loadgen, server.port,
                        ["--cache-aside", "--threads", "1", "--connections", "1",
                         "--pipeline", str(args.batch), "--keys", str(args.keys),
                         "--value-size", str(args.value_size), "--dist", "zipf",
                         "--zipf-alpha", str(args.alpha), "--requests", str(requests),
                         "--duration", "600", "--seed", str(seed)] + extra,
                        timeout=660)[0]
                if args.warmup:
                    stream(args.warmup, args.seed + 1_000_003)
                res = stream(args.requests, args.seed)
                st = server.stats()
            results.setdefault(name, {})[kind] = res["hit_ratio"]
            details.setdefault(name, {})[kind] = {
                "hit_ratio": res["hit_ratio"], "hits": res["hits"], "misses": res["misses"],
                "errors": res["errors"], "curr_items": st.get("curr_items"),
                "evictions": st.get("evictions"), "seconds": res["elapsed_s"]}
            print(f"{kind:<10} {res['hit_ratio']:>9.4f} {res['hits']:>10} {res['misses']:>10} "
                  f"{st.get('curr_items', '?'):>9} {st.get('evictions', '?'):>10} "
                  f"{res['errors']:>6} {res['elapsed_s']:>8.1f}")
        if "memshield" in results[name] and "memcached" in results[name]:
            a, b = results[name]["memshield"], results[name]["memcached"]
            print(f"memshield - memcached: {100 * (a - b):+.2f} points of hit ratio")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"config": vars(args), "workloads": details}, f, indent=1)


if __name__ == "__main__":
    main()
