"""-s / -a: the Unix domain socket listener, its permissions, and that it turns TCP off.

Runs against memshield, or memcached with MEMSHIELD_SERVER=memcached (same behaviour)."""

import os
import socket
import stat
import subprocess
import tempfile
import time

from conftest import root_args, server_binary, free_port, require_binary


def _start(path, extra):
    proc = subprocess.Popen([server_binary(), "-s", path, *extra, *root_args()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 5
    while time.time() < deadline and not os.path.exists(path):
        time.sleep(0.05)
    return proc


def _talk(path, data):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(path)
        s.sendall(data)
        out = b""
        while not out.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def test_unix_socket_serves_with_mask_and_no_tcp():
    require_binary()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.sock")
        port = free_port()
        proc = _start(path, ["-a", "770", "-p", str(port)])
        try:
            assert os.path.exists(path), proc.stderr.read1(4096) if proc.stderr else b""
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode == 0o770, oct(mode)
            assert _talk(path, b"set k 3 0 2\r\nhi\r\nget k\r\n") == (
                b"STORED\r\nVALUE k 3 2\r\nhi\r\nEND\r\n")
            # -s turns the network listeners off, as in memcached.
            with socket.socket() as t:
                t.settimeout(1)
                assert t.connect_ex(("127.0.0.1", port)) != 0
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        assert proc.returncode == 0
