#!/usr/bin/python3
"""What memshield's UDP guard costs: UDP get throughput of memcached -U, memshield with the
guard bypassed (--udp-trust), with cookie clients (a MAC check per datagram) and with plain
unvalidated clients (the amplification budget at work), then TCP throughput of memshield with
the guard configured against plain memshield. Medians of interleaved repeats, with ratios.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import compare  # noqa: E402  (the TCP scenarios and their runner)

KEYS = 100_000
KEY_SIZE = 32
VALUE_SIZE = 100
UNLIMITED = ["--udp-rate-pps=0", "--udp-rate-bps=0", "--udp-egress-bps=0"]
TCP_SCENARIOS = ["get90_set10", "get90_set10_p16"]
TCP_MIN_RATIO = 0.97

# name -> (description, client mode, memshield flags beyond -U; None = memcached)
UDP_CONFIGS = {
    "memcached": ("memcached 1.6 -U (reference)", "legacy", None),
    "bypassed": ("memshield --udp-trust=127.0.0.0/8, plain clients",
                 "legacy", ["--udp-trust=127.0.0.0/8"] + UNLIMITED),
    "cookie": ("memshield, cookie clients (MAC per datagram)", "cookie", UNLIMITED),
    "unvalidated": ("memshield, plain clients, unvalidated (budget 1.0)", "legacy", UNLIMITED),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=float, default=8, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1, help="unmeasured seconds per run")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="server worker threads (-t)")
    p.add_argument("--memory", type=int, default=1024, help="server -m")
    p.add_argument("--udp-threads", type=int, default=1, help="memshield-udp-bench threads")
    p.add_argument("--udp-sockets", type=int, default=4, help="UDP sockets per client thread")
    p.add_argument("--udp-window", type=int, default=16, help="requests in flight per socket")
    p.add_argument("--loadgen-threads", type=int, default=2, help="TCP loadgen threads")
    p.add_argument("--skip-udp", action="store_true")
    p.add_argument("--skip-tcp", action="store_true")
    p.add_argument("--skip-defaults", action="store_true",
                   help="skip the one run with memshield's default rate limits")
    p.add_argument("--memshield", help="path to the memshield binary")
    p.add_argument("--loadgen", help="path to memshield-loadgen")
    p.add_argument("--udp-bench", help="path to memshield-udp-bench")
    p.add_argument("--json-out", help="also write all results to this file")
    args = p.parse_args()
    if not 0 < args.duration <= 300 or not 0 <= args.warmup <= 60:
        p.error("--duration must be in (0, 300] and --warmup in [0, 60]")
    if not 1 <= args.repeats <= 20:
        p.error("--repeats must be in [1, 20]")
    return args


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((benchlib.HOST, 0))
        return s.getsockname()[1]


class GuardServer(benchlib.Server):
    """benchlib.Server with a chosen UDP port and extra flags (udp_port 0: UDP off)."""

    def __init__(self, kind, binary, args, extra, udp=True):
        self.kind = kind
        self.port = benchlib.free_port()
        self.udp_port = free_udp_port() if udp else 0
        argv = benchlib.server_argv("memshield", binary, self.port, args.threads, args.memory)
        argv[argv.index("-U") + 1] = str(self.udp_port)  # server_argv says "-U 0"
        self.argv = argv + list(extra)
        self.log = tempfile.NamedTemporaryFile(prefix=f"guard-{kind}-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_ready(10.0)

    def shield_stats(self):
        """memshield's 'stats shield' counters as ints (empty for memcached)."""
        out = {}
        try:
            with socket.create_connection((benchlib.HOST, self.port), timeout=2) as s:
                s.sendall(b"stats shield\r\n")
                buf = b""
                while not buf.endswith(b"END\r\n") and len(buf) < 1 << 16:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        except OSError:
            return out
        for line in buf.decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
                out[parts[1]] = int(parts[2])
        return out


def start_udp_server(name, binaries, args):
    flags = UDP_CONFIGS[name][2]
    if flags is None:
        return GuardServer(name, benchlib.MEMCACHED, args, [])
    return GuardServer(name, binaries["memshield"], args, flags)


