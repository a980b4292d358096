"""libmemcached's command-line tools (Debian's libmemcached-tools: memccp, memccat, memcrm,
memcstat, memcflush) with --binary against the server: a file goes in, comes back the same."""
import shutil
import subprocess

import pytest

from conftest import HOST

pytestmark = pytest.mark.skipif(shutil.which("memccp") is None,
                                reason="needs libmemcached-tools (scripts/deps.sh test)")


def tool(name, srv, *args):
    return subprocess.run([name, f"--servers={HOST}:{srv.port}", "--binary", *args],
                          capture_output=True, timeout=20)


def test_copy_cat_remove_flush(server, tmp_path):
    f = tmp_path / "payload.bin"
    data = bytes(range(256)) * 1000
    f.write_bytes(data)
    assert tool("memccp", server, str(f)).returncode == 0
    got = tool("memccat", server, "payload.bin")
    assert got.returncode == 0 and got.stdout == data + b"\n"  # memccat adds a newline
    stat = tool("memcstat", server)
    assert stat.returncode == 0 and b"curr_items: 1" in stat.stdout.replace(b"\t", b" ")
    assert tool("memcrm", server, "payload.bin").returncode == 0
    assert tool("memccat", server, "payload.bin").returncode != 0
    assert tool("memccp", server, str(f)).returncode == 0
    assert tool("memcflush", server).returncode == 0
    assert tool("memccat", server, "payload.bin").returncode != 0
