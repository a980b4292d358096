#!/usr/bin/python3
"""Side-by-side throughput, latency, CPU-per-request and memory comparison of memshield,
memcached and the no-op ceiling server. Every server runs with the same -t and -m on a free
loopback port; the same memshield-loadgen scenario runs against each, servers interleaved
within every repeat, and medians over the repeats are reported with their ratios.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

KEYS = 100_000
KEY_SIZE = 32
VALUE_SIZE = 100

# name -> (description, loadgen arguments); fixed_rate gets its --rate at run time.
SCENARIOS = {
    "get90_set10": ("90% get / 10% set, 50 conns, unpipelined",
                    ["--ratio", "90:10", "--connections", "50", "--pipeline", "1"]),
    "get90_set10_p16": ("90% get / 10% set, 50 conns, pipeline 16",
                        ["--ratio", "90:10", "--connections", "50", "--pipeline", "16"]),
    "multiget10": ("get of 10 keys per request, 50 conns, unpipelined",
                   ["--ratio", "100:0", "--multiget", "10", "--connections", "50"]),
    "get50_set50": ("50% get / 50% set, 50 conns, unpipelined",
                    ["--ratio", "50:50", "--connections", "50", "--pipeline", "1"]),
    "fixed_rate": ("90% get / 10% set, 50 conns, fixed total rate below saturation",
                   ["--ratio", "90:10", "--connections", "50", "--pipeline", "1"]),
}
ALL_SCENARIOS = list(SCENARIOS) + ["memory"]

MEMORY_ITEMS = 1_000_000
MEMORY_KEY = 32
MEMORY_VALUE = 100


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("scenarios", nargs="*", default=ALL_SCENARIOS,
                   help=f"scenario names (default all): {', '.join(ALL_SCENARIOS)}")
    p.add_argument("--servers", default="memshield,memcached,noop")
    p.add_argument("--duration", type=float, default=10, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1, help="unmeasured seconds per run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="server worker threads (-t; default 2, 1 with --pin)")
    p.add_argument("--memory", type=int, default=1024, help="server -m for the load scenarios")
    p.add_argument("--loadgen-threads", type=int, default=None,
                   help="load generator threads (default 2, 1 with --pin)")
    p.add_argument("--rate", type=float, default=0,
                   help="fixed_rate req/s (default: half the slowest real server's "
                        "get90_set10 median, or 20000)")
    p.add_argument("--memshield", help="path to the memshield binary")
    p.add_argument("--loadgen", help="path to memshield-loadgen")
    p.add_argument("--noop", help="path to memshield-noop")
    p.add_argument("--pin", action="store_true",
                   help="server on the last CPU, load generator on the others (taskset), so "
                   "neither waits for the other's CPU time: server -t 1 and 1 loadgen thread "
                   "unless --threads/--loadgen-threads say otherwise")
    p.add_argument("--baseline", help="another memshield binary (say, an earlier commit's), "
                   "run as server 'baseline' for A/B comparisons: --servers memshield,baseline")
    p.add_argument("--json-out", help="also write all results to this file")
    p.add_argument("--connections", type=int, default=0,
                   help="client connections for the load scenarios (default: each scenario's "
                        "own, 50); bench/plot.py sweeps it")
    args = p.parse_args()
    for s in args.scenarios:
        if s not in ALL_SCENARIOS:
            p.error(f"unknown scenario {s}")
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 60:
        p.error("--duration must be in (0, 600] and --warmup in [0, 60]")
    if not 1 <= args.repeats <= 20:
        p.error("--repeats must be in [1, 20]")
    if not 0 <= args.connections <= 10000:
        p.error("--connections must be in [1, 10000]")
    if args.threads is None:
        args.threads = 1 if args.pin else 2
    if args.loadgen_threads is None:
        args.loadgen_threads = 1 if args.pin else 2
    args.server_cpus, args.client_cpus = benchlib.pin_split() if args.pin else (None, None)
    return args


def with_connections(scenario_args, n):
    """scenario_args with its --connections value replaced by n (unchanged when n is 0)."""
    out = list(scenario_args)
    if n:
        out[out.index("--connections") + 1] = str(n)
    return out


def locate(args):
    """Maps server kind -> binary for the servers that exist; reports the missing ones."""
    found = {}
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    for kind in wanted:
        if kind == "memcached":
            path = benchlib.MEMCACHED if os.access(benchlib.MEMCACHED, os.X_OK) else None
        elif kind == "memshield":
            path = benchlib.find_binary("memshield", args.memshield)
        elif kind == "noop":
            path = benchlib.find_binary("memshield-noop", args.noop)
        elif kind == "baseline":
            path = args.baseline if args.baseline and os.access(args.baseline, os.X_OK) else None
        else:
            sys.exit(f"unknown server {kind}")
        if path:
            found[kind] = path
        else:
            print(f"# {kind}: binary not found, skipped (results pending)")
    return found


def fmt_ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def run_once(loadgen, server, scenario_args, args):
    """One loadgen run; server CPU is sampled from the end of the warmup to the end."""
    common = ["--threads", str(args.loadgen_threads), "--keys", str(KEYS),
              "--key-size", str(KEY_SIZE), "--value-size", str(VALUE_SIZE),
              "--duration", str(args.duration), "--warmup", str(args.warmup)]

    def after_warmup(_proc):
        time.sleep(args.warmup)
        return server.cpu_split()

    result, (user0, sys0) = benchlib.run_loadgen(loadgen, server.port, common + scenario_args,
                                                 timeout=args.duration + args.warmup + 60,
                                                 on_started=after_warmup, cpus=args.client_cpus)
    user1, sys1 = server.cpu_split()
    ops = result["ops"]
    per_req = lambda seconds: seconds * 1e6 / ops if ops else 0  # noqa: E731
    result["cpu_us_per_req"] = per_req(user1 - user0 + sys1 - sys0)
    # The split shows where a server's cost is: on loopback the kernel's TCP work for both ends
    # of each send is charged to the sender, so system time is mostly not the server's code.
    result["user_us_per_req"] = per_req(user1 - user0)
    result["sys_us_per_req"] = per_req(sys1 - sys0)
    fewest, most = result.get("conn_min_ops", 0), result.get("conn_max_ops", 0)
    result["conn_spread"] = most / fewest if fewest else 0.0
    return result


def summarize(runs):
    med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    return {
        "ops_per_sec": med("ops_per_sec"),
        "keys_per_sec": med("keys_per_sec"),
        "p50_us": med("p50_us"),
        "p99_us": med("p99_us"),
        "p999_us": med("p999_us"),
        "cpu_us_per_req": med("cpu_us_per_req"),
        "user_us_per_req": med("user_us_per_req"),
        "sys_us_per_req": med("sys_us_per_req"),
        "hit_ratio": med("hit_ratio"),
        # Fairness: the most over the fewest requests one connection completed (median run).
        "conn_spread": med("conn_spread"),
        "errors": sum(r["errors"] + r["prefill_errors"] for r in runs),
        "runs": [{k: r[k] for k in ("ops_per_sec", "p50_us", "p99_us", "cpu_us_per_req")}
                 for r in runs],
    }


def print_table(name, desc, summary, extra=""):
    print(f"\n== {name}: {desc}{extra}")
    print(f"{'server':<10} {'ops/s':>11} {'p50 us':>9} {'p99 us':>9} {'cpu us/req':>10} "
          f"{'user+sys':>11} {'errors':>6} {'vs memcached':>12} {'vs noop':>8}")
    mc = summary.get("memcached", {}).get("ops_per_sec")
    noop = summary.get("noop", {}).get("ops_per_sec")
    for kind, s in summary.items():
        print(f"{kind:<10} {s['ops_per_sec']:>11,.0f} {s['p50_us']:>9.1f} {s['p99_us']:>9.1f} "
              f"{s['cpu_us_per_req']:>10.2f} "
              f"{s['user_us_per_req']:>5.2f}+{s['sys_us_per_req']:<5.2f} {s['errors']:>6} "
              f"{fmt_ratio(s['ops_per_sec'], mc):>12} {fmt_ratio(s['ops_per_sec'], noop):>8}")
    print("per-connection spread (most/fewest requests completed by one connection): " +
          ", ".join(f"{kind} {s['conn_spread']:.1f}" for kind, s in summary.items()))
    if "memshield" in summary and "memcached" in summary:
        a, b = summary["memshield"], summary["memcached"]
        print(f"memshield/memcached: ops {fmt_ratio(a['ops_per_sec'], b['ops_per_sec'])}, "
              f"p50 {fmt_ratio(a['p50_us'], b['p50_us'])}, "
              f"p99 {fmt_ratio(a['p99_us'], b['p99_us'])}, "
              f"cpu/req {fmt_ratio(a['cpu_us_per_req'], b['cpu_us_per_req'])}")
    if "memshield" in summary and "baseline" in summary:
        a, b = summary["memshield"], summary["baseline"]
        print(f"memshield/baseline: ops {fmt_ratio(a['ops_per_sec'], b['ops_per_sec'])}, "
              f"user/req {fmt_ratio(a['user_us_per_req'], b['user_us_per_req'])}, "
              f"cpu/req {fmt_ratio(a['cpu_us_per_req'], b['cpu_us_per_req'])}")


def load_scenarios(args, binaries, loadgen):
    names = [s for s in args.scenarios if s in SCENARIOS]
    if not names:
        return {}
    results = {}
    servers = {}
    try:
        for kind, path in binaries.items():
            servers[kind] = benchlib.Server(kind, path, args.threads, args.memory, VALUE_SIZE,
                                            cpus=args.server_cpus)
            fill, _ = benchlib.run_loadgen(
                loadgen, servers[kind].port,
                ["--prefill", "--duration", "0", "--keys", str(KEYS), "--key-size", str(KEY_SIZE),
                 "--value-size", str(VALUE_SIZE), "--connections", "8", "--pipeline", "32",
                 "--threads", str(args.loadgen_threads)], timeout=300, cpus=args.client_cpus)
            print(f"# {kind}: port {servers[kind].port}, prefilled {KEYS} keys in "
                  f"{fill['prefill_s']:.2f} s, prefill errors {fill['prefill_errors']}")
        rate = args.rate
        for name in names:
            desc, scenario_args = SCENARIOS[name]
            scenario_args = with_connections(scenario_args, args.connections)
            extra = f" (--connections {args.connections})" if args.connections else ""
            if name == "fixed_rate":
                if not rate:
                    base = results.get("get90_set10", {})
                    real = [base[k]["ops_per_sec"] for k in base if k != "noop"]
                    rate = round(min(real) * 0.5, -3) if real else 20000
                scenario_args = scenario_args + ["--rate", str(rate)]
                extra += f" ({rate:,.0f} req/s; latency from intended send time)"
            runs = {kind: [] for kind in servers}
            order = list(servers)
            for rep in range(args.repeats):
                # Rotate the order each repeat so no server always runs first or last.
                for kind in order[rep % len(order):] + order[:rep % len(order)]:
                    runs[kind].append(run_once(loadgen, servers[kind], scenario_args, args))
            summary = {kind: summarize(r) for kind, r in runs.items()}
            print_table(name, desc, summary, extra)
            results[name] = summary
            sys.stdout.flush()
    finally:
        for s in servers.values():
            s.stop()
    return results


def memory_scenario(args, binaries, loadgen):
    """Stores 1M items of 32-byte keys and 100-byte values in a fresh -m 4096 server."""
    raw = MEMORY_KEY + MEMORY_VALUE
    out = {}
    print(f"\n== memory: {MEMORY_ITEMS:,} items, {MEMORY_KEY}-byte keys, "
          f"{MEMORY_VALUE}-byte values, -m 4096 (raw {raw} bytes/item)")
    # "after reads": RSS again once the read-back has run; memshield's frequency sketch is
    # allocated for the items but its pages are touched only by gets.
    print(f"{'server':<10} {'RSS MB':>9} {'start MB':>9} {'bytes/item':>10} {'over raw':>9} "
          f"{'hit ratio':>9} {'items':>9} {'after reads':>11}")
    for kind, path in binaries.items():
        if kind == "noop":
            continue  # stores nothing
        with benchlib.Server(kind, path, args.threads, 4096) as server:
            time.sleep(0.3)
            base = server.rss_bytes()
            fill, _ = benchlib.run_loadgen(
                loadgen, server.port,
                ["--prefill", "--duration", "0", "--keys", str(MEMORY_ITEMS),
                 "--key-size", str(MEMORY_KEY), "--value-size", str(MEMORY_VALUE),
                 "--connections", "8", "--pipeline", "64", "--threads", str(args.loadgen_threads)],
                timeout=600)
            time.sleep(1.0)  # let background threads (hash expansion, LRU) settle
            rss = server.rss_bytes()
            check, _ = benchlib.run_loadgen(
                loadgen, server.port,
                ["--ratio", "100:0", "--requests", "200000", "--duration", "60",
                 "--keys", str(MEMORY_ITEMS), "--key-size", str(MEMORY_KEY),
                 "--value-size", str(MEMORY_VALUE), "--connections", "8", "--pipeline", "32",
                 "--threads", str(args.loadgen_threads)], timeout=120)
            items = server.stats().get("curr_items", "?")
            rss_read = server.rss_bytes()
        per_item = (rss - base) / MEMORY_ITEMS
        over_read = (rss_read - base) / MEMORY_ITEMS - raw
        out[kind] = {"rss_bytes": rss, "start_rss_bytes": base, "bytes_per_item": per_item,
                     "overhead_per_item": per_item - raw, "hit_ratio": check["hit_ratio"],
                     "curr_items": items, "prefill_errors": fill["prefill_errors"],
                     "rss_after_reads_bytes": rss_read, "overhead_after_reads": over_read}
        print(f"{kind:<10} {rss / 2**20:>9.1f} {base / 2**20:>9.1f} {per_item:>10.1f} "
              f"{per_item - raw:>9.1f} {check['hit_ratio']:>9.4f} {items:>9} "
              f"{over_read:>9.1f} B")
    if "memshield" in out and "memcached" in out:
        print("memshield/memcached overhead above raw: " +
              fmt_ratio(out["memshield"]["overhead_per_item"],
                        out["memcached"]["overhead_per_item"]))
    return out


def main():
    args = parse_args()
    loadgen = benchlib.find_binary("memshield-loadgen", args.loadgen)
    if not loadgen:
        sys.exit("memshield-loadgen not found: build it (see docs/BENCHMARKS.md)")
    binaries = locate(args)
    if not binaries:
        sys.exit("no servers to compare")
    print(f"# servers: {', '.join(f'{k}={v}' for k, v in binaries.items())}")
    if args.pin:
        where = (f"pinned: server on CPU {args.server_cpus}, loadgen on CPU {args.client_cpus} "
                 f"(no CPU shared)")
    else:
        where = (f"sharing the machine's {os.cpu_count()} cores with the server (client cost is "
                 f"in every number)")
    print(f"# server -t {args.threads}, -m {args.memory}; loadgen {args.loadgen_threads} threads "
          f"{where}; {args.repeats} repeats x {args.duration:g} s (+{args.warmup:g} s warmup), "
          f"medians shown")
    results = {"config": vars(args), "scenarios": load_scenarios(args, binaries, loadgen)}
    if "memory" in args.scenarios:
        results["memory"] = memory_scenario(args, binaries, loadgen)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
