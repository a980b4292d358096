"""Scale-out: three servers behind Debian's twemproxy (nutcracker) with ketama hashing, and three
servers under client-side consistent hashing: libmemcached's ketama (pylibmc) and pymemcache's
HashClient.

Checks that keys spread over all three instances (each holds a fair share, seen in its own
`stats curr_items`), that every key reads back, and that losing one instance loses exactly the
keys that lived on it and no others. docs/SCALING.md shows the same twemproxy config to operators.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pylibmc
import pytest
from pymemcache.client.base import Client as PymClient
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError, MemcacheServerError

from conftest import HOST, free_port, wait_listening

NUTCRACKER = "/usr/sbin/nutcracker"
N_KEYS = 1000
MIN_SHARE = 0.15  # of N_KEYS per instance; ketama with 3 equal weights gives roughly 1/3 each

# Servers carry names (ms0..ms2): ketama places them on the ring by name, so the key-to-instance
# map survives an instance moving to another address. md5 key hashing spreads these keys evenly;
# fnv1a_64 (twemproxy's usual example) put 610 of the 1000 keys on one instance here.
NUTCRACKER_YAML = """\
memshield:
  listen: {listen}
  hash: md5
  distribution: ketama
  timeout: 1000
  preconnect: false
  auto_eject_hosts: false
  server_connections: 1
  servers:
{servers}
"""


def value_for(i):
    return b"value-%d-" % i + b"x" * (i % 50)


def keys():
    return [f"scale:{i}" for i in range(N_KEYS)]


def three_servers(server_factory):
    return [server_factory() for _ in range(3)]


def owners_by_direct_get(servers, key_list):
    """Map key -> index of the one instance that holds it, asking each instance directly."""
    owner = {}
    for idx, srv in enumerate(servers):
        c = PymClient((srv.host, srv.port), connect_timeout=2, timeout=5)
        try:
            for start in range(0, len(key_list), 100):
                for k in c.get_many(key_list[start:start + 100]):
                    assert k not in owner, f"{k} stored on instances {owner[k]} and {idx}"
                    owner[k] = idx
        finally:
            c.close()
    return owner


def assert_spread(servers, owner):
    counts = [int(s.stats()["curr_items"]) for s in servers]
    by_owner = [sum(1 for o in owner.values() if o == i) for i in range(len(servers))]
    assert counts == by_owner, f"curr_items {counts} disagree with direct gets {by_owner}"
    assert sum(counts) == N_KEYS, f"curr_items {counts} do not add up to {N_KEYS}"
    for srv, n in zip(servers, counts):
        assert n > MIN_SHARE * N_KEYS, (
            f"instance {srv.addr} holds only {n} of {N_KEYS} keys (all: {counts})")
    return counts


def set_and_read_back(set_, get_multi, key_list):
    for i, k in enumerate(key_list):
        assert set_(k, value_for(i)), f"set {k} failed"
    for start in range(0, N_KEYS, 100):
        got = get_multi(key_list[start:start + 100])
        want = {k: value_for(start + j) for j, k in enumerate(key_list[start:start + 100])}
        assert got == want, f"multi-get of keys {start}..{start + 99}"


def read_back_after_loss(get, key_list, owner, dead, client_errors):
    """After instance `dead` died: every key of the live instances reads back intact, the dead
    one's keys (and only those) come back as a miss or a client error. Returns (lost, errors)."""
    lost, errors, wrong = [], 0, []
    for i, k in enumerate(key_list):
        try:
            v = get(k)
        except client_errors:
            v, errors = None, errors + 1
        if v is None:
            lost.append(k)
        elif v != value_for(i):
            wrong.append(k)
    on_dead = sorted(k for k, o in owner.items() if o == dead)
    assert not wrong, f"wrong values for {wrong[:5]}"
    assert sorted(lost) == on_dead, (
        f"lost {len(lost)} keys, the dead instance held {len(on_dead)}; "
        f"lost but not on it: {sorted(set(lost) - set(on_dead))[:5]}")
    return len(lost), errors


