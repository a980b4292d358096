"""Issue 3: no UDP loop DoS between servers (CVE-2024-2169 class).

One private namespace; two servers on its loopback (ports PA, PB). A raw socket
injects a datagram to A whose source is B's address and port (only possible
with spoofing, hence the namespace). memshield never answers what is not a
request, nor datagrams from ports < 1024 or from its own port, so any exchange
dies at once. The memcached-only pair shows the harness sees a real loop.
Every server is killed after a bounded time; the namespace is always deleted.
"""

import time

import pytest

import netns as N

LO = "127.0.0.1"
PA, PB = 11211, 11212
WATCH = 2.0

NOT_REQUESTS = [b"ERROR\r\n", b"STORED\r\n", b"END\r\n", b"VALUE x 0 1\r\nx\r\nEND\r\n",
                b"VERSION 1.6.18\r\n", b"SERVER_ERROR out of memory\r\n",
                b"CLIENT_ERROR bad command line format\r\n", b"NOT_FOUND\r\n",
                b"STAT pid 1\r\nEND\r\n", b"frobnicate\r\n", b"HD\r\n", b"EN\r\n"]


@pytest.fixture
def ns():
    N.skip_without_netns()
    with N.Topology(("loop",), bridged=False) as t:
        yield t.ns["loop"]


def trusted_memshield(ns, port):
    return N.start("memshield", ["--udp-trust=127.0.0.0/8"], ns=ns, host=LO, port=port)


def control_version(ns, port):
    """A trusted client on an ordinary port gets `version` answered: UDP is live."""
    with N.UdpClient((LO, port), ns=ns) as c:
        body, _ = c.request(b"version\r\n", timeout=1.5)
    assert body is not None and body.startswith(b"VERSION "), \
        f"memshield on UDP {port} did not answer a trusted version request: {body!r}"


def inject(ns, pairs, settle=WATCH):
    """pairs: (src_port, dst_port, payload); returns the capture after settle."""
    cap = N.Capture(ns, max_seconds=30)
    try:
        with N.RawSender(ns) as rs:
            for i, (sp, dp, payload) in enumerate(pairs):
                rs.send(LO, sp, LO, dp, N.frame(0x100 + i, payload))
        time.sleep(settle)
    finally:
        cap.stop()
    return cap


def test_memshield_pair_never_answers_replies(ns):
    a = trusted_memshield(ns, PA)
    b = trusted_memshield(ns, PB)
    try:
        control_version(ns, PA)
        control_version(ns, PB)
        pairs = [(PB, PA, p) for p in NOT_REQUESTS] + [(PA, PB, p) for p in NOT_REQUESTS]
        cap = inject(ns, pairs)
        with a.tcp() as c:
            sa = c.stats("shield")
        with b.tcp() as c:
            sb = c.stats("shield")
    finally:
        a.kill()
        b.kill()
    from_servers = cap.select(sport=PA, spoofed=False) + cap.select(sport=PB, spoofed=False)
    assert from_servers == [], f"servers sent {len(from_servers)} datagrams: {from_servers[:5]}"
    assert len(cap.select(dport=PA, spoofed=True)) == len(NOT_REQUESTS)  # capture works
    assert len(cap.select(dport=PB, spoofed=True)) == len(NOT_REQUESTS)
    for s in (sa, sb):
        assert N.stat_int(s, "udp_dropped_not_a_request") is not None, s["_raw"][:500]
        assert N.stat_int(s, "udp_dropped_not_a_request") >= len(NOT_REQUESTS) - 1


def test_memshield_and_memcached_exchange_dies_out(ns):
    a = trusted_memshield(ns, PA)
    b = N.start("memcached", [], ns=ns, host=LO, port=PB)
    try:
        control_version(ns, PA)
        # memcached B gets an unknown command "from A" and answers ERROR to A;
        # A gets a reply "from B" and must answer nothing.
        cap = inject(ns, [(PA, PB, b"frobnicate\r\n"), (PB, PA, b"ERROR\r\n")])
        with a.tcp() as c:
            sa = c.stats("shield")
    finally:
        a.kill()
        b.kill()
    b_to_a = cap.select(sport=PB, dport=PA, spoofed=False)
    a_to_b = cap.select(sport=PA, dport=PB, spoofed=False)
    print(f"memcached->memshield {len(b_to_a)} datagrams, memshield->memcached {len(a_to_b)}")
    assert len(b_to_a) == 1, f"memcached should answer ERROR exactly once: {b_to_a}"
    assert b"ERROR" in b_to_a[0][5]
    assert a_to_b == [], f"memshield answered memcached: {a_to_b[:3]}"
    assert N.stat_int(sa, "udp_dropped_not_a_request") >= 2, sa["_raw"][:500]


def test_memcached_pair_loops_reference(ns, capsys):
    """Reference: two memcached -U ping-pong ERROR forever (bounded here to 1 s)."""
    a = N.start("memcached", [], ns=ns, host=LO, port=PA)
    b = N.start("memcached", [], ns=ns, host=LO, port=PB)
    try:
        cap = N.Capture(ns, max_seconds=10)
        try:
            with N.RawSender(ns) as rs:
                rs.send(LO, PB, LO, PA, N.frame(1, b"frobnicate\r\n"))
            time.sleep(1.0)
        finally:
            a.kill()
            b.kill()
            time.sleep(0.1)
            cap.stop()
    finally:
        a.kill()
        b.kill()
    n = len(cap.select(spoofed=False, sport=PA)) + len(cap.select(spoofed=False, sport=PB))
    with capsys.disabled():
        print(f"\n[memcached 1.6.18 -U reference] one spoofed datagram -> {n} datagrams "
              f"between two memcached servers in 1 s (stopped by killing them)")
    assert n > 100


@pytest.mark.parametrize("sport", [53, 123, 1023, 0])
def test_privileged_source_ports_dropped(ns, sport):
    a = trusted_memshield(ns, PA)
    try:
        control_version(ns, PA)
        cap = inject(ns, [(sport, PA, b"version\r\n"), (40000, PA, b"version\r\n")],
                     settle=1.0)
    finally:
        a.kill()
    assert cap.select(sport=PA, dport=sport, spoofed=False) == [], f"answered source port {sport}"
    ctl = cap.select(sport=PA, dport=40000, spoofed=False)
    assert len(ctl) == 1 and b"VERSION" in ctl[0][5], f"control from port 40000: {ctl}"


def test_own_port_source_dropped(ns):
    a = trusted_memshield(ns, PA)
    try:
        control_version(ns, PA)
        cap = inject(ns, [(PA, PA, b"version\r\n"), (PA, PA, b"get x\r\n")], settle=1.0)
    finally:
        a.kill()
    assert cap.select(sport=PA, spoofed=False) == [], "answered a datagram from its own port"
    assert len(cap.select(dport=PA, spoofed=True)) == 2
