"""Fixtures for the differential suite: memcached (oracle, /usr/bin/memcached or $MEMCACHED_BIN)
and memshield ($MEMSHIELD_BIN, default build/bin/memshield) started side by side on free loopback
ports with identical flags (-p PORT -l 127.0.0.1 -U 0 -t 2 + per-test extras; -u root when run as
root), one pair per module and flag set, always killed at teardown."""
import pytest

import memcompat


@pytest.fixture(scope="module")
def servers():
    """Factory: servers("-I", "1m") -> a started ServerPair with those extra flags (cached per
    module, so each distinct flag set starts one pair per module)."""
    pairs = {}

    def get(*extra):
        key = tuple(extra)
        if key not in pairs:
            try:
                pairs[key] = memcompat.ServerPair(extra).start()
            except RuntimeError as e:
                pytest.fail(str(e), pytrace=False)
        return pairs[key]

    try:
        yield get
    finally:
        for p in pairs.values():
            p.stop()


@pytest.fixture(scope="module")
def pair(servers):
    """The default pair (no extra flags)."""
    return servers()
