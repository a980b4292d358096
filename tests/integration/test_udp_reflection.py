"""Issue 3: memshield cannot be used as a UDP reflector (CVE-2018-1000115 class).

Topology (all private, see netns.py): namespaces att, srv, vic on 10.77.0.0/24,
bridged in a hub namespace. The attacker preloads a large value over TCP from
its own address, then sends spoofed UDP requests whose source is the victim;
a capture in the victim namespace counts every UDP payload byte the server
sends there. The guarantee under test: an address never receives more UDP
payload bytes than the server received from that address (x the configured
factor), unless requests carry a valid server cookie or come from --udp-trust.
The same attack against Debian's memcached -U measures real amplification, so
the harness demonstrably sees reflection when there is some.
"""

import os
import time

import pytest

import netns as N

BIG = 500 * 1024
ROUNDS = 3
SETTLE = 1.5          # seconds to keep capturing after the last spoofed datagram
VICTIM_PORT = 40000


@pytest.fixture(scope="module")
def topo():
    N.skip_without_netns()
    with N.Topology(("att", "srv", "vic")) as t:
        yield t


_port = iter(range(11300, 11400))


def attack_payloads():
    """Every kind of spoofed request, memcached framing (plus cookie variants)."""
    multi = b"get" + b" big" * 100 + b"\r\n"
    kinds = [
        ("get", N.frame(1, b"get big\r\n")),
        ("multiget", N.frame(2, multi)),
        ("gets", N.frame(3, b"gets big\r\n")),
        ("stats", N.frame(4, b"stats\r\n")),
        ("stats_items", N.frame(5, b"stats items\r\n")),
        ("version", N.frame(6, b"version\r\n")),
        ("meta", N.frame(7, b"mg big v\r\n")),
        ("binary_get", N.frame(8, N.binary_get("big"))),
        ("unknown", N.frame(9, b"frobnicate big\r\n")),
        ("cookie_request", N.cookie_frame(10, b"get big\r\n", os.urandom(8), None)),
        ("bogus_cookie", N.cookie_frame(11, b"get big\r\n", os.urandom(8), os.urandom(16))),
    ]
    return kinds


def run_attack(t, sender, ports, victim_port=VICTIM_PORT, rounds=ROUNDS):
    for _ in range(rounds):
        for port in ports:
            for _name, payload in attack_payloads():
                sender.send(t.ip["vic"], victim_port, t.ip["srv"], port, payload)
                time.sleep(0.002)


