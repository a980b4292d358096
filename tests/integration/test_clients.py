"""Real client libraries against the server: pymemcache and pylibmc."""

import time

import pylibmc
import pytest
from pymemcache.client.base import Client as PymClient

from conftest import VERSION


@pytest.fixture
def pym(server):
    c = PymClient((server.host, server.port), connect_timeout=5, timeout=5,
                  default_noreply=False)
    yield c
    c.close()


@pytest.fixture
def lib(server):
    c = pylibmc.Client([server.addr], binary=False,
                       behaviors={"cas": True, "connect_timeout": 5000,
                                  "receive_timeout": 5_000_000,
                                  "send_timeout": 5_000_000})
    yield c
    c.disconnect_all()


# ---------------------------------------------------------------- pymemcache

class TestPymemcache:
    def test_set_get(self, pym):
        assert pym.set("k", b"value") is True
        assert pym.get("k") == b"value"
        assert pym.get("missing") is None
        assert pym.set("bin", bytes(range(256))) is True
        assert pym.get("bin") == bytes(range(256))

    def test_set_with_flags_and_empty_value(self, pym):
        assert pym.set("f", b"x", flags=1234) is True
        assert pym.get("f") == b"x"
        assert pym.set("empty", b"") is True
        assert pym.get("empty") == b""

    def test_get_multi(self, pym):
        pym.set_many({"a": b"1", "b": b"2", "c": b"3"})
        assert pym.get_many(["a", "b", "c", "nope"]) == {"a": b"1", "b": b"2", "c": b"3"}
        assert pym.get_multi(["nope"]) == {}

    def test_add(self, pym):
        assert pym.add("k", b"1") is True
        assert pym.add("k", b"2") is False
        assert pym.get("k") == b"1"

    def test_replace(self, pym):
        assert pym.replace("k", b"1") is False
        assert pym.get("k") is None
        pym.set("k", b"1")
        assert pym.replace("k", b"2") is True
        assert pym.get("k") == b"2"

    def test_append_prepend(self, pym):
        assert pym.append("k", b"x") is False
        assert pym.prepend("k", b"x") is False
        pym.set("k", b"mid")
        assert pym.append("k", b"-end") is True
        assert pym.prepend("k", b"start-") is True
        assert pym.get("k") == b"start-mid-end"

    def test_gets_cas(self, pym):
        assert pym.gets("missing") == (None, None)
        pym.set("k", b"v1")
        val, cas = pym.gets("k")
        assert val == b"v1" and cas is not None
        assert pym.cas("k", b"v2", cas) is True
        assert pym.get("k") == b"v2"
        # stale token
        assert pym.cas("k", b"v3", cas) is False
        assert pym.get("k") == b"v2"
        # missing key
        assert pym.cas("missing", b"v", cas) is None
        _, cas2 = pym.gets("k")
        assert cas2 != cas

    def test_gets_many(self, pym):
        pym.set("a", b"1")
        pym.set("b", b"2")
        res = pym.gets_many(["a", "b", "c"])
        assert set(res) == {"a", "b"}
        assert res["a"][0] == b"1" and res["b"][0] == b"2"
        assert res["a"][1] != res["b"][1]

    def test_incr_decr(self, pym):
        assert pym.incr("n", 1) is None
        pym.set("n", b"10")
        assert pym.incr("n", 5) == 15
        assert pym.decr("n", 20) == 0
        assert pym.incr("n", 2**64 - 1) == 2**64 - 1
        assert pym.incr("n", 1) == 0
        pym.set("n", b"100")
        assert pym.decr("n", 1) == 99
        assert pym.get("n") == b"99 "

    def test_delete(self, pym):
        pym.set("k", b"v")
        assert pym.delete("k") is True
        assert pym.delete("k") is False
        assert pym.get("k") is None
        pym.set_many({"a": b"1", "b": b"2"})
        assert pym.delete_many(["a", "b"]) is True
        assert pym.get_many(["a", "b"]) == {}

    def test_touch(self, pym):
        assert pym.touch("missing", 10) is False
        pym.set("k", b"v", expire=1)
        assert pym.touch("k", 100) is True
        time.sleep(2.1)
        assert pym.get("k") == b"v"

    def test_flush_all(self, pym):
        pym.set_many({"a": b"1", "b": b"2"})
        assert pym.flush_all() is True
        assert pym.get_many(["a", "b"]) == {}

    def test_version(self, pym):
        assert pym.version() == VERSION.encode()

    def test_stats(self, pym):
        pym.set("k", b"v")
        pym.get("k")
        pym.get("missing")
        st = pym.stats()
        assert st[b"version"] == VERSION.encode()
        assert st[b"curr_items"] == 1
        assert st[b"cmd_set"] >= 1
        assert st[b"get_hits"] == 1
        assert st[b"get_misses"] == 1
        assert st[b"pid"] > 0
        settings = pym.stats("settings")
        assert b"maxbytes" in settings and b"maxconns" in settings

    def test_noreply_variants(self, server):
        c = PymClient((server.host, server.port), connect_timeout=5, timeout=5,
                      default_noreply=True)
        try:
            assert c.set("k", b"v") is True
            assert c.add("k", b"other") is True          # noreply: no answer
            assert c.replace("k", b"v2") is True
            assert c.append("k", b"-a") is True
            assert c.prepend("k", b"p-") is True
            assert c.get("k") == b"p-v2-a"
            c.set("n", b"5")
            assert c.incr("n", 3, noreply=True) is None
            assert c.decr("n", 1, noreply=True) is None
            assert c.get("n") == b"7"
            assert c.touch("n", 100) is True
            assert c.delete("n") is True
            assert c.get("n") is None
            assert c.flush_all() is True
            assert c.get("k") is None
            # the connection is still in sync after all the silent commands
            assert c.version() == VERSION.encode()
        finally:
            c.close()

    def test_large_value(self, pym):
        v = bytes(range(256)) * 4000         # ~1 MB, under the 1 MiB limit
        assert pym.set("big", v) is True
        assert pym.get("big") == v


