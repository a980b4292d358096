"""Client-matrix script: pylibmc (Debian python3-pylibmc, over libmemcached) runs the shared
scenario against one server, in the text protocol or with --binary in the binary protocol.
Usage: python3 pylibmc_client.py HOST PORT [--binary]
Prints "ok STEP" per step, "FAIL STEP: detail" and exit 1 on the first failure, "PASS N" at the end."""

import sys
import time

import pylibmc

from scenario_driver import check, large_value, run_steps


def scenario(c):
    def set_get():
        check(c.set("lm:k1", b"hello"), "set returned false")
        v = c.get("lm:k1")
        check(v == b"hello", f"get returned {v!r}")
        check(c.get("lm:missing") is None, "missing key returned a value")

    def multi_get():
        c.set("lm:k2", b"two")
        c.set("lm:k3", b"three")
        got = c.get_multi(["lm:k1", "lm:k2", "lm:k3", "lm:nope"])
        check(got == {"lm:k1": b"hello", "lm:k2": b"two", "lm:k3": b"three"}, f"got {got!r}")

    def cas():
        v, token = c.gets("lm:k1")
        check(v == b"hello" and token, f"gets returned {(v, token)!r}")
        check(c.cas("lm:k1", b"world", token) is True, "cas with fresh token failed")
        r = c.cas("lm:k1", b"stale", token)
        check(r is False, f"cas with stale token returned {r!r}")
        v = c.get("lm:k1")
        check(v == b"world", f"value after cas {v!r}")
        try:
            r = c.cas("lm:nope", b"x", token)
        except pylibmc.NotFound:
            r = None
        check(not r, f"cas on missing key returned {r!r}")

    def incr_decr():
        c.set("lm:n", b"10")
        for op, amount, want in ((c.incr, 5, 15), (c.decr, 3, 12), (c.decr, 100, 0)):
            v = op("lm:n", amount)
            check(v == want, f"{op.__name__} {amount} returned {v!r}, want {want}")
        try:
            v = c.incr("lm:nope", 1)
        except pylibmc.NotFound:
            v = None
        check(v is None, f"incr on missing key returned {v!r}")

    def delete():
        check(c.delete("lm:k2") is True, "delete of existing key failed")
        check(c.get("lm:k2") is None, "key still there after delete")
        check(c.delete("lm:k2") is False, "second delete succeeded")

    def large():
        big = large_value()
        check(c.set("lm:large", big), "set of 512 KiB failed")
        v = c.get("lm:large")
        check(v == big, f"large value came back {'None' if v is None else f'{len(v)} bytes, different'}")

    def expiry():
        check(c.set("lm:ttl", b"short", time=2), "set with exptime failed")
        check(c.get("lm:ttl") == b"short", "gone immediately")
        time.sleep(3.2)
        v = c.get("lm:ttl")
        check(v is None, f"still there after 3.2 s: {v!r}")

    return [("set_get", set_get), ("multi_get", multi_get), ("cas", cas),
            ("incr_decr", incr_decr), ("delete", delete), ("large_value", large),
            ("expiry", expiry)]


def main():
    args = sys.argv[1:]
    binary = "--binary" in args
    args = [a for a in args if a != "--binary"]
    if len(args) != 2:
        print("usage: pylibmc_client.py HOST PORT [--binary]", file=sys.stderr)
        return 2
    # min_compress_len 0 (the default) never compresses: the large value goes over the wire as is.
    c = pylibmc.Client([f"{args[0]}:{args[1]}"], binary=binary,
                       behaviors={"cas": True, "connect_timeout": 2000,
                                  "receive_timeout": 2_000_000, "send_timeout": 2_000_000})
    return run_steps(scenario(c), close=c.disconnect_all)


if __name__ == "__main__":
    sys.exit(main())
