"""Client-matrix script: pymemcache (Debian python3-pymemcache, text protocol) runs the shared
scenario against one server. Usage: python3 pymemcache_client.py HOST PORT
Prints "ok STEP" per step, "FAIL STEP: detail" and exit 1 on the first failure, "PASS N" at the end."""

import sys
import time

from pymemcache.client.base import Client

from scenario_driver import check, large_value, run_steps


def scenario(c):
    def set_get():
        check(c.set("py:k1", b"hello"), "set returned false")
        v = c.get("py:k1")
        check(v == b"hello", f"get returned {v!r}")
        check(c.get("py:missing") is None, "missing key returned a value")

    def multi_get():
        c.set("py:k2", b"two")
        c.set("py:k3", b"three")
        got = c.get_many(["py:k1", "py:k2", "py:k3", "py:nope"])
        check(got == {"py:k1": b"hello", "py:k2": b"two", "py:k3": b"three"}, f"got {got!r}")

    def cas():
        v, token = c.gets("py:k1")
        check(v == b"hello" and token, f"gets returned {(v, token)!r}")
        check(c.cas("py:k1", b"world", token) is True, "cas with fresh token failed")
        r = c.cas("py:k1", b"stale", token)
        check(r is False, f"cas with stale token returned {r!r}")
        v = c.get("py:k1")
        check(v == b"world", f"value after cas {v!r}")
        r = c.cas("py:nope", b"x", token)
        check(r is None, f"cas on missing key returned {r!r}")

    def incr_decr():
        c.set("py:n", b"10")
        for op, amount, want in ((c.incr, 5, 15), (c.decr, 3, 12), (c.decr, 100, 0)):
            v = op("py:n", amount)
            check(v == want, f"{op.__name__} {amount} returned {v!r}, want {want}")
        v = c.incr("py:nope", 1)
        check(v is None, f"incr on missing key returned {v!r}")

    def delete():
        check(c.delete("py:k2", noreply=False) is True, "delete of existing key failed")
        check(c.get("py:k2") is None, "key still there after delete")
        check(c.delete("py:k2", noreply=False) is False, "second delete succeeded")

    def large():
        big = large_value()
        check(c.set("py:large", big), "set of 512 KiB failed")
        v = c.get("py:large")
        check(v == big, f"large value came back {'None' if v is None else f'{len(v)} bytes, different'}")

    def expiry():
        check(c.set("py:ttl", b"short", expire=2), "set with exptime failed")
        check(c.get("py:ttl") == b"short", "gone immediately")
        time.sleep(3.2)
        v = c.get("py:ttl")
        check(v is None, f"still there after 3.2 s: {v!r}")

    return [("set_get", set_get), ("multi_get", multi_get), ("cas", cas),
            ("incr_decr", incr_decr), ("delete", delete), ("large_value", large),
            ("expiry", expiry)]


def main():
    if len(sys.argv) != 3:
        print("usage: pymemcache_client.py HOST PORT", file=sys.stderr)
        return 2
    c = Client((sys.argv[1], int(sys.argv[2])), connect_timeout=2, timeout=5,
               default_noreply=False)
    return run_steps(scenario(c), close=c.close)


if __name__ == "__main__":
    sys.exit(main())
