"""-Z: TLS on the TCP listeners, with memcached's -o ssl_* options.

Real clients only: `openssl s_client`, Python's ssl module, pymemcache with tls_context. Keys
and certificates are generated at test time (openssl CLI) into a temporary directory. The last
tests run Debian's memcached (built with TLS) with the same flags and compare its answers.
"""

import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (HOST, IS_MEMCACHED, MEMCACHED_BIN, RawConn, free_port, memshield_only,
                      require_binary, root_args, run_binary, start_server, wait_listening)

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def _openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _issue(d, name, cn, ext):
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
             "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=memshield test CA",
             cwd=d)
    san = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    _issue(d, "server", "localhost", san)
    _issue(d, "server2", "localhost-second", san)
    _issue(d, "client", "client", "extendedKeyUsage=clientAuth\n")
    # A certificate from another CA, whose key does not match server.pem.
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=other",
             cwd=d)
    return d


def ssl_opts(certs, *extra, chain="server.pem", key="server.key"):
    opts = [f"ssl_chain_cert={certs / chain}", f"ssl_key={certs / key}", *extra]
    return ["-Z", "-o", ",".join(opts)]


def client_context(certs, client_cert=False, maximum=None):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if client_cert:
        ctx.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def tls_connect(server, ctx, timeout=5.0):
    """A RawConn whose socket speaks TLS (the handshake done)."""
    c = RawConn(server.host, server.port, timeout=timeout)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
    return c


def peer_cert(c):
    return c.sock.getpeercert(binary_form=True)


def der(certs, name):
    return ssl.PEM_cert_to_DER_cert((certs / name).read_text())


