"""Meta commands over UDP behind the guard: an mg without side-effect flags is a read and is
served to an unvalidated source; ms/md/ma and an mg with N/T/R/I are writes (dropped unless the
source proved its address); me is an admin command (never answered)."""
import functools

import pytest

import netns as N

LO = "127.0.0.1"


@pytest.fixture
def servers():
    """servers(kind, *args, host=LO): a listening memshield or memcached, killed after the test."""
    with N.server_pool() as start_one:
        yield functools.partial(start_one, host=LO)


def test_unvalidated_meta_writes_dropped_reads_served(servers):
    ms = servers("memshield")
    with ms.tcp() as c:
        c.send(b"set mk 0 0 2\r\nhi\r\n")
        assert c.read_until(b"\r\n") == b"STORED\r\n"
    writes = [b"ms mk 2\r\nzz\r\n", b"ms mk2 2 T0\r\nzz\r\n", b"md mk\r\n", b"md mk I\r\n",
              b"ma mk N0\r\n", b"mg mk N30 v\r\n", b"mg mk T30 v\r\n", b"mg mk R30 v\r\n",
              b"mg mk I v\r\n", b"mn\r\nms mk 2\r\nzz\r\n"]
    with N.UdpClient((LO, ms.port)) as u:
        for w in writes:
            u.send_raw(N.frame(u.next_id(), w))
        got = u.recv_all(timeout=0.5)
        assert got == [], f"a meta write was answered over UDP: {got[0][:80]!r}"
        u.send_raw(N.frame(u.next_id(), b"me mk\r\n"))
        assert u.recv_all(timeout=0.3) == [], "me answered over UDP"
        body, _ = u.request(b"mg mk v k\r\nmn\r\n", timeout=1.0)
        assert body == b"VA 2 kmk\r\nhi\r\nMN\r\n"
    with ms.tcp() as c:
        c.send(b"mg mk v\r\nmg mk2 v\r\n")
        assert c.read_until(b"EN\r\n") == b"VA 2\r\nhi\r\nEN\r\n", "a dropped write was executed"
        st = c.stats("shield")
    assert N.stat_int(st, "udp_dropped_write_unvalidated") >= len(writes), st["_raw"][:500]
    assert N.stat_int(st, "udp_dropped_admin") >= 1, st["_raw"][:500]


def test_trusted_meta_set_served(servers):
    ms = servers("memshield", "--udp-trust=127.0.0.0/8")
    with N.UdpClient((LO, ms.port)) as u:
        body, _ = u.request(b"ms tk 2 T0\r\nhi\r\nmg tk v\r\n")
        assert body == b"HD\r\nVA 2\r\nhi\r\n"
        body, _ = u.request(b"ms tk 5\r\nhi\r\n")  # data block cut short: not a request
        assert body is None