def run_udp_bench(tool, server, mode, args, extra=()):
    argv = [tool, "--host", benchlib.HOST, "--port", str(server.udp_port),
            "--tcp-port", str(server.port), "--json", "--mode", mode,
            "--threads", str(args.udp_threads), "--sockets", str(args.udp_sockets),
            "--window", str(args.udp_window), "--keys", str(KEYS), "--key-size", str(KEY_SIZE),
            "--value-size", str(VALUE_SIZE), "--duration", str(args.duration),
            "--warmup", str(args.warmup)] + list(extra)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(args.warmup)
    cpu0, shield0 = server.cpu_seconds(), server.shield_stats()
    try:
        out, err = proc.communicate(timeout=args.duration + args.warmup + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"udp bench timed out: {' '.join(argv)}")
    cpu, shield1 = server.cpu_seconds() - cpu0, server.shield_stats()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"udp bench failed (rc {proc.returncode}): {err.strip()[-400:]}")
    r = json.loads(lines[-1])
    r["cpu_us_per_answer"] = cpu * 1e6 / r["answers"] if r["answers"] else 0
    r["cpu_us_per_request"] = cpu * 1e6 / r["sent"] if r["sent"] else 0
    # The server's own count of the UDP bytes it took in and sent out during the run.
    delta = {k: shield1.get(k, 0) - shield0.get(k, 0) for k in shield1}
    if delta.get("udp_bytes_received"):
        r["server_out_over_in"] = delta["udp_bytes_sent"] / delta["udp_bytes_received"]
    r["shield_delta"] = {k: v for k, v in delta.items() if v}
    return r


def udp_section(args, binaries, tool):
    names = [n for n in UDP_CONFIGS if n != "memcached" or "memcached" in binaries]
    servers, runs = {}, {n: [] for n in names}
    try:
        for name in names:
            servers[name] = start_udp_server(name, binaries, args)
            fill = subprocess.run(
                [tool, "--port", str(servers[name].udp_port), "--tcp-port",
                 str(servers[name].port), "--prefill", "--keys", str(KEYS), "--key-size",
                 str(KEY_SIZE), "--value-size", str(VALUE_SIZE), "--duration", "0.1", "--json"],
                capture_output=True, text=True, timeout=300)
            if fill.returncode != 0:
                raise RuntimeError(f"prefill of {name} failed: {fill.stderr.strip()[-300:]}")
            pre = json.loads(fill.stdout.splitlines()[-1])
            print(f"# udp {name}: tcp {servers[name].port}, udp {servers[name].udp_port}, "
                  f"prefilled {KEYS} keys, {pre['prefill_errors']} errors")
        for rep in range(args.repeats):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for name in order:
                mode = UDP_CONFIGS[name][1]
                # Unvalidated requests mostly go unanswered: a short timeout keeps them flowing.
                extra = ["--timeout-ms", "50"] if name == "unvalidated" else []
                runs[name].append(run_udp_bench(tool, servers[name], mode, args, extra))
    finally:
        for s in servers.values():
            s.stop()
    med = lambda rs, k: statistics.median(r.get(k, 0) for r in rs)  # noqa: E731
    summary = {}
    for name, rs in runs.items():
        summary[name] = {k: med(rs, k) for k in (
            "answers_per_sec", "answered_ratio", "p50_us", "p99_us", "cpu_us_per_answer",
            "cpu_us_per_request", "bytes_out_over_in", "server_out_over_in", "timeouts")}
        summary[name]["errors"] = sum(r["errors"] for r in rs)
        summary[name]["runs"] = rs
    return summary


def defaults_run(args, binaries, tool):
    """One run against memshield with its default per-prefix limits, cookie clients."""
    with GuardServer("defaults", binaries["memshield"], args, []) as server:
        subprocess.run([tool, "--port", str(server.udp_port), "--tcp-port", str(server.port),
                        "--prefill", "--keys", str(KEYS), "--duration", "0.1", "--json"],
                       capture_output=True, timeout=300, check=True)
        return run_udp_bench(tool, server, "cookie", args, ["--timeout-ms", "50"])


