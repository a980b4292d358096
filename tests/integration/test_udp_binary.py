"""Binary-protocol requests over UDP (issue 15).

memcached 1.6.18 answers binary requests over UDP: the 8-byte frame header, then the binary
response, one framed message per request. memshield does the same for proven sources (a
--udp-trust network or a server cookie), byte for byte against memcached, and applies text's
rules to everyone else: writes and admin opcodes dropped, reads answered only within the
amplification budget (never more bytes than the source sent), no refusal notice.
"""

import functools
import os
import struct

import pytest

import netns as N

LO = "127.0.0.1"


def breq(opcode, key=b"", extras=b"", value=b"", opaque=0, cas=0):
    return struct.pack("!BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0, 0,
                       len(extras) + len(key) + len(value), opaque, cas) + extras + key + value


def set_req(key, value, flags=0, opcode=0x01):
    return breq(opcode, key, struct.pack("!II", flags, 0), value, opaque=0x55)


def incr_req(key, by, initial=0, exptime=0):
    return breq(0x05, key, struct.pack("!QQI", by, initial, exptime), opaque=7)


def normalise(dgram, rid):
    """Request ids are the client's (checked, then dropped); the CAS (bytes 16-24 of the binary
    header, after the 8-byte frame) may differ between servers."""
    assert struct.unpack("!H", dgram[:2])[0] == rid
    return dgram[2:8 + 16] + b"<cas....>" + dgram[8 + 24:] if len(dgram) >= 32 else dgram[2:]


@pytest.fixture
def servers():
    with N.server_pool() as start_one:
        yield functools.partial(start_one, host=LO)


SCRIPT = [
    ("set", set_req(b"aval", b"1", flags=5)),
    ("set_big", set_req(b"bval", b"abcd" * 1024)),
    ("get", breq(0x00, b"aval", opaque=9)),
    ("getk", breq(0x0C, b"bval", opaque=10)),
    ("get_miss", breq(0x00, b"nope", opaque=11)),
    ("incr", incr_req(b"aval", 4)),
    ("decr", breq(0x06, b"aval", struct.pack("!QQI", 1, 0, 0))),
    ("incr_create", incr_req(b"ctr", 1, initial=42)),
    ("add_exists", set_req(b"aval", b"x", opcode=0x02)),
    ("delete", breq(0x04, b"aval")),
    ("delete_miss", breq(0x04, b"aval")),
    ("version", breq(0x0B)),
    ("noop", breq(0x0A)),
    ("batch_set_getk_noop", set_req(b"k", b"val") + breq(0x0C, b"k") + breq(0x0A)),
]


def test_trusted_binary_over_udp_identical_to_memcached(servers):
    ms = servers("memshield", "--udp-trust=127.0.0.0/8")
    mc = servers("memcached")
    got = {}
    for name, srv in (("memcached", mc), ("memshield", ms)):
        answers = []
        with N.UdpClient((LO, srv.port)) as u:
            for step, payload in SCRIPT:
                rid = u.next_id()
                u.send_raw(N.frame(rid, payload))
                dgrams = u.recv_all(timeout=0.4)
                answers.append((step, [normalise(d, rid) for d in dgrams]))
        got[name] = answers
    for (step, want), (_, have) in zip(got["memcached"], got["memshield"]):
        assert want, f"memcached did not answer {step}"
        assert have == want, step


def test_unproven_source_gets_no_writes_no_admin_and_no_amplification(servers):
    ms = servers("memshield")
    with ms.tcp() as c:
        assert c.set("small", b"s") == b"STORED\r\n"
        assert c.set("big", os.urandom(4000)) == b"STORED\r\n"
    with N.UdpClient((LO, ms.port)) as u:
        for payload in (set_req(b"w", b"x"), breq(0x04, b"small"), breq(0x10),
                        breq(0x08), breq(0x07), breq(0x50), breq(0x00, b"small")[:-1]):
            u.send_raw(N.frame(u.next_id(), payload))
            assert u.recv_all(timeout=0.3) == [], payload
        # A read whose answer fits what this source has sent is answered...
        get_small = N.frame(u.next_id(), breq(0x00, b"small"))
        u.send_raw(get_small)
        dgrams = u.recv_all(timeout=0.5)
        assert len(dgrams) == 1
        assert dgrams[0][8:10] == b"\x81\x00" and dgrams[0][-1:] == b"s"
        assert len(dgrams[0]) <= len(get_small)
        # ... one that would amplify is withheld, without a text notice.
        u.send_raw(N.frame(u.next_id(), breq(0x00, b"big")))
        assert u.recv_all(timeout=0.5) == []
    with ms.tcp() as c:
        assert c.get("w") is None, "an unproven binary write was executed"
        assert c.get("small") == b"s", "an unproven binary delete was executed"
        st = c.stats("shield")
    assert N.stat_int(st, "udp_dropped_write_unvalidated") >= 2
    assert N.stat_int(st, "udp_dropped_admin") >= 3


def test_cookie_proven_source_may_write_over_binary(servers):
    ms = servers("memshield")
    with ms.tcp() as c:
        with N.UdpClient((LO, ms.port)) as u:
            u.server_cookie = c.shield_cookie(u.client_cookie)
            assert u.server_cookie is not None
            body, _ = u.request(set_req(b"ck", b"abc"), cookie=True)
            assert body is not None and body[:2] == b"\x81\x01" and body[6:8] == b"\0\0"
            body, _ = u.request(breq(0x00, b"ck"), cookie=True)
            assert body is not None and body.endswith(b"abc")
        assert c.get("ck") == b"abc"