class Nutcracker:
    """twemproxy in the foreground on a free loopback port, its stats port too."""

    def __init__(self, servers, workdir):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.stats_port = free_port()
        lines = "\n".join(f"   - {s.host}:{s.port}:1 ms{i}" for i, s in enumerate(servers))
        self.conf = self.workdir / "nutcracker.yml"
        self.conf.write_text(NUTCRACKER_YAML.format(listen=f"{HOST}:{self.port}", servers=lines))
        self.log = self.workdir / "nutcracker.log"
        check = subprocess.run([NUTCRACKER, "-t", "-c", str(self.conf)],
                               capture_output=True, text=True, timeout=10)
        assert check.returncode == 0, f"nutcracker rejects its config:\n{check.stderr}"
        self.proc = subprocess.Popen(
            [NUTCRACKER, "-c", str(self.conf), "-o", str(self.log), "-v", "4",
             "-s", str(self.stats_port), "-a", HOST, "-p", str(self.workdir / "nutcracker.pid")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_listening(HOST, self.port, self.proc):
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            self.stop()
            raise AssertionError(f"nutcracker did not start listening on {self.port}:\n{log}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)


@pytest.fixture
def nutcracker_factory():
    if not shutil.which(NUTCRACKER):
        pytest.fail(f"{NUTCRACKER} not found; install the test dependencies: scripts/deps.sh test")
    started = []
    with tempfile.TemporaryDirectory(prefix="memshield-twemproxy-") as tmp:
        def make(servers):
            n = Nutcracker(servers, tmp)
            started.append(n)
            return n
        try:
            yield make
        finally:
            for n in started:
                n.stop()


def test_twemproxy_ketama_spread_and_instance_loss(server_factory, nutcracker_factory):
    servers = three_servers(server_factory)
    proxy = nutcracker_factory(servers)
    key_list = keys()

    c = PymClient((HOST, proxy.port), connect_timeout=2, timeout=5, default_noreply=False)
    try:
        set_and_read_back(c.set, c.get_many, key_list)  # twemproxy splits multi-gets per instance
    finally:
        c.close()

    owner = owners_by_direct_get(servers, key_list)
    counts = assert_spread(servers, owner)
    print(f"twemproxy ketama spread over 3 instances: {counts}")

    dead = 1
    servers[dead].kill()
    c = PymClient((HOST, proxy.port), connect_timeout=2, timeout=5, default_noreply=False)
    try:
        # with auto_eject_hosts false the proxy answers SERVER_ERROR for the dead instance's keys
        lost, errors = read_back_after_loss(c.get, key_list, owner, dead,
                                            (MemcacheError, OSError))
        # a multi-get that touches the dead instance fails as a whole, live keys included
        live_key = next(k for k, o in owner.items() if o != dead)
        dead_key = next(k for k, o in owner.items() if o == dead)
        with pytest.raises(MemcacheServerError):
            c.get_many([live_key, dead_key])
    finally:
        c.close()
    print(f"twemproxy after killing instance {dead}: lost {lost} of {N_KEYS} "
          f"({errors} as errors), the rest read back")


# {"ketama": True}: ketama ring, libmemcached's default key hash (one-at-a-time).
# {"ketama_weighted": True}: the libketama-compatible ring with md5 keys, the same placement as
# PHP memcached's OPT_LIBKETAMA_COMPATIBLE (checked below); the first one is not.
KETAMA_BEHAVIORS = {"ketama": {"ketama": True}, "libketama": {"ketama_weighted": True}}

PHP_READ_ALL = r"""
$m = new Memcached();
$m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true);
foreach (array_slice($argv, 2) as $addr) {
    [$host, $port] = explode(':', $addr);
    $m->addServer($host, (int)$port);
}
$hits = 0;
for ($i = 0; $i < (int)$argv[1]; $i++) { if ($m->get("scale:$i") !== false) $hits++; }
echo $hits, "\n";
"""


@pytest.mark.parametrize("ring", sorted(KETAMA_BEHAVIORS))
def test_libmemcached_client_side_ketama(server_factory, ring):
    servers = three_servers(server_factory)
    key_list = keys()
    c = pylibmc.Client([s.addr for s in servers], binary=False,
                       behaviors=dict(KETAMA_BEHAVIORS[ring], connect_timeout=2000,
                                      receive_timeout=2_000_000, send_timeout=2_000_000))
    try:
        set_and_read_back(c.set, c.get_multi, key_list)
        owner = owners_by_direct_get(servers, key_list)
        counts = assert_spread(servers, owner)
        print(f"libmemcached {ring} spread over 3 instances: {counts}")

        if ring == "libketama":
            # a PHP client on the same instances finds every key where pylibmc put it
            if not shutil.which("php"):
                pytest.fail("php not found; install the test dependencies: scripts/deps.sh test")
            r = subprocess.run(["php", "-r", PHP_READ_ALL, "--", str(N_KEYS)]
                               + [s.addr for s in servers],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and r.stdout.strip() == str(N_KEYS), (
                f"PHP OPT_LIBKETAMA_COMPATIBLE found {r.stdout.strip()!r} of {N_KEYS} keys; "
                f"stderr: {r.stderr[-500:]}")

        dead = 2
        servers[dead].kill()
        # libmemcached does not re-route: the dead instance's keys fail (ConnectionError, then
        # ServerDown while it is marked dead), every other key is served as before
        lost, errors = read_back_after_loss(c.get, key_list, owner, dead, (pylibmc.Error,))
        print(f"libmemcached {ring} after killing instance {dead}: lost {lost} "
              f"({errors} as errors)")
    finally:
        c.disconnect_all()


def test_pymemcache_hashclient(server_factory):
    servers = three_servers(server_factory)
    key_list = keys()
    # ignore_exc: a dead instance's keys read as misses; after retry_attempts failures the
    # instance leaves the ring for dead_timeout seconds and its keys map to the others
    c = HashClient([(s.host, s.port) for s in servers], connect_timeout=2, timeout=5,
                   default_noreply=False, ignore_exc=True, retry_attempts=1, dead_timeout=30)
    try:
        set_and_read_back(c.set, c.get_many, key_list)
        owner = owners_by_direct_get(servers, key_list)
        counts = assert_spread(servers, owner)
        print(f"pymemcache HashClient spread over 3 instances: {counts}")

        dead = 0
        servers[dead].kill()
        lost, errors = read_back_after_loss(c.get, key_list, owner, dead, ())
        print(f"HashClient after killing instance {dead}: lost {lost} ({errors} as errors)")
    finally:
        c.close()
