"""-S: binary-protocol SASL PLAIN against a user:password file (memcached's MEMCACHED_SASL_PWDB
format, here given with --sasl-pwdb). Raw packets check what works before authentication and
that text is refused; memjs (npm) runs the whole client scenario with credentials.

memshield only: Debian's memcached uses Cyrus SASL and ignores a plain password file; without
one memshield uses Cyrus SASL too (test_sasl_cyrus.py compares it with memcached)."""
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import memshield_only, start_server

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
pytestmark = memshield_only


def pkt(op, key=b"", extras=b"", value=b""):
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0,
                       len(key) + len(extras) + len(value), 0, 0) + extras + key + value


def replies(c, n):
    out = []
    for _ in range(n):
        head = c.read_exact(24)
        _, op, kl, el, _, st, bl, _, _ = struct.unpack(">BBHBBHIIQ", head)
        out.append((op, st, c.read_exact(bl) if bl else b""))
    return out


@pytest.fixture
def sasl_server():
    fd, path = tempfile.mkstemp(prefix="memshield-pwdb-")
    os.write(fd, b"alice:wonder:land\nbob:builder\n")
    os.close(fd)
    srv = start_server(["-S", f"--sasl-pwdb={path}"])
    yield srv
    srv.kill()
    os.unlink(path)


def test_unauthenticated_requests_are_refused(sasl_server):
    with sasl_server.connect() as c:
        c.send(pkt(0x0B) + pkt(0x20) + pkt(0x00, b"k"))
        got = replies(c, 3)
        assert got[0] == (0x0B, 0, b"1.6.18")
        assert got[1] == (0x20, 0, b"PLAIN")
        assert got[2] == (0x00, 0x20, b"Auth failure.")
        assert c.is_closed(2)


def test_plain_auth(sasl_server):
    with sasl_server.connect() as c:
        c.send(pkt(0x21, b"PLAIN", b"", b"\0alice\0wrong") + pkt(0x22, b"PLAIN", b"", b"x") +
               pkt(0x21, b"PLAIN", b"", b"\0alice\0wonder:land") +
               pkt(0x01, b"k", struct.pack(">II", 0, 0), b"v") + pkt(0x00, b"k"))
        got = replies(c, 5)
        assert got[0] == (0x21, 0x20, b"Auth failure.")
        assert got[1] == (0x22, 0x20, b"Auth failure.")
        assert got[2] == (0x21, 0, b"Authenticated")
        assert got[3][1] == 0
        assert got[4] == (0x00, 0, b"\0\0\0\0v")
    stats = {}
    with sasl_server.connect() as c:
        c.send(pkt(0x21, b"PLAIN", b"", b"\0bob\0builder") + pkt(0x10))
        assert replies(c, 1)[0][1] == 0
        while True:
            head = c.read_exact(24)
            kl, bl = struct.unpack(">H", head[2:4])[0], struct.unpack(">I", head[8:12])[0]
            body = c.read_exact(bl) if bl else b""
            if kl == 0:
                break
            stats[body[:kl].decode()] = body[kl:].decode()
    assert stats["auth_cmds"] == "4" and stats["auth_errors"] == "2"


def test_text_protocol_is_refused(sasl_server):
    with sasl_server.connect() as c:
        c.send(b"version\r\nget a_key_long_enough_for_a_header\r\n")
        assert c.is_closed(2)


def test_without_password_file_cyrus_sasl_serves(tmp_path, monkeypatch):
    """No --sasl-pwdb and no $MEMCACHED_SASL_PWDB: -S uses Cyrus SASL as Debian's memcached
    does, configured by memcached.conf in $SASL_CONF_PATH (test_sasl_cyrus.py goes further)."""
    monkeypatch.delenv("MEMCACHED_SASL_PWDB", raising=False)
    (tmp_path / "memcached.conf").write_text(
        f"mech_list: plain\nsasldb_path: {tmp_path / 'db.sasldb'}\n")
    monkeypatch.setenv("SASL_CONF_PATH", str(tmp_path))
    srv = start_server(["-S"])
    try:
        with srv.connect() as c:
            c.send(pkt(0x20))
            assert replies(c, 1) == [(0x20, 0, b"PLAIN")]
            c.send(pkt(0x21, b"PLAIN", value=b"\0alice\0wonder:land"))
            assert replies(c, 1) == [(0x21, 0x20, b"Auth failure.")]
    finally:
        srv.kill()


@pytest.mark.skipif(shutil.which("node") is None or
                    not (CLIENTS_DIR / "node_modules" / "memjs").exists(),
                    reason="needs node and memjs (scripts/deps.sh test)")
def test_memjs_scenario_with_credentials(sasl_server):
    # memjs takes credentials in the server string: user:password@host:port.
    ok = subprocess.run(["node", "node_client.js", f"bob:builder@{sasl_server.host}",
                         str(sasl_server.port)], cwd=CLIENTS_DIR, capture_output=True,
                        text=True, timeout=30)
    assert ok.returncode == 0 and ok.stdout.strip().endswith("PASS 6"), ok.stdout + ok.stderr
    bad = subprocess.run(["node", "node_client.js", f"bob:wrong@{sasl_server.host}",
                          str(sasl_server.port)], cwd=CLIENTS_DIR, capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode != 0 and bad.stdout.startswith("FAIL set_get"), bad.stdout
