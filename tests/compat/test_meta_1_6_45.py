"""Meta-protocol additions of memcached 1.6.19-1.6.45 that memshield takes, compared byte for byte
with memcached 1.6.45 (built from /work/shared/reference, see its README), normalised as in
test_meta_protocol.py (CAS values by order of appearance, remaining TTLs).

Only additions that memcached 1.6.18 answers with an error are taken (1.6.18 stays the byte
reference for everything it accepts; see docs/DESIGN.md, "Meta protocol"). Each case below names
the behaviour; the "still-1.6.18" cases check that what was not taken still answers as 1.6.18 does
(and as 1.6.45 does, where both agree).

The 1.6.45 binary is built into /var/tmp/memcached-1.6.45 by the reference's build script when the
reference directory exists (../shared/reference from the repository root, or from the main
checkout of a git worktree); otherwise the module is skipped.
"""
import os
import re
import socket
import subprocess
import time

import pytest

import memcompat
from memcompat import Server, ServerPair, compare, run_both, with_keys
from test_meta_protocol import _normalized, meta_normalize

REF_BIN = "/var/tmp/memcached-1.6.45/memcached"


def _reference_dirs():
    dirs = [os.path.join(memcompat.REPO, "..", "shared", "reference")]
    try:  # a git worktree: the main checkout's sibling
        common = subprocess.run(["git", "-C", memcompat.REPO, "rev-parse", "--git-common-dir"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        if common:
            main = os.path.dirname(os.path.abspath(os.path.join(memcompat.REPO, common)))
            dirs.append(os.path.join(main, "..", "shared", "reference"))
    except (OSError, subprocess.SubprocessError):
        pass
    return [os.path.normpath(d) for d in dirs]


def _ensure_reference():
    if os.access(REF_BIN, os.X_OK):
        return None
    for d in _reference_dirs():
        script = os.path.join(d, "build-memcached.sh")
        if os.path.isfile(script):
            r = subprocess.run([script, os.path.dirname(REF_BIN)], capture_output=True, text=True,
                               timeout=600)
            if r.returncode == 0 and os.access(REF_BIN, os.X_OK):
                return None
            return f"building memcached 1.6.45 failed: {r.stdout[-500:]}{r.stderr[-500:]}"
    return "memcached 1.6.45 reference not available (no ../shared/reference next to the repo)"


_skip = _ensure_reference()
if _skip and _skip.startswith("building"):
    pytest.fail(_skip, pytrace=False)  # the reference is there: a failed build is a failure
if _skip:
    pytest.skip(_skip, allow_module_level=True)

CASES = []  # (id, script)


def case(name, *steps):
    CASES.append((name, [s.encode("latin-1") for s in steps]))


# md x: the value is replaced by an empty one; the item stays with flags 0, no expiry, unread,
# and its CAS; k and O echo, c does not (md has no c return flag); q hides HD only.
case("md-x-keeps-item-empty-value",
     "ms $K 3 F7 T100 c\r\nabc\r\n", "mg $K v\r\n", "md $K x c k O1\r\n",
     "mg $K v c f t h s\r\n")
case("md-x-with-I-marks-stale-new-cas-and-T",
     "ms $K 3 c\r\nabc\r\n", "md $K x I T50\r\n", "mg $K v c f t h\r\n", "mg $K v c\r\n")
case("md-x-cas-mismatch-and-match",
     "ms $K 2 c\r\nhi\r\n", "md $K x C999\r\n", "mg $K v\r\n")
case("md-x-quiet", "ms $K 2\r\nhi\r\n", "md $K x q\r\n", "mg $K c v\r\n", "mn\r\n")
case("md-x-miss", "md $K x\r\n", "md $K x q\r\n", "mn\r\n")
case("md-x-arg-ignored", "ms $K 2\r\nhi\r\n", "md $K xy\r\n", "mg $K s v\r\n")
case("md-I-x-k", "ms $K 2\r\nhi\r\n", "md $K I x k\r\n", "mg $K v\r\n", "mg $K v\r\n")
case("md-x-then-append", "ms $K 2\r\nhi\r\n", "md $K x\r\n", "ms $K 2 MA\r\nyo\r\n",
     "mg $K v f\r\n")
case("md-x-then-incr-non-numeric", "ms $K 2\r\n12\r\n", "md $K x\r\n", "ma $K v\r\n")
case("md-x-binary-key", "ms Zm9vYmFy 2 b\r\nhi\r\n", "md Zm9vYmFy b x k\r\n",
     "mg Zm9vYmFy b v k\r\n")

# Still 1.6.18's answer where both versions agree (modes stay upper case). Not compared: an
# unknown flag such as x on mg/ms/ma, which 1.6.45's parser ignores and 1.6.18 rejects (not taken).
case("still-1.6.18-lower-case-modes", "ms $K 1 Ma\r\nz\r\n", "ma $K Mi\r\n")


# watch deletions: a delete or md that unlinks the item logs "type=deleted" (md x too, with the
# empty item's size 0; md I and md x I mark stale and log nothing; misses and EX log nothing).
WATCH_SCRIPT = [b"ms $K1 3\r\nzzz\r\n", b"md $K1 I\r\n", b"md $K1 x\r\n", b"md $K1 x I\r\n",
                b"md $K1\r\n", b"set $K2 0 0 2\r\nab\r\n", b"delete $K2 noreply\r\n",
                b"delete $K2\r\n", b"ms $K3 2\r\nab\r\n", b"md $K3 C1\r\n", b"md $K3 q\r\n",
                b"mn\r\n"]


@pytest.fixture(scope="module")
def pair():
    p = ServerPair()
    p.oracle = Server("memcached-1.6.45", REF_BIN, p.extra)
    p.start()
    yield p
    p.stop()


@pytest.mark.parametrize("script", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_meta_1_6_45(pair, script):
    script = with_keys(script)
    ro, rc = run_both(pair, script)
    pair.check_alive()
    compare(script, _normalized(ro), _normalized(rc))


def _watch_lines(port, script):
    w = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        w.sendall(b"watch deletions\r\n")
        assert w.recv(64) == b"OK\r\n"
        time.sleep(0.3)  # memcached's logger thread picks the watcher up asynchronously
        res = memcompat.run_script(port, script)
        time.sleep(0.5)
        w.settimeout(0.5)
        data = b""
        try:
            while True:
                chunk = w.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    finally:
        w.close()
    return res.data, re.sub(rb"ts=\S+ gid=\d+ ", b"", data)


def test_watch_deletions(pair):
    script = with_keys(WATCH_SCRIPT)
    ro, lo = _watch_lines(pair.oracle.port, script)
    rc, lc = _watch_lines(pair.candidate.port, script)
    assert meta_normalize(ro) == meta_normalize(rc)
    assert lo == lc
    assert lo.count(b"type=deleted") == 4, lo


def _mgdump(port, keys):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        c.sendall(b"".join(b"ms %s 2%s\r\nab\r\n" % (k, b" b" if b64 else b"") for k, b64 in keys))
        data = b""
        while data.count(b"\r\n") < len(keys):
            data += c.recv(65536)
        assert data == b"HD\r\n" * len(keys), data
        data = b""
        for cmd in (b"lru_crawler mgdump 0\r\n", b"lru_crawler mgdump\r\n"):
            c.sendall(cmd)
            n = data.count(b"\r\n") + 1
            while data.count(b"\r\n") < n:
                data += c.recv(65536)
        c.sendall(b"lru_crawler mgdump all\r\n")
        while not data.endswith(b"EN\r\n"):
            chunk = c.recv(65536)
            assert chunk, data
            data += chunk
    finally:
        c.close()
    lines = data.split(b"\r\n")[:-1]
    head, items, tail = lines[:3], lines[3:-1], lines[-1]
    wanted = {b"mg " + k + (b" b" if b64 else b"") for k, b64 in keys}
    return head, tail, sorted(x for x in items if x in wanted)


def test_lru_crawler_mgdump(pair):
    keys = [(b"mgdump_a", False), (b"mgdump_%b", False), (b"bWdkdW1wX2M=", True)]
    ho, to, io = _mgdump(pair.oracle.port, keys)
    hc, tc, ic = _mgdump(pair.candidate.port, keys)
    assert (ho, to, io) == (hc, tc, ic)
    assert ho == [b"BADCLASS invalid class id", b"ERROR", b"OK"] and to == b"EN" and len(io) == 3
