#!/usr/bin/python3
"""Draws the benchmark figures of docs/BENCHMARKS.md from runs of the side-by-side scripts:
(a) throughput against the number of client connections for memshield, memcached and the no-op
server (bench/compare.py get90_set10 --connections N), and (b) hit ratio against cache size for
memshield and memcached (bench/hitratio.py zipf --memory M). Writes docs/img/*.svg.

    bench/plot.py --quick                 # a minute or two: checks the pipeline, rough numbers
    bench/plot.py                         # the measured run (about 15 minutes)
    bench/plot.py --from-data FILE.json   # redraw from the data a previous run saved

Needs Debian's python3-matplotlib (scripts/deps.sh bench); run it with /usr/bin/python3.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_CONNECTIONS = "1,5,10,25,50,100"
DEFAULT_SIZES = "4,8,16,32,64"
STYLE = {  # server -> (label, colour, marker)
    "memshield": ("memshield", "#1f6fb4", "o"),
    "memcached": ("memcached 1.6.18 (Debian)", "#d0641c", "s"),
    "noop": ("no-op server (network ceiling)", "#7a7a7a", "^"),
}


def int_list(text, lo, hi, what):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: comma-separated integers, not {text!r}")
    if not values or len(values) > 20 or any(not lo <= v <= hi for v in values):
        raise argparse.ArgumentTypeError(f"{what}: 1 to 20 values in [{lo}, {hi}]")
    return values


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="short runs (1 s, one repeat, 200k gets): for checking, not for docs")
    p.add_argument("--from-data", help="only draw, from the JSON a previous run wrote")
    p.add_argument("--data", default=os.path.join(ROOT, "bench", "results", "plot-data.json"),
                   help="where to save the measured data (default: bench/results/)")
    p.add_argument("--outdir", default=os.path.join(ROOT, "docs", "img"))
    p.add_argument("--png", action="store_true", help="also write PNG copies")
    p.add_argument("--only", choices=["throughput", "hitratio"], help="one figure only")
    p.add_argument("--connections", default=DEFAULT_CONNECTIONS,
                   type=lambda t: int_list(t, 1, 2000, "--connections"))
    p.add_argument("--sizes", default=DEFAULT_SIZES,
                   type=lambda t: int_list(t, 1, 4096, "--sizes"), help="-m values in MB")
    p.add_argument("--servers", default="memshield,memcached,noop")
    p.add_argument("--duration", type=float, help="compare.py --duration (default 5, quick 1)")
    p.add_argument("--repeats", type=int, help="compare.py --repeats (default 3, quick 1)")
    p.add_argument("--requests", type=int,
                   help="hitratio.py --requests (default 1000000, quick 200000)")
    p.add_argument("--threads", type=int, default=2, help="server -t")
    p.add_argument("--memshield", help="path to the memshield binary")
    p.add_argument("--loadgen", help="path to memshield-loadgen")
    p.add_argument("--noop", help="path to memshield-noop")
    args = p.parse_args()
    args.duration = args.duration or (1.0 if args.quick else 5.0)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.requests = args.requests or (200_000 if args.quick else 1_000_000)
    if not 0 < args.duration <= 60 or not 1 <= args.repeats <= 10:
        p.error("--duration must be in (0, 60] and --repeats in [1, 10]")
    if not 1_000 <= args.requests <= 2_000_000:
        p.error("--requests must be in [1000, 2000000]")
    return args


def binary_flags(args, names):
    out = []
    for name in names:
        value = getattr(args, name)
        if value:
            out += [f"--{name}", os.path.abspath(value)]
    return out


def run_script(argv, timeout):
    """Runs a bench script with a hard time bound; its table goes to our stdout as it comes."""
    print("$ " + " ".join(argv[1:]), flush=True)
    try:
        subprocess.run(argv, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"timed out after {timeout:.0f} s: {' '.join(argv[1:])}")
    except subprocess.CalledProcessError as e:
        sys.exit(f"failed with status {e.returncode}: {' '.join(argv[1:])}")


def measure_throughput(args, tmp):
    """compare.py get90_set10 once per connection count; medians of ops/s and p99 per server."""
    out = {}
    warmup = 0.3 if args.quick else 1.0
    for n in args.connections:
        path = os.path.join(tmp, f"compare-{n}.json")
        argv = [sys.executable, os.path.join(HERE, "compare.py"), "get90_set10",
                "--connections", str(n), "--servers", args.servers,
                "--duration", str(args.duration), "--warmup", str(warmup),
                "--repeats", str(args.repeats), "--threads", str(args.threads),
                "--json-out", path] + binary_flags(args, ["memshield", "loadgen", "noop"])
        servers = len(args.servers.split(","))
        budget = 120 + servers * args.repeats * (args.duration + warmup + 30)
        run_script(argv, timeout=budget)
        with open(path) as f:
            summary = json.load(f)["scenarios"]["get90_set10"]
        for kind, s in summary.items():
            out.setdefault(kind, []).append(
                {"connections": n, "ops_per_sec": s["ops_per_sec"], "p99_us": s["p99_us"],
                 "errors": s["errors"]})
    return out


def measure_hitratio(args, tmp):
    """hitratio.py zipf once per -m; the hit ratio per server."""
    out = {}
    servers = ",".join(s for s in args.servers.split(",") if s != "noop")
    for m in args.sizes:
        path = os.path.join(tmp, f"hitratio-{m}.json")
        argv = [sys.executable, os.path.join(HERE, "hitratio.py"), "zipf", "--memory", str(m),
                "--servers", servers, "--requests", str(args.requests),
                "--threads", str(args.threads), "--json-out", path]
        argv += binary_flags(args, ["memshield", "loadgen"])
        run_script(argv, timeout=120 + 2 * 660)
        with open(path) as f:
            data = json.load(f)
        for kind, r in data["workloads"]["zipf"].items():
            out.setdefault(kind, []).append(
                {"memory_mb": m, "hit_ratio": r["hit_ratio"], "evictions": r["evictions"],
                 "errors": r["errors"]})
        keys, value_size = data["config"]["keys"], data["config"]["value_size"]
    return out, {"keys": keys, "value_size": value_size}


def note(data):
    when = time.strftime("%Y-%m-%d", time.gmtime(data.get("when", time.time())))
    quick = ", --quick (rough)" if data.get("quick") else ""
    return f"{os.cpu_count()} cores shared by server and load generator; {when}{quick}"


def plot_throughput(plt, data, path_base, png):
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for kind, points in data["throughput"].items():
        label, colour, marker = STYLE.get(kind, (kind, None, "x"))
        xs = [p["connections"] for p in points]
        ys = [p["ops_per_sec"] / 1000 for p in points]
        ax.plot(xs, ys, marker=marker, color=colour, label=label, linewidth=1.8)
    ax.set_xscale("log")
    ticks = sorted({p["connections"] for pts in data["throughput"].values() for p in pts})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlabel("client connections (90% get / 10% set, 100-byte values, no pipelining)")
    ax.set_ylabel("requests per second (thousands)")
    ax.set_ylim(bottom=0)
    ax.set_title("Throughput against connections, -t %d" % data["threads"])
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", frameon=False)
    fig.text(0.99, 0.01, note(data), ha="right", va="bottom", fontsize=7, color="#555555")
    save(fig, path_base, png)
    plt.close(fig)


def plot_hitratio(plt, data, path_base, png):
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for kind, points in data["hitratio"].items():
        label, colour, marker = STYLE.get(kind, (kind, None, "x"))
        xs = [p["memory_mb"] for p in points]
        ys = [100 * p["hit_ratio"] for p in points]
        ax.plot(xs, ys, marker=marker, color=colour, label=label, linewidth=1.8)
    ax.set_xscale("log", base=2)
    ticks = sorted({p["memory_mb"] for pts in data["hitratio"].values() for p in pts})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    cfg = data["hitratio_config"]
    ax.set_xlabel(f"cache size, -m MB ({cfg['keys']:,} keys of {cfg['value_size']}-byte values, "
                  "zipf 0.99, cache-aside)")
    ax.set_ylabel("hit ratio (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Hit ratio against cache size")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", frameon=False)
    fig.text(0.99, 0.01, note(data), ha="right", va="bottom", fontsize=7, color="#555555")
    save(fig, path_base, png)
    plt.close(fig)


def save(fig, path_base, png):
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path_base + ".svg", metadata={"Date": None})  # no timestamp: stable diffs
    print(f"wrote {path_base}.svg")
    if png:
        fig.savefig(path_base + ".png", dpi=110)
        print(f"wrote {path_base}.png")


def main():
    args = parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("matplotlib is missing: scripts/deps.sh bench, then run with /usr/bin/python3")
    if args.from_data:
        with open(args.from_data) as f:
            data = json.load(f)
    else:
        data = {}
        if args.only and os.path.exists(args.data):  # keep the other figure's measurements
            with open(args.data) as f:
                data = json.load(f)
        data.update({"when": time.time(), "quick": args.quick, "threads": args.threads,
                     "config": {k: v for k, v in vars(args).items() if k != "from_data"}})
        with tempfile.TemporaryDirectory(prefix="memshield-plot-") as tmp:
            if args.only != "hitratio":
                data["throughput"] = measure_throughput(args, tmp)
            if args.only != "throughput":
                data["hitratio"], data["hitratio_config"] = measure_hitratio(args, tmp)
        os.makedirs(os.path.dirname(os.path.abspath(args.data)), exist_ok=True)
        with open(args.data, "w") as f:
            json.dump(data, f, indent=1)
        print(f"wrote {args.data}")
    os.makedirs(args.outdir, exist_ok=True)
    if "throughput" in data:
        plot_throughput(plt, data, os.path.join(args.outdir, "throughput_vs_conns"), args.png)
    if "hitratio" in data:
        plot_hitratio(plt, data, os.path.join(args.outdir, "hitratio_vs_size"), args.png)


if __name__ == "__main__":
    main()
