"""-S with Cyrus SASL, side by side with Debian's memcached (issue 15).

A sasldb written by `saslpasswd2 -a memcached -c -f <db> user` and a SASL_CONF_PATH directory
holding memcached.conf (mech_list, sasldb_path) configure both servers identically. A binary
client (python3-binary-memcached, PLAIN) and raw packets (PLAIN, CRAM-MD5 over SASL_STEP, wrong
passwords, unknown mechanisms, a step before any start) must get the same answers from both;
memshield also under its seccomp sandbox (libsasl2 reads the sasldb at every authentication).
"""
import hashlib
import hmac
import re
import shutil
import socket
import struct
import subprocess

import pytest

import netns as N

LO = "127.0.0.1"
USER, PASSWORD = "cyrususer", "s3cret pass"
REALM_USER, REALM, REALM_PASSWORD = "ruser", "memcached.realm", "realmpw"

pytestmark = pytest.mark.skipif(shutil.which("saslpasswd2") is None,
                                reason="needs sasl2-bin (scripts/deps.sh test)")


def pkt(op, key=b"", extras=b"", value=b"", opaque=0):
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0,
                       len(key) + len(extras) + len(value), opaque, 0) + extras + key + value


def read_reply(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            d = sock.recv(n - len(buf))
            if not d:
                raise ConnectionError("closed")
            buf += d
        return buf
    _, op, kl, el, _, st, bl, opaque, _ = struct.unpack(">BBHBBHIIQ", exact(24))
    body = exact(bl)
    return op, st, body[:el], body[el:el + kl], body[el + kl:]


def converse(port, steps):
    """Each step: bytes, or a function of the previous reply returning bytes. Returns replies."""
    out = []
    with socket.create_connection((LO, port), timeout=5) as s:
        for step in steps:
            s.sendall(step(out[-1]) if callable(step) else step)
            out.append(read_reply(s))
    return out


def cram_response(user, password):
    def make(reply):
        challenge = reply[4]
        digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest().encode()
        return pkt(0x22, b"CRAM-MD5", value=user.encode() + b" " + digest)
    return make


def plain(user, password, op=0x21):
    return pkt(op, b"PLAIN", value=b"\0" + user.encode() + b"\0" + password.encode())


@pytest.fixture(scope="module")
def sasl_conf(tmp_path_factory):
    d = tmp_path_factory.mktemp("sasl")
    db = d / "memcached.sasldb"
    (d / "memcached.conf").write_text(f"mech_list: plain cram-md5\nsasldb_path: {db}\n")
    for args, pw in ((["-a", "memcached", "-c", "-p", "-f", str(db), USER], PASSWORD),
                     (["-a", "memcached", "-c", "-p", "-f", str(db), "-u", REALM, REALM_USER],
                      REALM_PASSWORD)):
        subprocess.run(["saslpasswd2", *args], input=pw.encode(), check=True)
    return d


@pytest.fixture(scope="module")
def trio(sasl_conf):
    """memcached, memshield, and memshield under --seccomp: all -S, same SASL_CONF_PATH."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SASL_CONF_PATH", str(sasl_conf))
    mp.delenv("MEMCACHED_SASL_PWDB", raising=False)
    procs = []
    try:
        procs.append(N.start("memcached", ["-S"], host=LO, udp=False))
        procs.append(N.start("memshield", ["-S"], host=LO, udp=False))
        procs.append(N.start("memshield", ["-S", "--seccomp"], host=LO, udp=False))
        yield procs
    finally:
        for p in procs:
            p.kill()
        mp.undo()


SCRIPTS = {
    "list_mechs": [pkt(0x20)],
    "plain_ok_then_commands": [plain(USER, PASSWORD), pkt(0x01, b"k", b"\0" * 8, b"v"),
                               pkt(0x00, b"k"), pkt(0x0B)],
    "plain_wrong_password": [plain(USER, "nope"), pkt(0x0B)],
    "plain_unknown_user": [plain("nobody", PASSWORD)],
    "plain_with_realm": [plain(f"{REALM_USER}@{REALM}", REALM_PASSWORD)],
    "plain_no_initial_response": [pkt(0x21, b"PLAIN")],
    "cram_ok_then_get": [pkt(0x21, b"CRAM-MD5"), cram_response(USER, PASSWORD), pkt(0x00, b"k")],
    "cram_wrong_password": [pkt(0x21, b"CRAM-MD5"), cram_response(USER, "nope")],
    "unknown_mechanism": [pkt(0x21, b"DIGEST-MD5")],
    "mechanism_name_too_long": [pkt(0x21, b"X" * 40, value=b"\0a\0b"), pkt(0x0B)],
    "step_before_start": [plain(USER, PASSWORD, op=0x22)],
    "failed_reauth_ends_authentication": [plain(USER, PASSWORD), plain(USER, "nope"),
                                          pkt(0x00, b"k")],
}


def normalise(replies):
    """CRAM-MD5 challenges are random: compare their shape, not their digits."""
    out = []
    for op, st, ex, key, val in replies:
        if st == 0x21 and val:
            assert re.fullmatch(rb"<\d+\.\d+@[^>]+>", val), val
            val = b"<challenge>"
        out.append((op, st, ex, key, val))
    return out


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_answers_as_memcached(trio, name):
    mc, ms, ms_sandboxed = trio
    want = normalise(converse(mc.port, SCRIPTS[name]))
    for srv in (ms, ms_sandboxed):
        assert normalise(converse(srv.port, SCRIPTS[name])) == want, name
        assert srv.proc.poll() is None, "memshield died (sandbox?)"


def test_binary_memcached_client_plain(trio):
    bmemcached = pytest.importorskip("bmemcached")
    outcomes = []
    for srv in trio:
        good = bmemcached.Client([f"{LO}:{srv.port}"], USER, PASSWORD)
        try:
            assert good.set("bm", "value")
            assert good.get("bm") == "value"
        finally:
            good.disconnect_all()
        bad = bmemcached.Client([f"{LO}:{srv.port}"], USER, "wrong")
        try:
            with pytest.raises(bmemcached.exceptions.MemcachedException) as e:
                bad.get("bm")
            outcomes.append(str(e.value))
        finally:
            bad.disconnect_all()
    assert "Auth failure." in outcomes[0]
    assert outcomes == [outcomes[0]] * 3


def test_auth_counters_match(trio):
    mc, ms, _ = trio
    counts = {}
    for srv in (mc, ms):
        with socket.create_connection((LO, srv.port), timeout=5) as s:
            s.sendall(plain(USER, PASSWORD))
            read_reply(s)
            s.sendall(pkt(0x10))
            stats = {}
            while True:
                _, _, _, key, val = read_reply(s)
                if not key:
                    break
                stats[key] = val
        counts[srv] = (int(stats[b"auth_cmds"]) > 0, int(stats[b"auth_errors"]) > 0)
    assert counts[mc] == counts[ms]