def tcp_section(args, binaries, loadgen):
    """Plain memshield (no -U, no ACL) against memshield with the guard configured."""
    servers = {}
    results = {}
    try:
        servers["plain"] = GuardServer("plain", binaries["memshield"], args, [], udp=False)
        servers["guarded"] = GuardServer("guarded", binaries["memshield"], args,
                                         ["--allow=127.0.0.0/8"])
        for kind, server in servers.items():
            fill, _ = benchlib.run_loadgen(
                loadgen, server.port,
                ["--prefill", "--duration", "0", "--keys", str(KEYS), "--key-size",
                 str(KEY_SIZE), "--value-size", str(VALUE_SIZE), "--connections", "8",
                 "--pipeline", "32", "--threads", str(args.loadgen_threads)], timeout=300)
            print(f"# tcp {kind}: port {server.port}, prefill errors {fill['prefill_errors']}")
        for name in TCP_SCENARIOS:
            scenario_args = compare.SCENARIOS[name][1]
            runs = {k: [] for k in servers}
            for rep in range(args.repeats):
                order = list(servers) if rep % 2 == 0 else list(reversed(servers))
                for kind in order:
                    runs[kind].append(compare.run_once(loadgen, servers[kind], scenario_args,
                                                       args))
            results[name] = {k: compare.summarize(r) for k, r in runs.items()}
            # Same-repeat pairs share the machine's mood; their median ratio is steadier.
            pairs = [g["ops_per_sec"] / p["ops_per_sec"]
                     for p, g in zip(runs["plain"], runs["guarded"]) if p["ops_per_sec"]]
            results[name]["paired_ratio"] = statistics.median(pairs) if pairs else 0
    finally:
        for s in servers.values():
            s.stop()
    return results


def ratio(a, b):
    return a / b if a and b else 0


def print_udp(summary, defaults):
    print(f"\n== UDP get: {KEYS:,} keys of {KEY_SIZE} B, {VALUE_SIZE}-byte values, uniform; "
          "server CPU per answer from /proc (utime+stime)")
    print(f"{'config':<12} {'answers/s':>10} {'answered':>9} {'p50 us':>8} {'p99 us':>8} "
          f"{'cpu us/ans':>10} {'cpu us/req':>10} {'out/in':>7} {'vs bypassed':>11} "
          f"{'vs memcached':>12}")
    base = summary.get("bypassed", {}).get("answers_per_sec")
    mc = summary.get("memcached", {}).get("answers_per_sec")
    for name, s in summary.items():
        out_in = s["server_out_over_in"] or s["bytes_out_over_in"]
        print(f"{name:<12} {s['answers_per_sec']:>10,.0f} {s['answered_ratio']:>9.4f} "
              f"{s['p50_us']:>8.0f} {s['p99_us']:>8.0f} {s['cpu_us_per_answer']:>10.2f} "
              f"{s['cpu_us_per_request']:>10.2f} {out_in:>7.3f} "
              f"{ratio(s['answers_per_sec'], base):>10.3f}x "
              f"{ratio(s['answers_per_sec'], mc):>11.3f}x")
    for name, s in summary.items():
        print(f"  {name}: {UDP_CONFIGS[name][0]}; errors {s['errors']}, "
              f"median timeouts {s['timeouts']:,.0f}")
    if "cookie" in summary and "bypassed" in summary:
        c, b = summary["cookie"], summary["bypassed"]
        print(f"guard on / bypassed: answers/s "
              f"{ratio(c['answers_per_sec'], b['answers_per_sec']):.3f}, cpu/answer "
              f"{ratio(c['cpu_us_per_answer'], b['cpu_us_per_answer']):.3f}")
    if "bypassed" in summary and "memcached" in summary:
        b, m = summary["bypassed"], summary["memcached"]
        print(f"memshield bypassed / memcached: answers/s "
              f"{ratio(b['answers_per_sec'], m['answers_per_sec']):.3f}, cpu/answer "
              f"{ratio(b['cpu_us_per_answer'], m['cpu_us_per_answer']):.3f}")
    if "unvalidated" in summary:
        last = summary["unvalidated"]["runs"][-1]
        d = last.get("shield_delta", {})
        print(f"unvalidated (last run): {last['answers']:,} answers + {last['refused']:,} "
              f"budget notices of {last['sent']:,} sent; server bytes out/in "
              f"{d.get('udp_bytes_sent', 0):,} / {d.get('udp_bytes_received', 0):,} = "
              f"{last.get('server_out_over_in', 0):.3f} (must be <= 1.0)")
    if defaults:
        d = defaults.get("shield_delta", {})
        print(f"defaults (2000 pkt/s and 4 MiB/s per /24), cookie clients, 1 run: "
              f"{defaults['answers_per_sec']:,.0f} answers/s of {defaults['sent']:,} sent; "
              f"dropped by the rate limit {d.get('udp_dropped_rate_limited', 0):,}")


