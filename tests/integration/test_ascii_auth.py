"""ASCII authentication (-Y authfile): memcached's gate, answer for answer.

Runs against memshield by default and against memcached with MEMSHIELD_SERVER=memcached; the
test at the end also starts both side by side and compares whole transcripts byte for byte.
Every exchange sends one piece, waits for the answer and only then sends the next: memcached
drops what an unauthenticated client pipelined behind a refused line, so only step-by-step
transcripts are deterministic.
"""

import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import (HOST, IS_MEMCACHED, MEMCACHED_BIN, free_port, memshield_only,
                      run_binary, start_server, wait_listening)

USERS = b"alice:secret\nbob:pw2\ncarol:a:b\n"

UNAUTH = b"CLIENT_ERROR unauthenticated\r\n"
FAILURE = b"CLIENT_ERROR authentication failure\r\n"
BAD_FORMAT = b"CLIENT_ERROR bad authentication token format\r\n"
BAD_TERM = b"CLIENT_ERROR bad command line termination\r\n"


@pytest.fixture
def authfile(tmp_path):
    p = tmp_path / "auth"
    p.write_bytes(USERS)
    return p


@pytest.fixture
def auth_server(server_factory, authfile):
    return server_factory("-Y", str(authfile))


def auth(c, token):
    return c.request(b"set k 0 0 %d\r\n%s\r\n" % (len(token), token), b"STORED\r\n")


def step(c, data, timeout=0.25):
    c.send(data)
    return c.read_available(timeout)


def test_every_command_refused_before_auth(auth_server):
    with auth_server.connect() as c:
        for cmd in [b"version", b"get k", b"stats", b"quit", b"flush_all", b"mn", b"SET k 0 0 1",
                    b"set k 0 0 -1", b"set k 0 0 abc", b"set k 0 0", b"add k 0 0 12", b""]:
            assert step(c, cmd + b"\r\n") == UNAUTH, cmd
        assert not c.is_closed(0.1)


def test_success_then_normal_service(auth_server):
    with auth_server.connect() as c:
        assert auth(c, b"alice secret") == b"STORED\r\n"
        assert c.request(b"version\r\n", b"VERSION 1.6.18\r\n").startswith(b"VERSION ")
        assert c.set("k", "v") == b"STORED\r\n"
        assert c.get("k") == b"v"
    with auth_server.connect() as c:  # the auth "set" stores nothing
        assert auth(c, b"carol a:b") == b"STORED\r\n"  # password split at the first ':'
        assert c.get("nothing") is None


@pytest.mark.parametrize("token,answer", [
    (b"alice wrong", FAILURE),
    (b"alice secret2", FAILURE),
    (b"mallory secret", FAILURE),
    (b"bob secret", FAILURE),
    (b"alice secret\r", FAILURE),
    (b"alicesecret", BAD_FORMAT),
    (b"alice ", BAD_FORMAT),
    (b" alice", BAD_FORMAT),
    (b"", BAD_FORMAT),
    (b"alice  secret", b"STORED\r\n"),
    (b"alice secret bob", b"STORED\r\n"),
    (b"alice secret ", b"STORED\r\n"),
])
def test_token_answers(auth_server, token, answer):
    with auth_server.connect() as c:
        assert step(c, b"set k 0 0 %d\r\n" % len(token)) == b""
        assert step(c, token + b"\r\n") == answer
        expect = b"VERSION 1.6.18\r\n" if answer == b"STORED\r\n" else UNAUTH
        assert step(c, b"version\r\n") == expect


@pytest.mark.parametrize("data", [b"alice secretXX", b"alice secret\nX", b"alice secretX\n"])
def test_bad_termination(auth_server, data):
    with auth_server.connect() as c:
        assert step(c, b"set k 0 0 12\r\n") == b""
        assert step(c, data) == BAD_TERM
        assert step(c, b"version\r\n") == UNAUTH


def test_noreply_is_ignored(auth_server):
    with auth_server.connect() as c:
        assert step(c, b"set k 0 0 12 noreply\r\nalice secret\r\n") == b"STORED\r\n"


def test_refused_line_drops_pipelined_rest(auth_server):
    with auth_server.connect() as c:
        assert step(c, b"get a\r\nversion\r\nversion\r\n") == UNAUTH
        assert step(c, b"version\r\n") == UNAUTH


def test_counters(auth_server):
    with auth_server.connect() as c:
        assert step(c, b"set k 0 0 11\r\nalice wrong\r\n") == FAILURE
        assert step(c, b"set k 0 0 11\r\nalicesecret\r\n") == BAD_FORMAT  # not counted
        assert auth(c, b"bob pw2") == b"STORED\r\n"
        st = c.stats()
        settings = c.stats("settings")
    assert st["auth_cmds"] == "2"
    assert st["auth_errors"] == "1"
    assert settings["auth_enabled_ascii"] == "yes"


def test_long_line_without_newline_closes(auth_server):
    with auth_server.connect() as c:
        c.send(b"g" * 3000)
        assert c.is_closed(2.0)