# ------------------------------------------------------------------ pylibmc

class TestPylibmc:
    def test_set_get(self, lib):
        assert lib.set("k", b"value") is True
        assert lib.get("k") == b"value"
        assert lib.get("missing") is None
        lib.set("s", "text")
        assert lib.get("s") == "text"
        lib.set("i", 42)
        assert lib.get("i") == 42

    def test_get_multi(self, lib):
        assert lib.set_multi({"a": b"1", "b": b"2", "c": b"3"}) == []
        assert lib.get_multi(["a", "b", "c", "nope"]) == {"a": b"1", "b": b"2", "c": b"3"}

    def test_add_replace(self, lib):
        assert lib.add("k", b"1") is True
        assert lib.add("k", b"2") is False
        assert lib.replace("missing", b"x") is False
        assert lib.replace("k", b"3") is True
        assert lib.get("k") == b"3"

    def test_append_prepend(self, lib):
        lib.set("k", b"mid")
        assert lib.append("k", b"-end") is True
        assert lib.prepend("k", b"start-") is True
        assert lib.get("k") == b"start-mid-end"
        assert lib.append("missing", b"x") is False

    def test_gets_cas(self, lib):
        lib.set("k", b"v1")
        val, cas = lib.gets("k")
        assert val == b"v1" and cas
        assert lib.cas("k", b"v2", cas) is True
        assert lib.cas("k", b"v3", cas) is False
        assert lib.get("k") == b"v2"
        assert lib.gets("missing") == (None, None)

    def test_incr_decr(self, lib):
        lib.set("n", b"10")
        assert lib.incr("n", 5) == 15
        assert lib.decr("n", 100) == 0
        with pytest.raises(pylibmc.NotFound):
            lib.incr("missing", 1)
        lib.set("n", str(2**64 - 1).encode())
        assert lib.incr("n", 1) == 0

    def test_delete(self, lib):
        lib.set("k", b"v")
        assert lib.delete("k") is True
        assert lib.delete("k") is False
        lib.set_multi({"a": b"1", "b": b"2"})
        assert lib.delete_multi(["a", "b"]) is True
        assert lib.get_multi(["a", "b"]) == {}

    def test_touch(self, lib):
        lib.set("k", b"v", time=1)
        assert lib.touch("k", 100) is True
        assert lib.touch("missing", 100) is False
        time.sleep(2.1)
        assert lib.get("k") == b"v"

    def test_flush_all(self, lib):
        lib.set_multi({"a": b"1", "b": b"2"})
        assert lib.flush_all() is True
        assert lib.get_multi(["a", "b"]) == {}

    def test_stats_and_version(self, lib, server):
        lib.set("k", b"v")
        lib.get("k")
        stats = lib.get_stats()
        assert len(stats) == 1
        name, st = stats[0]
        assert str(server.port) in name.decode() if isinstance(name, bytes) else str(server.port) in name
        st = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
              for k, v in st.items()}
        assert st["version"] == VERSION
        assert int(st["curr_items"]) == 1
        assert int(st["get_hits"]) >= 1

    def test_noreply_behaviour(self, server):
        c = pylibmc.Client([server.addr], binary=False,
                           behaviors={"_noreply": True, "connect_timeout": 5000})
        try:
            c.set("k", b"v")
            c.add("k2", b"w")
            c.append("k", b"x")
            c.prepend("k", b"p")
            c.delete("k2")
            c.set("n", b"1")
        finally:
            c.disconnect_all()
        # the silent commands went out on another connection, possibly served
        # by another server thread: poll (bounded) for their effect
        check = pylibmc.Client([server.addr], binary=False)
        try:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                state = (check.get("k"), check.get("k2"), check.get("n"))
                if state == (b"pvx", None, b"1"):
                    break
                time.sleep(0.05)
            assert state == (b"pvx", None, b"1")
        finally:
            check.disconnect_all()

    def test_interop_with_pymemcache(self, lib, pym):
        lib.set("x", b"from-pylibmc")
        assert pym.get("x") == b"from-pylibmc"
        pym.set("y", b"from-pymemcache")
        assert lib.get("y") == b"from-pymemcache"