def closed_within(sock, seconds):
    """True if the peer closes the connection (EOF or reset) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True
    return False


@pytest.fixture
def tls_server(server_factory, certs):
    return server_factory(*ssl_opts(certs), "-I", "2m")


# --- clients ------------------------------------------------------------------------------


def test_openssl_s_client_set_get(tls_server, certs):
    p = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"{HOST}:{tls_server.port}", "-quiet",
         "-CAfile", str(certs / "ca.pem"), "-verify_return_error"],
        input=b"set k 0 0 5\r\nhello\r\nget k\r\nquit\r\n", stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=20)
    assert p.stdout == b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n", p.stderr[-500:]


def test_python_ssl_client_and_peer_certificate(tls_server, certs):
    with tls_connect(tls_server, client_context(certs)) as c:
        assert peer_cert(c) == der(certs, "server.pem")
        assert c.sock.version() == "TLSv1.3"
        assert c.set("a", "1") == b"STORED\r\n"
        assert c.get("a") == b"1"
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    assert "not supported" not in tls_server.stderr_text()
    assert "no effect" not in tls_server.stderr_text()


def test_pymemcache_with_tls_context(tls_server, certs):
    from pymemcache.client.base import Client
    c = Client((HOST, tls_server.port), tls_context=client_context(certs), connect_timeout=5,
               timeout=10)
    try:
        assert c.set("small", b"value") is True
        assert c.get("small") == b"value"
        big = os.urandom(1 << 20)
        assert c.set("big", big) is True
        assert c.get("big") == big
        assert c.get_many(["small", "big", "missing"]) == {"small": b"value", "big": big}
        assert c.incr("n", 1) is None
        c.set("n", b"41")
        assert c.incr("n", 1) == 42
    finally:
        c.close()


def test_binary_protocol_over_tls(tls_server, certs):
    with tls_connect(tls_server, client_context(certs)) as c:
        c.send(struct.pack(">BBHBBHIIQ", 0x80, 0x0b, 0, 0, 0, 0, 0, 0xabcd, 0))  # VERSION
        header = c.read_exact(24)
        magic, opcode, _, _, _, status, body, opaque, _ = struct.unpack(">BBHBBHIIQ", header)
        assert (magic, opcode, status, opaque) == (0x81, 0x0b, 0, 0xabcd)
        assert c.read_exact(body) == b"1.6.18"


def test_pipelined_gets_over_tls(tls_server, certs):
    with tls_connect(tls_server, client_context(certs)) as c:
        for i in range(100):
            assert c.set(f"k{i}", f"value-{i}" * 20) == b"STORED\r\n"
        c.send(b"".join(b"get k%d\r\n" % (i % 100) for i in range(1000)))
        for i in range(1000):
            v = f"value-{i % 100}".encode() * 20
            expected = b"VALUE k%d 0 %d\r\n%s\r\nEND\r\n" % (i % 100, len(v), v)
            assert c.read_exact(len(expected), timeout=10) == expected, i


def test_large_values_both_ways(tls_server, certs):
    with tls_connect(tls_server, client_context(certs)) as c:
        big = os.urandom((1 << 20) + 12345)
        c.send(b"set big 7 0 %d\r\n%s\r\n" % (len(big), big))
        assert c.readline(timeout=10) == b"STORED\r\n"
        # Several copies in one answer, read slowly: the server meets a full socket buffer.
        c.send(b"get big big big\r\n")
        time.sleep(0.3)
        for _ in range(3):
            assert c.readline(timeout=10) == b"VALUE big 7 %d\r\n" % len(big)
            assert c.read_exact(len(big) + 2, timeout=10) == big + b"\r\n"
        assert c.readline() == b"END\r\n"


def test_back_pressure_with_a_slow_reader(tls_server, certs):
    """Answers beyond the 4 MB high-water mark wait in order while the client does not read."""
    with tls_connect(tls_server, client_context(certs)) as c:
        big = os.urandom(1000 * 1000)
        c.send(b"set big 0 0 %d\r\n%s\r\n" % (len(big), big))
        assert c.readline(timeout=10) == b"STORED\r\n"
        n = 12  # 12 MB of answers
        c.send(b"get big\r\n" * n + b"version\r\n")
        time.sleep(1.0)  # the server fills the socket, then stops reading
        for _ in range(n):
            assert c.readline(timeout=20) == b"VALUE big 0 %d\r\n" % len(big)
            assert c.read_exact(len(big) + 2, timeout=20) == big + b"\r\n"
            assert c.readline(timeout=20) == b"END\r\n"
        assert c.readline(timeout=20) == b"VERSION 1.6.18\r\n"


# --- mutual TLS and versions -------------------------------------------------------------


def _refused(server, ctx):
    """True if a TLS connection with ctx cannot complete a request."""
    try:
        c = tls_connect(server, ctx)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    try:
        c.send(b"version\r\n")
        return closed_within(c.sock, 5)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    finally:
        c.close()


def test_mutual_tls_requires_a_client_certificate(server_factory, certs):
    s = server_factory(*ssl_opts(certs, "ssl_verify_mode=2", f"ssl_ca_cert={certs / 'ca.pem'}"))
    assert _refused(s, client_context(certs))
    with tls_connect(s, client_context(certs, client_cert=True)) as c:
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
        assert c.stats()["ssl_handshake_errors"] == "1"


def test_verify_mode_request_accepts_clients_without_certificate(server_factory, certs):
    s = server_factory(*ssl_opts(certs, "ssl_verify_mode=1", f"ssl_ca_cert={certs / 'ca.pem'}"))
    for ctx in (client_context(certs), client_context(certs, client_cert=True)):
        with tls_connect(s, ctx) as c:
            assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_min_version_tls13_refuses_a_tls12_client(server_factory, certs):
    s = server_factory(*ssl_opts(certs, "ssl_min_version=3"))
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        tls_connect(s, client_context(certs, maximum=ssl.TLSVersion.TLSv1_2)).close()
    with tls_connect(s, client_context(certs)) as c:
        assert c.sock.version() == "TLSv1.3"
        settings = c.stats("settings")
        assert settings["ssl_min_version"] == "tlsv1.3"


def test_default_min_version_accepts_tls12(tls_server, certs):
    with tls_connect(tls_server, client_context(certs, maximum=ssl.TLSVersion.TLSv1_2)) as c:
        assert c.sock.version() == "TLSv1.2"
        assert c.set("x", "y") == b"STORED\r\n"


# --- hostile and broken peers ------------------------------------------------------------


def test_plaintext_client_is_closed_and_others_served(tls_server, certs):
    for request in (b"get foo\r\n", b"\x80\x0b" + b"\0" * 22, b"GET / HTTP/1.0\r\n\r\n"):
        with socket.create_connection((HOST, tls_server.port), timeout=5) as s:
            s.sendall(request)
            assert s.recv(100) == b""  # an orderly close: no alert, no reset, no answer
    with tls_connect(tls_server, client_context(certs)) as c:
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
        stats = c.stats()
        assert stats["ssl_handshake_errors"] == "3"
    assert "not a TLS handshake" not in tls_server.stderr_text()  # only logged at -v


def test_plaintext_refusals_are_logged_rate_limited_at_v(server_factory, certs):
    s = server_factory(*ssl_opts(certs), "-v")
    for _ in range(30):
        with socket.create_connection((HOST, s.port), timeout=5) as sock:
            sock.sendall(b"version\r\n")
            assert closed_within(sock, 5)
    with tls_connect(s, client_context(certs)) as c:
        assert c.stats()["ssl_handshake_errors"] == "30"
    lines = [l for l in s.stderr_text().splitlines() if "not a TLS handshake" in l]
    assert 1 <= len(lines) <= 15, lines


def test_port_check_without_data_is_not_an_error(tls_server, certs):
    for _ in range(5):
        socket.create_connection((HOST, tls_server.port), timeout=5).close()
    with tls_connect(tls_server, client_context(certs)) as c:
        assert c.stats()["ssl_handshake_errors"] == "0"


def test_stalled_handshakes_are_cut_by_request_timeout(server_factory, certs):
    s = server_factory(*ssl_opts(certs), "--request-timeout=2")
    silent = socket.create_connection((HOST, s.port), timeout=5)
    partial = socket.create_connection((HOST, s.port), timeout=5)
    partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01")  # the start of a ClientHello, no more
    start = time.monotonic()
    assert closed_within(partial, 8)
    assert closed_within(silent, 2)
    assert 1.0 <= time.monotonic() - start <= 8
    silent.close()
    partial.close()
    with tls_connect(s, client_context(certs)) as c:  # a real client is not affected
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
        time.sleep(3.2)  # idle between requests is not a stalled handshake
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_client_that_rejects_our_certificate_is_counted(tls_server, certs):
    ctx = ssl.create_default_context(cafile=str(certs / "other.pem"))  # the wrong CA
    with pytest.raises(ssl.SSLError):
        tls_connect(tls_server, ctx)
    with tls_connect(tls_server, client_context(certs)) as c:
        deadline = time.monotonic() + 5
        while c.stats()["ssl_handshake_errors"] != "1" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.stats()["ssl_handshake_errors"] == "1"


# --- certificate reload ------------------------------------------------------------------


@pytest.fixture
def live_files(certs, tmp_path):
    """Certificate and key files the test may replace while the server runs."""
    shutil.copy(certs / "server.pem", tmp_path / "live.pem")
    shutil.copy(certs / "server.key", tmp_path / "live.key")
    return tmp_path


def _replace(live, certs, name):
    for ext in ("pem", "key"):
        tmp = live / f"new.{ext}"
        shutil.copy(certs / f"{name}.{ext}", tmp)
        os.replace(tmp, live / f"live.{ext}")


def _wait_for_cert(server, ctx, want, seconds=5):
    deadline = time.monotonic() + seconds
    while True:
        with tls_connect(server, ctx) as c:
            if peer_cert(c) == want:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_sighup_reloads_certificates_without_dropping_connections(server_factory, certs,
                                                                  live_files):
    s = server_factory("-Z", "-o", f"ssl_chain_cert={live_files / 'live.pem'},"
                                   f"ssl_key={live_files / 'live.key'}")
    ctx = client_context(certs)
    old = tls_connect(s, ctx)
    assert peer_cert(old) == der(certs, "server.pem")
    assert old.set("before", "1") == b"STORED\r\n"
    _replace(live_files, certs, "server2")
    s.signal(signal.SIGHUP)
    assert _wait_for_cert(s, ctx, der(certs, "server2.pem"))
    # The connection opened before the reload keeps its session and keeps working.
    assert old.get("before") == b"1"
    assert old.set("after", "2") == b"STORED\r\n"
    assert peer_cert(old) == der(certs, "server.pem")
    old.close()
    # A broken file on SIGHUP: the current certificate stays, the server keeps serving.
    (live_files / "live.key").write_text("garbage\n")
    s.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "not reloaded" not in s.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "TLS certificates not reloaded: Error loading the key" in s.stderr_text()
    with tls_connect(s, ctx) as c:
        assert peer_cert(c) == der(certs, "server2.pem")
        assert c.get("after") == b"2"


def test_refresh_certs_command(server_factory, certs, live_files):
    key = live_files / "live.key"
    s = server_factory("-Z", "-o", f"ssl_chain_cert={live_files / 'live.pem'},ssl_key={key}")
    ctx = client_context(certs)
    with tls_connect(s, ctx) as c:
        assert c.call(b"refresh_certs\r\n") == b"OK\r\n"
        assert c.call(b"refresh_certs noreply\r\nversion\r\n") == b"VERSION 1.6.18\r\n"
        t0 = int(c.stats()["time_since_server_cert_refresh"])
        assert t0 <= 2
        _replace(live_files, certs, "server2")
        assert c.call(b"refresh_certs\r\n") == b"OK\r\n"
        with tls_connect(s, ctx) as fresh:
            assert peer_cert(fresh) == der(certs, "server2.pem")
        key.write_text("garbage\n")
        line = c.call(b"refresh_certs\r\n")
        assert line.startswith(b"Error loading the key: %s : error:" % str(key).encode()), line
        assert line.endswith(b"\r\n") and line.count(b"\r\n") == 1
        # Errors are sent even with noreply, as memcached does.
        assert c.call(b"refresh_certs noreply\r\n").startswith(b"Error loading the key: ")
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    with tls_connect(s, ctx) as fresh:
        assert peer_cert(fresh) == der(certs, "server2.pem")


def test_refresh_certs_without_tls(server):
    with server.connect() as c:
        assert c.call(b"refresh_certs\r\n") == b"Error TLS not enabled\r\n"
        assert c.call(b"refresh_certs noreply\r\n") == b"Error TLS not enabled\r\n"
        stats = c.stats()
        assert "ssl_handshake_errors" not in stats
        assert "time_since_server_cert_refresh" not in stats
        assert c.stats("settings")["ssl_enabled"] == "no"


# --- flags, listeners, settings ----------------------------------------------------------


def test_stats_settings_show_the_ssl_options(server_factory, certs):
    s = server_factory(*ssl_opts(certs, "ssl_verify_mode=1", f"ssl_ca_cert={certs / 'ca.pem'}",
                                 "ssl_ciphers=HIGH:!aNULL", "ssl_min_version=2"))
    with tls_connect(s, client_context(certs)) as c:
        st = c.stats("settings")
        assert st["ssl_enabled"] == "yes"
        assert st["ssl_chain_cert"] == str(certs / "server.pem")
        assert st["ssl_key"] == str(certs / "server.key")
        assert st["ssl_verify_mode"] == "1"
        assert st["ssl_keyformat"] == "1"
        assert st["ssl_ciphers"] == "HIGH:!aNULL"
        assert st["ssl_ca_cert"] == str(certs / "ca.pem")
        assert st["ssl_min_version"] == "tlsv1.2"
        general = list(c.stats().keys())
        i = general.index("ssl_handshake_errors")
        assert general[i - 1:i + 3] == ["log_watchers", "ssl_handshake_errors",
                                        "time_since_server_cert_refresh", "unexpected_napi_ids"]


def test_notls_listener_stays_plaintext(server_factory, certs):
    plain_port = free_port()
    s = server_factory(*ssl_opts(certs), "-l", f"notls:{HOST}:{plain_port}")
    with RawConn(HOST, plain_port) as c:
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"
    with tls_connect(s, client_context(certs)) as c:
        assert c.call(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_unix_socket_stays_plaintext(certs, tmp_path):
    path = str(tmp_path / "m.sock")
    proc = subprocess.Popen([require_binary(), *root_args(), "-s", path,
                             *ssl_opts(certs)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
            u.settimeout(5)
            u.connect(path)
            u.sendall(b"version\r\n")
            assert u.recv(100) == b"VERSION 1.6.18\r\n"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert b"is not encrypted" in err


@pytest.mark.parametrize("opts,message", [
    (["ssl_chain_cert={d}/missing.pem", "ssl_key={d}/server.key"],
     "Error loading the certificate chain: {d}/missing.pem : error:"),
    (["ssl_chain_cert={d}/server.pem", "ssl_key={d}/missing.key"],
     "Error loading the key: {d}/missing.key : error:"),
    (["ssl_chain_cert={d}/server.pem", "ssl_key={d}/other.key"],
     "Error loading the key: {d}/other.key : error:05800074:x509 certificate routines::key "
     "values mismatch"),
    (["ssl_chain_cert={d}/server.pem", "ssl_key={d}/server.key", "ssl_ca_cert={d}/missing.pem"],
     "Error loading the CA certificate: {d}/missing.pem : "),
    (["ssl_chain_cert={d}/server.pem", "ssl_key={d}/server.key", "ssl_ciphers=BOGUS"],
     "Error setting the provided cipher(s): BOGUS"),
    (["ssl_chain_cert={d}/server.pem", "ssl_key={d}/server.key", "ssl_verify_mode=2"],
     "ssl_verify_mode=2 requires client certificates, but no ssl_ca_cert"),
    (["ssl_chain_cert={d}/server.pem", "ssl_key={d}/server.key", "ssl_verify_mode=4"],
     "Invalid ssl_verify_mode. Use help to see valid options."),
    (["ssl_key={d}/server.key"], "Error loading the certificate chain: (null) : "),
])
@memshield_only
def test_start_up_errors_exit_64(certs, opts, message):
    p = run_binary(["-p", str(free_port()), "-l", HOST, "-Z", "-o",
                    ",".join(o.format(d=certs) for o in opts)])
    assert p.returncode == 64, p.stderr
    assert message.format(d=certs) in p.stderr.decode(), p.stderr


# --- differential: Debian's memcached with the same flags --------------------------------


def _memcached_has_tls():
    try:
        out = subprocess.run([MEMCACHED_BIN, "-h"], capture_output=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--enable-ssl" in out


@pytest.fixture
def both(certs, tmp_path):
    """memshield and memcached side by side, -Z with the same (replaceable) files."""
    if IS_MEMCACHED or not _memcached_has_tls():
        pytest.skip("needs Debian's memcached built with TLS")
    started = []
    for binary, name in ((None, "memshield"), (MEMCACHED_BIN, "memcached")):
        d = tmp_path / name
        d.mkdir()
        shutil.copy(certs / "server.pem", d / "live.pem")
        shutil.copy(certs / "server.key", d / "live.key")
        opts = ["-Z", "-o", f"ssl_chain_cert={d / 'live.pem'},ssl_key={d / 'live.key'}"]
        if binary is None:
            s = start_server(opts)
        else:
            port = free_port()
            proc = subprocess.Popen([binary, *root_args(), "-p", str(port), "-l", HOST, "-U", "0",
                                     *opts], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            assert wait_listening(HOST, port, proc)
            s = type("S", (), {"host": HOST, "port": port, "proc": proc})()
        started.append((s, d))
    yield started
    for s, _ in started:
        if hasattr(s, "kill"):
            s.kill()
        else:
            s.proc.kill()
            s.proc.wait(timeout=5)


def test_same_answers_as_memcached(both, certs):
    ctx = client_context(certs)
    transcripts = []
    for s, d in both:
        out = []
        with tls_connect(s, ctx) as c:
            out.append(c.call(b"refresh_certs\r\n"))
            out.append(c.call(b"refresh_certs noreply\r\nrefresh_certs extra tokens\r\n"))
            out.append(c.call(b"REFRESH_CERTS\r\n"))
            (d / "live.key").write_text("garbage\n")
            # The path differs between the two; the rest of the line must not.
            out.append(c.call(b"refresh_certs\r\n").replace(str(d).encode(), b"DIR"))
            out.append(c.call(b"refresh_certs noreply\r\nversion\r\n",
                              term=b"VERSION 1.6.18\r\n").replace(str(d).encode(), b"DIR"))
            (d / "live.key").write_bytes((certs / "server.key").read_bytes())
            (d / "live.pem").write_text("garbage\n")
            out.append(c.call(b"refresh_certs\r\n").replace(str(d).encode(), b"DIR"))
            settings = c.stats("settings")
            out.append({k: v.replace(str(d), "DIR") for k, v in settings.items()
                        if k.startswith("ssl_")})
            general = c.stats()
            out.append([k for k in general if k.startswith("ssl_") or "cert" in k])
            out.append(c.set("k", "v"))
            out.append(c.get("k"))
        transcripts.append(out)
    assert transcripts[0] == transcripts[1]
    # What the comparison covered, spelled out for the reader:
    assert transcripts[0][0] == b"OK\r\n"
    assert transcripts[0][1] == b"OK\r\n"
    assert transcripts[0][3].startswith(b"Error loading the key: DIR/live.key : error:")
    assert transcripts[0][5].startswith(b"Error loading the certificate chain: DIR/live.pem : ")