def print_tcp(results, args):
    print(f"\n== TCP: memshield guard configured (-U on, --allow=127.0.0.0/8) vs plain "
          f"(no -U, no ACL); loadgen {args.loadgen_threads} threads")
    print(f"{'scenario':<16} {'plain ops/s':>12} {'guarded ops/s':>13} {'ratio':>6} "
          f"{'paired':>6} {'cpu us/req p/g':>15} {'p99 us p/g':>15}  verdict")
    for name, r in results.items():
        p, g = r["plain"], r["guarded"]
        rt = ratio(g["ops_per_sec"], p["ops_per_sec"])
        verdict = "ok" if rt >= TCP_MIN_RATIO else f"BELOW {TCP_MIN_RATIO}"
        print(f"{name:<16} {p['ops_per_sec']:>12,.0f} {g['ops_per_sec']:>13,.0f} {rt:>6.3f} "
              f"{r['paired_ratio']:>6.3f} {p['cpu_us_per_req']:>7.2f}/{g['cpu_us_per_req']:<7.2f}"
              f" {p['p99_us']:>7.0f}/{g['p99_us']:<7.0f}  {verdict}")


def main():
    args = parse_args()
    binaries = {}
    ms = benchlib.find_binary("memshield", args.memshield)
    if not ms:
        sys.exit("memshield not found: build it or pass --memshield")
    binaries["memshield"] = ms
    if os.access(benchlib.MEMCACHED, os.X_OK):
        binaries["memcached"] = benchlib.MEMCACHED
    else:
        print(f"# {benchlib.MEMCACHED} not found: the memcached column is skipped")
    tool = benchlib.find_binary("memshield-udp-bench", args.udp_bench)
    loadgen = benchlib.find_binary("memshield-loadgen", args.loadgen)
    if not args.skip_udp and not tool:
        sys.exit("memshield-udp-bench not found: build it or pass --udp-bench")
    if not args.skip_tcp and not loadgen:
        sys.exit("memshield-loadgen not found: build it or pass --loadgen")
    print(f"# memshield={ms}; server -t {args.threads} -m {args.memory}; clients share the "
          f"machine's {os.cpu_count()} cores; {args.repeats} repeats x {args.duration:g} s "
          f"(+{args.warmup:g} s warmup), interleaved, medians shown")
    results = {"config": vars(args)}
    if not args.skip_udp:
        print(f"# udp clients: {args.udp_threads} threads x {args.udp_sockets} sockets x "
              f"window {args.udp_window}; memshield rate limits off (--udp-rate-pps=0 ...)")
        results["udp"] = udp_section(args, binaries, tool)
        if not args.skip_defaults:
            results["udp_defaults"] = defaults_run(args, binaries, tool)
        print_udp(results["udp"], results.get("udp_defaults"))
        sys.stdout.flush()
    if not args.skip_tcp:
        results["tcp"] = tcp_section(args, binaries, loadgen)
        print_tcp(results["tcp"], args)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
