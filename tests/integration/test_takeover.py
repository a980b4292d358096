"""Takeover (--takeover=PATH): a new memshield takes the listening sockets, the cache (with -e)
and the open connections of the running one, which exits. Persistent clients (raw sockets and
pymemcache) keep working through it with no error and no reset, items survive, connects made
during it succeed, a second takeover at the same time is refused, and a takeover whose new
process goes away before the handoff leaves the old one serving."""

import os
import shutil
import socket
import tempfile
import threading
import time

import pytest
from pymemcache.client.base import Client as PymClient

from conftest import IS_MEMCACHED, start_server

pytestmark = pytest.mark.skipif(IS_MEMCACHED, reason="memshield's own feature")

DEADLINE = 25.0  # every wait below is bounded by this many seconds


@pytest.fixture
def workdir():
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    d = tempfile.mkdtemp(prefix="memshield-takeover-", dir=base)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.kill()


def wait_exit(srv, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return srv.proc.returncode
        time.sleep(0.02)
    raise AssertionError(f"pid {srv.pid} did not exit:\n{srv.stderr_text()}")


def wait_for(cond, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def stat_value(conn, name):
    for k, v in conn.stats().items():
        if k == name:
            return v
    return None


class Looper(threading.Thread):
    """One persistent raw connection doing set/get with every reply checked, until stopped."""

    def __init__(self, srv, tag, allow_miss=False):
        super().__init__(daemon=True)
        self.allow_miss = allow_miss  # without -e the cache starts empty in the new process
        self.conn = srv.connect(timeout=DEADLINE)
        self.tag = tag
        self.stop = threading.Event()
        self.errors = []
        self.done = 0

    def run(self):
        i = 0
        deadline = time.monotonic() + 60
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                key = b"%s-%d" % (self.tag, i % 50)
                value = b"v%d-%d" % (i, i * 7)
                if self.conn.set(key, value) != b"STORED\r\n":
                    self.errors.append("set failed")
                    return
                got = self.conn.get(key)
                if got != value and not (got is None and self.allow_miss):
                    self.errors.append(f"get {key!r}: {got!r} != {value!r}")
                    return
                i += 1
                self.done += 1
        except Exception as e:  # a reset or a timeout is exactly what must not happen
            self.errors.append(repr(e))


class Connector(threading.Thread):
    """New connections, one after another, each asking `version`, until stopped."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.stop = threading.Event()
        self.errors = []
        self.done = 0

    def run(self):
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                with self.srv.connect(timeout=DEADLINE) as c:
                    line = c.call(b"version\r\n")
                    if not line.startswith(b"VERSION "):
                        self.errors.append(repr(line))
                        return
                self.done += 1
            except Exception as e:
                self.errors.append(repr(e))
                return
            time.sleep(0.01)


def start_new(old, servers, args):
    """The new process: the same flags and port, plus --takeover (already in args)."""
    new = start_server(args, port=old.port, wait=False)
    servers.append(new)
    return new


def check_handover(old, new, control):
    try:
        rc = wait_exit(old)
    except AssertionError as e:
        raise AssertionError(f"{e}\nthe new process:\n{new.stderr_text()}") from None
    assert rc == 0, old.stderr_text()
    assert "handed over" in old.stderr_text()
    # The new process serves and listens on the control socket for the next takeover.
    wait_for(lambda: os.path.exists(control), "the control socket")
    assert new.proc.poll() is None, new.stderr_text()


@pytest.mark.parametrize("memory_file", [True, False], ids=["with-e", "without-e"])
def test_clients_keep_working_across_a_takeover(workdir, servers, memory_file):
    control = os.path.join(workdir, "control.sock")
    args = ["-t", "2", "-v", f"--takeover={control}"]
    if memory_file:
        args += ["-e", os.path.join(workdir, "mem")]
    old = start_server(args)
    servers.append(old)
    wait_for(lambda: os.path.exists(control), "the control socket")
    with old.connect() as c:
        for i in range(200):
            assert c.set(b"item-%d" % i, b"value-%d" % i) == b"STORED\r\n"
    loopers = [Looper(old, b"raw%d" % i, allow_miss=not memory_file) for i in range(3)]
    pym = PymClient((old.host, old.port))  # default settings
    pym.set("pym", "before")
    idle = old.connect(timeout=DEADLINE)  # a persistent connection that says nothing meanwhile
    assert idle.call(b"version\r\n").startswith(b"VERSION ")
    connector = Connector(old)
    for t in loopers + [connector]:
        t.start()
    wait_for(lambda: all(t.done > 20 for t in loopers), "the clients to get going")

    new = start_new(old, servers, args)
    check_handover(old, new, control)
    before = [t.done for t in loopers]
    wait_for(lambda: all(t.done > b + 20 or t.errors for t, b in zip(loopers, before)),
             "the clients to carry on with the new process")
    wait_for(lambda: connector.done > 5 or connector.errors, "new connections")
    for t in loopers + [connector]:
        t.stop.set()
    for t in loopers + [connector]:
        t.join(DEADLINE)
    for t in loopers + [connector]:
        assert not t.errors, (t.errors, new.stderr_text())

    # The same sockets now talk to the new process.
    pid = stat_value(loopers[0].conn, "pid")
    assert pid == str(new.pid), (pid, new.pid)
    assert idle.call(b"version\r\n").startswith(b"VERSION ")
    idle.close()
    assert pym.get("pym") == (b"before" if memory_file else None)
    pym.set("pym", "after")
    assert pym.get("pym") == b"after"
    pym.close()
    with new.connect() as c:
        found = sum(c.get(b"item-%d" % i) == b"value-%d" % i for i in range(200))
        assert found == (200 if memory_file else 0)
    for t in loopers:
        t.conn.close()
    assert "takeover" in new.stderr_text()


def test_second_takeover_is_refused_and_a_vanished_new_process_leaves_the_old_serving(
        workdir, servers):
    control = os.path.join(workdir, "control.sock")
    args = ["-t", "2", f"--takeover={control}", "-e", os.path.join(workdir, "mem")]
    old = start_server(args)
    servers.append(old)
    wait_for(lambda: os.path.exists(control), "the control socket")
    persistent = old.connect(timeout=DEADLINE)
    assert persistent.set(b"k", b"v1") == b"STORED\r\n"

    # A stand-in for a new process that takes everything, then dies before saying READY.
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fake.settimeout(DEADLINE)
    fake.connect(control)
    fake.send(b"HELLO" + os.getpid().to_bytes(4, "little"))
    assert fake.recv(64) == b"OK"
    received = []
    while True:
        msg, fds, _, _ = socket.recv_fds(fake, 1 << 16, 256)
        received.extend(fds)
        assert msg, "the old process closed the control connection"
        if msg[:1] == b"D":
            break
    assert received, "no descriptors passed"

    # Meanwhile a real second takeover is refused cleanly.
    second = start_server(args, port=old.port, wait=False)
    servers.append(second)
    assert wait_exit(second) == 75
    assert "another takeover is in progress" in second.stderr_text()

    for fd in received:
        os.close(fd)
    fake.close()  # the "new process" is gone before the handoff completed
    # The old process resumes: the same connection is served again, the item is still there.
    assert persistent.get(b"k") == b"v1"
    assert persistent.set(b"k", b"v2") == b"STORED\r\n"
    with old.connect() as c:
        assert c.get(b"k") == b"v2"
    assert old.proc.poll() is None
    assert "takeover failed" in old.stderr_text()

    # And a real takeover afterwards works.
    new = start_new(old, servers, args)
    check_handover(old, new, control)
    assert persistent.get(b"k") == b"v2"
    assert stat_value(persistent, "pid") == str(new.pid)
    persistent.close()


def test_without_a_running_server_takeover_starts_normally(workdir, servers):
    control = os.path.join(workdir, "control.sock")
    srv = start_server([f"--takeover={control}"])
    servers.append(srv)
    wait_for(lambda: os.path.exists(control), "the control socket")
    with srv.connect() as c:
        assert c.set(b"a", b"b") == b"STORED\r\n"
    srv.kill()
    assert not os.path.exists(control)  # removed at a normal exit


def test_old_process_dying_mid_takeover_leaves_the_new_one_serving(workdir, servers):
    """A stand-in for an old process passes its listening socket, then dies before the cache
    and the connections: the new process serves on that socket, with a cold cache."""
    control = os.path.join(workdir, "control.sock")
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctl.bind(control)
    ctl.listen(1)
    ctl.settimeout(DEADLINE)
    next_control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    next_control.bind(os.path.join(workdir, "next.sock"))
    next_control.listen(1)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    port = tcp.getsockname()[1]
    new = start_server([f"--takeover={control}"], port=port, wait=False)
    servers.append(new)
    conn, _ = ctl.accept()
    conn.settimeout(DEADLINE)
    assert conn.recv(64).startswith(b"HELLO")
    conn.send(b"OK")
    address = b"tcp:127.0.0.1:%d" % port
    msg = (b"L" + (1).to_bytes(4, "little") + len(address).to_bytes(4, "little") + address +
           b"\x00\x01" + port.to_bytes(4, "little") + b"\x00\x00")
    socket.send_fds(conn, [msg], [tcp.fileno(), next_control.fileno()])
    conn.close()  # "killed" before the cache and the connections
    ctl.close()
    tcp.close()
    next_control.close()
    deadline = time.monotonic() + DEADLINE
    while True:
        assert new.proc.poll() is None, new.stderr_text()
        try:
            with new.connect() as c:
                assert c.set(b"x", b"y") == b"STORED\r\n"
                assert c.stats()["pid"] == str(new.pid)
                break
        except OSError:
            assert time.monotonic() < deadline, new.stderr_text()
            time.sleep(0.05)
    assert "stopped before sending its cache" in new.stderr_text()


def unix_call(sock, request, end):
    sock.sendall(request)
    data = b""
    deadline = time.monotonic() + DEADLINE
    while not data.endswith(end):
        assert time.monotonic() < deadline, data
        chunk = sock.recv(65536)
        assert chunk, "closed by the server"
        data += chunk
    return data


def test_unix_socket_clients_keep_working(workdir, servers):
    control = os.path.join(workdir, "control.sock")
    path = os.path.join(workdir, "mc.sock")
    args = ["-s", path, f"--takeover={control}", "-e", os.path.join(workdir, "mem")]
    old = start_server(args, listen=None, wait=False)
    servers.append(old)
    wait_for(lambda: os.path.exists(control) or old.proc.poll() is not None, "the old server")
    assert old.proc.poll() is None, old.stderr_text()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(DEADLINE)
    client.connect(path)
    assert unix_call(client, b"set u 0 0 2\r\nok\r\n", b"\r\n") == b"STORED\r\n"
    new = start_server(args, listen=None, wait=False)
    servers.append(new)
    check_handover(old, new, control)
    assert os.path.exists(path)  # the old process left the socket file to the new one
    assert unix_call(client, b"get u\r\n", b"END\r\n") == b"VALUE u 0 2\r\nok\r\nEND\r\n"
    stats = unix_call(client, b"stats\r\n", b"END\r\n")
    assert b"STAT pid %d\r\n" % new.pid in stats
    client.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as fresh:
        fresh.settimeout(DEADLINE)
        fresh.connect(path)
        assert unix_call(fresh, b"get u\r\n", b"END\r\n").startswith(b"VALUE u")