def test_token_split_across_packets(auth_server):
    with auth_server.connect() as c:
        for piece in [b"set k 0 ", b"0 12\r", b"\nali", b"ce sec", b"ret\r", b"\n"]:
            c.send(piece)
            time.sleep(0.02)
        assert c.read_available(0.4) == b"STORED\r\n"


def test_missing_file_stops_startup(tmp_path):
    missing = tmp_path / "nope"
    r = run_binary(["-p", str(free_port()), "-l", HOST, "-U", "0", "-Y", str(missing)])
    assert r.returncode == 1
    assert (b"Could not open authfile [%s] for reading, error No such file or directory"
            % str(missing).encode()) in r.stderr


@pytest.mark.parametrize("text", [b"nocolon\n", b"alice:secret\r\n", b"alice:secret\n\nbob:x\n"])
def test_malformed_file_stops_startup(tmp_path, text):
    p = tmp_path / "auth"
    p.write_bytes(text)
    r = run_binary(["-p", str(free_port()), "-l", HOST, "-U", "0", "-Y", str(p)], timeout=5)
    assert r.returncode == 1
    assert b"has a malformed entry. Should be 'user:password'" in r.stderr


def test_empty_file_nobody_gets_in(server_factory, tmp_path):
    p = tmp_path / "auth"
    p.write_bytes(b"")
    srv = server_factory("-Y", str(p))
    with srv.connect() as c:
        assert step(c, b"set k 0 0 12\r\nalice secret\r\n") == FAILURE


# --- memshield's own ---------------------------------------------------------------------------

@memshield_only
def test_oversized_token_refused_after_its_data(auth_server):
    with auth_server.connect() as c:
        token = b"alice secret" + b" " * 10000
        assert step(c, b"set k 0 0 %d\r\n%s\r\n" % (len(token), token)) == BAD_FORMAT
        assert auth(c, b"alice secret") == b"STORED\r\n"


@memshield_only
def test_sighup_reloads_file(auth_server, authfile):
    authfile.write_bytes(b"dave:newpw\n")
    auth_server.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while True:
        with auth_server.connect() as c:
            answer = step(c, b"set k 0 0 10\r\ndave newpw\r\n")
        if answer == b"STORED\r\n" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer == b"STORED\r\n"
    with auth_server.connect() as c:
        assert step(c, b"set k 0 0 12\r\nalice secret\r\n") == FAILURE
    # A broken file on SIGHUP keeps the old table.
    authfile.write_bytes(b"broken\n")
    auth_server.signal(signal.SIGHUP)
    time.sleep(0.3)
    with auth_server.connect() as c:
        assert step(c, b"set k 0 0 10\r\ndave newpw\r\n") == b"STORED\r\n"
    assert auth_server.proc.poll() is None


@memshield_only
def test_udp_never_answered(server_factory, authfile):
    port = free_port()
    srv = server_factory("-Y", str(authfile), "-U", str(port), port=port, udp_off=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(0.5)
        u.sendto(b"\x00\x01\x00\x00\x00\x01\x00\x00version\r\n", (HOST, port))
        with pytest.raises(socket.timeout):
            u.recvfrom(2048)
    with srv.connect() as c:  # TCP still works
        assert auth(c, b"alice secret") == b"STORED\r\n"


SCRIPT = [
    [b"version\r\n", b"version\r\n"],
    [b"set k 0 0 11\r\n", b"alice wrong\r\n", b"version\r\n"],
    [b"set k 0 0 11\r\n", b"alicesecret\r\n", b"version\r\n"],
    [b"set k 0 0 12\r\n", b"alice secretXX", b"version\r\n"],
    [b"set k 0 0 12 noreply\r\nalice secret\r\n", b"get k\r\n", b"version\r\n"],
    [b"set k 0 0 13\r\n", b"alice  secret\r\n", b"set a 0 0 1\r\nx\r\n", b"get a\r\n"],
    [b"get a b c\r\nversion\r\n", b"stats detail dump\r\n"],
    [b"set k 0 0 -1\r\n", b"mn\r\n", b"quit\r\n"],
]


def transcript(port):
    out = []
    for conv in SCRIPT:
        with socket.create_connection((HOST, port), timeout=2) as s:
            for piece in conv:
                s.sendall(piece)
                time.sleep(0.1)
                s.settimeout(0.25)
                got = b""
                try:
                    while True:
                        d = s.recv(65536)
                        if not d:
                            got += b"<EOF>"
                            break
                        got += d
                except socket.timeout:
                    pass
                out.append((piece, got))
    return out


@memshield_only
@pytest.mark.skipif(not os.access(MEMCACHED_BIN, os.X_OK), reason="no /usr/bin/memcached")
def test_differential_against_memcached(auth_server, authfile):
    port = free_port()
    args = [MEMCACHED_BIN, "-p", str(port), "-l", HOST, "-U", "0", "-Y", str(authfile)]
    if os.geteuid() == 0:
        args[1:1] = ["-u", "root"]
    mc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        assert wait_listening(HOST, port, mc)
        theirs = transcript(port)
    finally:
        mc.kill()
        mc.wait(timeout=5)
    ours = transcript(auth_server.port)
    assert ours == theirs