def preload(t, srv):
    with srv.tcp(ns=t.ns["att"]) as c:
        assert c.set("big", os.urandom(BIG // 2).hex().encode()) == b"STORED\r\n"
        assert c.set("small", b"s") == b"STORED\r\n"


def measure(t, srv, port, victim_setup=None, rounds=ROUNDS, extra_ports=()):
    """Spoofed attack; returns (attacker_bytes, victim_own_tx, bytes_at_victim, capture)."""
    cap = N.Capture(t.ns["vic"], max_seconds=60)
    vic_tx = 0
    try:
        if victim_setup is not None:
            vic_tx = victim_setup()
        with N.RawSender(t.ns["att"]) as rs:
            run_attack(t, rs, [port] + list(extra_ports), rounds=rounds)
            time.sleep(SETTLE)
            att_tx = rs.sent_payload_bytes
    finally:
        cap.stop()
    rx = cap.payload_bytes(src=t.ip["srv"], dst=t.ip["vic"])
    return att_tx, vic_tx, rx, cap


def describe(cap, t):
    kinds = {}
    for p in cap.select(src=t.ip["srv"]):
        head = p[5][8:40]
        kinds[head[:20]] = kinds.get(head[:20], 0) + p[4]
    return kinds


def test_default_flags_send_nothing(topo):
    port = next(_port)
    # no -U at all; -l is needed only to be reachable from the attacker's namespace.
    # The attack also goes to 11211, memcached's old default UDP port.
    srv = N.start("memshield", [], ns=topo.ns["srv"], host=topo.ip["srv"], port=port, udp=None)
    try:
        preload(topo, srv)
        att, _, rx, cap = measure(topo, srv, port, extra_ports=(11211,))
    finally:
        srv.kill()
    assert cap.drops == 0
    assert att > 0
    assert rx == 0, f"victim received {rx} bytes from a server without -U: {describe(cap, topo)}"


@pytest.mark.parametrize("factor", [None, 3])
def test_stranger_victim_within_budget(topo, factor):
    port = next(_port)
    args = [] if factor is None else [f"--udp-max-amplification={factor}"]
    f = 1.0 if factor is None else float(factor)
    srv = N.start("memshield", args, ns=topo.ns["srv"], host=topo.ip["srv"], port=port)
    try:
        N.udp_alive_check((topo.ip["srv"], port), ns=topo.ns["att"])
        preload(topo, srv)
        att, _, rx, cap = measure(topo, srv, port)
        with srv.tcp(ns=topo.ns["att"]) as c:
            shield = c.stats("shield")
    finally:
        srv.kill()
    assert cap.drops == 0, "capture dropped packets; the count would be a lower bound"
    print(f"memshield factor={f}: attacker sent {att} B, victim received {rx} B")
    assert rx <= f * att, (f"victim received {rx} B for {att} B spoofed (> {f}x): "
                           f"{describe(cap, topo)}")
    # nothing big leaked: no datagram may carry the preloaded value
    leaked = [p[5][8:40] for p in cap.select(src=topo.ip["srv"])
              if b"VALUE" in p[5] or b"STAT " in p[5]]
    assert not leaked, f"a value or stats datagram reached the victim: {leaked[:3]}"
    assert N.stat_int(shield, "udp_requests_unvalidated") is not None, shield["_raw"][:500]
    assert N.stat_int(shield, "udp_requests_unvalidated") >= 1
    assert N.stat_int(shield, "udp_responses_refused_budget") >= 1
    assert N.stat_int(shield, "udp_dropped_not_a_request") >= ROUNDS  # the unknown command


@pytest.mark.parametrize("factor", [None, 3])
def test_legitimate_victim_with_cookie_within_budget(topo, factor):
    """The victim is a real client: open TCP connection, a TCP-issued cookie and a
    UDP-refreshed cookie. Spoofed requests in its name still stay in budget."""
    port = next(_port)
    args = [] if factor is None else [f"--udp-max-amplification={factor}"]
    f = 1.0 if factor is None else float(factor)
    srv = N.start("memshield", args, ns=topo.ns["srv"], host=topo.ip["srv"], port=port)
    tcp = None
    client = None
    try:
        preload(topo, srv)
        tcp = srv.tcp(ns=topo.ns["vic"])
        client = N.UdpClient((topo.ip["srv"], port), ns=topo.ns["vic"],
                             bind=(topo.ip["vic"], VICTIM_PORT))
        state = {}

        def victim_setup():
            sc = tcp.shield_cookie(client.client_cookie)
            assert sc is not None, "shield cookie over TCP failed"
            state["tcp_cookie"] = sc
            got = client.fetch_cookie_udp(b"get small\r\n", timeout=1.5)
            assert got is not None, "UDP cookie refresh got no cookie reply"
            return client.sent_bytes

        att, vic_tx, rx, cap = measure(topo, srv, port, victim_setup)
        # the TCP connection is still fine, and the victim's own cookie still works
        assert tcp.get("small") == b"s"
        body, _ = client.request(b"get small\r\n", timeout=1.5, cookie=True)
        assert body == b"VALUE small 0 1\r\ns\r\nEND\r\n"
    finally:
        if client:
            client.close()
        if tcp:
            tcp.close()
        srv.kill()
    assert cap.drops == 0
    print(f"memshield factor={f}, cookie-holding victim: attacker {att} B + victim {vic_tx} B,"
          f" victim received {rx} B")
    assert rx <= f * (att + vic_tx), describe(cap, topo)
    assert not [p for p in cap.select(src=topo.ip["srv"]) if b"VALUE big" in p[5]]


def test_spoofed_udp_writes_do_not_change_the_cache(topo):
    port = next(_port)
    srv = N.start("memshield", [f"--allow={topo.ip['att'][:-2]}.0/24"], ns=topo.ns["srv"],
                  host=topo.ip["srv"], port=port)
    try:
        N.udp_alive_check((topo.ip["srv"], port), ns=topo.ns["att"])
        with srv.tcp(ns=topo.ns["att"]) as c:
            assert c.set("k", b"orig") == b"STORED\r\n"
            assert c.set("n", b"10") == b"STORED\r\n"
        writes = [b"set k 0 0 6\r\nhacked\r\n", b"add k2 0 0 1\r\nx\r\n",
                  b"replace k 0 0 1\r\nx\r\n", b"append k 0 0 1\r\nx\r\n",
                  b"prepend k 0 0 1\r\nx\r\n", b"cas k 0 0 1 1\r\nx\r\n", b"incr n 5\r\n",
                  b"decr n 5\r\n", b"touch k 1\r\n", b"gat 1 k\r\n", b"delete n\r\n",
                  b"flush_all\r\n", b"ms k 1 T1\r\nx\r\n", b"md k\r\n"]
        cap = N.Capture(topo.ns["vic"], max_seconds=30)
        try:
            with N.RawSender(topo.ns["att"]) as rs:
                for i, w in enumerate(writes):
                    rs.send(topo.ip["vic"], VICTIM_PORT, topo.ip["srv"], port, N.frame(i, w))
                time.sleep(1.0)
        finally:
            cap.stop()
        with srv.tcp(ns=topo.ns["att"]) as c:
            assert c.get("k") == b"orig"
            assert c.get("n") == b"10"
            assert c.get("k2") is None
            shield = c.stats("shield")
    finally:
        srv.kill()
    assert cap.payload_bytes(src=topo.ip["srv"]) == 0, describe(cap, topo)
    assert N.stat_int(shield, "udp_dropped_write_unvalidated") is not None, shield["_raw"][:500]
    assert N.stat_int(shield, "udp_dropped_write_unvalidated") >= 10


def test_memcached_reference_amplification(topo, capsys):
    """The same attack against Debian's memcached -U: real reflection."""
    port = next(_port)
    srv = N.start("memcached", ["-I", "1m", "-m", "64"], ns=topo.ns["srv"],
                  host=topo.ip["srv"], port=port)
    try:
        preload(topo, srv)
        att, _, rx, cap = measure(topo, srv, port, rounds=1)
    finally:
        srv.kill()
    factor = rx / att
    names = {N.parse_frame(p)[0]: n for n, p in attack_payloads()}
    req_len = {n: len(p) for n, p in attack_payloads()}
    per_kind = {}
    for p in cap.select(src=topo.ip["srv"]):
        f = N.parse_frame(p[5])
        name = names.get(f[0], "?") if f else "?"
        per_kind[name] = per_kind.get(name, 0) + p[4]
    detail = ", ".join(f"{n} {b} B ({b / req_len.get(n, 1):.0f}x)" for n, b in per_kind.items())
    with capsys.disabled():
        print(f"\n[memcached 1.6.18 -U reference] spoofed {att} B in "
              f"{len(attack_payloads())} datagrams -> victim received {rx} B "
              f"({len(cap.select(src=topo.ip['srv']))} datagrams, capture drops "
              f"{cap.drops}): amplification {factor:.0f}x; per request: {detail}")
    assert factor > 10, f"harness saw no reflection from memcached: {rx} B for {att} B"
