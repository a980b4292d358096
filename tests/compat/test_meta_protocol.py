"""Differential tests of the memcached 1.6.18 meta protocol (mg, ms, md, ma, mn, me): each case is
a byte script sent to memcached and to memshield; the replies must match byte for byte after the
normalisation below, and so must the connection being closed or not.

Normalised, on answer lines only (HD/VA/EN/NF/NS/EX/ME), because they legitimately differ:
  * CAS values: "c<n>" return flags and "cas=<n>" in me output become "c<#i>" / "cas=<#i>", where
    i numbers the distinct CAS values of one server's output in order of first appearance, so the
    *pattern* (same item state, same CAS; a change gives a new one) is still compared;
  * time-dependent values that a clock tick between the two runs can shift: "t<n>" with n >= 0
    (remaining TTL), "l<n>" (seconds since last access), and "exp=<n>" / "la=<n>" in me output.
    "t-1" and "exp=-1" (no expiry) are compared exactly. The exact arithmetic of these is unit
    tested against a fake clock (tests/unit/engine/meta_commands_test.cc).
Everything else -- flag echo order, quiet-mode suppression, W/X/Z, me's cls= and size= -- is exact.
"""
import base64
import re

import pytest

from memcompat import Result, chunked, compare, run_both, run_script, with_keys

CASES = []  # (id, script bytes, pipeline_ok)


def case(name, *steps, pipeline=True):
    CASES.append((name, [s.encode("latin-1") if isinstance(s, str) else s for s in steps],
                  pipeline))


def b64(s):
    return base64.b64encode(s.encode()).decode()


# ---------------------------------------------------------------- mg ------------------------
case("mg-miss", "mg $K\r\nmg $K v\r\nmg $K s v f t c h l k O123\r\n")
case("mg-hit-plain", "ms $K 2\r\nhi\r\nmg $K\r\nmg $K v\r\n")
case("mg-all-flags", "ms $K 2 F7 T0\r\nhi\r\nmg $K s v f t c h l k O123\r\nmg $K h l\r\n")
case("mg-flag-order", "ms $K 2\r\nhi\r\nmg $K k O1 c s v f\r\nmg $K f s c O2 k\r\n")
case("mg-ttl", "ms $K 2 T100\r\nhi\r\nmg $K t v\r\nmg $K T200 t\r\nmg $K t T300\r\nmg $K t\r\n")
case("mg-touch-miss", "mg $K T30 v\r\n")
# An O token over the limit fails the mg only after its lookup: the item is fetched (h1 next),
# N before or after it vivifies without a win token, flags before it apply (difffuzz).
case("mg-opaque-too-long-after-lookup", "ms $K 1\r\nx\r\nmg $K O123456789012345678901234567890123 v\r\nmg $K h\r\n",
     "mg $Kn N30 O123456789012345678901234567890123 v\r\nmg $Kn v\r\nmg $Kn N30 v\r\nmg $Ko O123456789012345678901234567890123 N30\r\nmg $Ko v\r\n")
case("mg-hit-before", "ms $K 1\r\nx\r\nmg $K h\r\nmg $K h\r\nmg $K u h\r\n")
case("mg-no-update", "ms $K 1\r\nx\r\nmg $K u h\r\nmg $K u h\r\nmg $K h\r\n")
case("mg-quiet", "ms $K 1\r\nx\r\nmg $K q\r\nmg $K q k\r\nmg $K q v\r\nmg $K2 q v k O9\r\nmn\r\n")
case("mg-quiet-only-mn", "mg $K q\r\nmg $K2 q\r\nmn\r\nmg $K q O5\r\nmn\r\n")
case("mg-opaque-32", "mg $K O" + "1" * 31 + "\r\n")
case("mg-opaque-33", "mg $K O" + "1" * 32 + "\r\n")
case("mg-opaque-empty", "mg $K O k\r\n")
case("mg-vivify", "mg $K N30 v t c s\r\nmg $K N30 v t c s\r\nms $K 1\r\nz\r\nmg $K v c\r\n")
case("mg-vivify-t-before-n", "mg $K s v t c h l k O1 N30\r\nmg $K t\r\n")
case("mg-vivify-quiet", "mg $K q N5 k\r\nmg $K q\r\nmn\r\n")
case("mg-recache", "ms $K 1 T100\r\nx\r\nmg $K R200 v\r\nmg $K R200 v\r\nmg $K R50 v\r\n")
case("mg-recache-no", "ms $K 1 T100\r\nx\r\nmg $K R50 v\r\nms $K2 1\r\nx\r\nmg $K2 R50 v\r\n")
case("mg-errors", "mg\r\nmg \r\nmg $K v v\r\nmg $K x\r\nmg $K E5\r\nmg $K Tx\r\nmg $K Nx\r\n"
     "mg $K Rx\r\nmg $K T\r\nmg $K M\r\nmg $K Mxy\r\nmg $K Fx\r\nmg $K Cx\r\nmg $K Jx\r\n")
case("mg-too-many-flags",
     "mg $K " + " ".join("O%d" % i for i in range(17)) + "\r\n"
     "mg $K " + " ".join("O%d" % i for i in range(18)) + "\r\n"
     "mg $K a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n")
case("mg-key-too-long", "mg " + "a" * 251 + " v\r\nmg " + "a" * 250 + " v\r\n")
case("mg-accepted-flags", "mg $K P L C5 D5 F5 I J5 M5\r\n")
case("mx-unknown", "mx\r\nmgg $K\r\nm\r\nmz $K\r\n")

# ---------------------------------------------------------------- ms ------------------------
case("ms-basic", "ms $K 2\r\nhi\r\nmg $K v f t\r\n")
case("ms-flags-echo", "ms $K 2 T100 F5 c k O1\r\nhi\r\nmg $K f v\r\nms $K 2 O9 k c\r\nzz\r\n")
case("ms-quiet", "ms $K 2 q\r\nhi\r\nms $K 2 MA q\r\nyo\r\nmg $K v\r\nmn\r\n")
case("ms-modes", "ms $K 2 ME\r\nhi\r\nms $K 2 ME\r\nyo\r\nms $K 2 MR\r\nzz\r\nms $K2 2 MR\r\nzz\r\n"
     "ms $K 2 MP k\r\nPP\r\nms $K 2 MA\r\nAA\r\nmg $K v\r\nms $K 2 MS O9 k c\r\nSS\r\nmg $K v\r\n")
case("ms-modes-lower", "ms $K 1 Me\r\na\r\nms $K 1 Ma\r\nb\r\nms $K 1 Mp\r\nc\r\nms $K 1 Mr\r\nd\r\n"
     "ms $K 1 Ms\r\ne\r\nmg $K v\r\n")
case("ms-modes-quiet", "ms $K 1 q MA\r\nx\r\nms $K 1 q ME\r\nx\r\nms $K 1 q ME\r\nx\r\n"
     "ms $K 1 q MR\r\nx\r\nmn\r\n")
case("ms-bad-mode", "ms $K 2 MX\r\nhi\r\nms $K 2 M\r\nhi\r\nms $K 2 MAA\r\nhi\r\nmg $K\r\n")
case("ms-cas-miss", "ms $K 2 C99\r\nhi\r\nms $K 2 C99 q\r\nhi\r\nmn\r\n")
case("ms-cas-wrong", "ms $K 2\r\nhi\r\nms $K 2 C99\r\nzz\r\nms $K 2 C99 q\r\nzz\r\nmn\r\nmg $K v\r\n")
case("ms-invalidate-no-cas", "ms $K 2 I\r\nhi\r\nmg $K v\r\n")
case("ms-invalidate-old-cas", "ms $K 1 C1 I\r\ny\r\nms $K 1\r\nx\r\nms $K 1 C1 I\r\ny\r\n"
     "mg $K v c\r\nmg $K v\r\nms $K 1\r\nz\r\nmg $K v\r\n")
case("ms-expired", "ms $K 1 T-1\r\nx\r\nmg $K v\r\n")
case("ms-errors", "ms\r\nms $K\r\nms $K 2 E5\r\nhi\r\nms $K S2\r\nhi\r\nms $K abc\r\nhi\r\n"
     "ms $K -1\r\nhi\r\nms $K 2 Tx\r\nhi\r\nms $K 2 Fx\r\nhi\r\nms $K 2 Cx\r\nhi\r\n"
     "ms $K 1 S5\r\nx\r\nms $K 1 x\r\nx\r\nms $K 1 v v\r\nx\r\nmg $K\r\n")
case("ms-too-many-flags",
     "ms $K 1 " + " ".join("O%d" % i for i in range(17)) + "\r\nx\r\n"
     "ms $K 1 " + " ".join("O%d" % i for i in range(16)) + "\r\nx\r\n")
case("ms-key-too-long", "ms " + "a" * 251 + " 1\r\nx\r\n")
case("ms-bad-chunk", "ms $K 1\r\nxyz\r\nmg $K v\r\n")
case("ms-zero-length", "ms $K 0\r\n\r\nmg $K v s\r\n")
case("ms-opaque-too-long", "ms $K 1 O" + "9" * 40 + "\r\nx\r\nmg $K\r\n")
case("ms-accepted-flags", "ms $K 1 f h l s t u v D5 J5 L N5 P R5\r\nx\r\nmg $K v\r\n")

# ---------------------------------------------------------------- md ------------------------
case("md-basic", "md $K\r\nms $K 1\r\nx\r\nmd $K\r\nmg $K\r\n")
case("md-quiet", "md $K q\r\nms $K 1\r\nx\r\nmd $K q\r\nmd $K q\r\nmn\r\n")
case("md-echo", "md $K k O5 C3\r\nms $K 1\r\nx\r\nmd $K k O5 C3\r\nmd $K O6 k\r\n")
case("md-invalidate", "ms $K 1\r\nx\r\nmd $K I T30\r\nmg $K v c\r\nmg $K v c\r\n"
     "ms $K 1 I\r\ny\r\nmg $K v\r\n")
case("md-invalidate-then-set", "ms $K 1\r\nx\r\nmd $K I\r\nmg $K v\r\nms $K 1\r\nz\r\nmg $K v\r\n")
case("md-errors", "md\r\nmd $K z\r\nmd $K q q\r\nmd $K Tx\r\nmd $K Cx\r\nmd $K b\r\n"
     "md " + "a" * 251 + "\r\nmd $K " + " ".join("O%d" % i for i in range(18)) + "\r\n")

# ---------------------------------------------------------------- ma ------------------------
case("ma-basic", "ma $K\r\nms $K 2\r\n10\r\nma $K\r\nma $K v\r\nma $K MD D3 v t c\r\n")
case("ma-vivify", "ma $K N0 J7 v t c k O1 s f\r\nma $K2 N100 J7 v t\r\nma $K v\r\n")
case("ma-vivify-ttl-order", "ma $K T5 N0 v t\r\n")
case("ma-modes", "ma $K MI v N0\r\nma $K M+ v\r\nma $K M- v D100\r\nma $K MD v\r\nma $K Mi v\r\n"
     "ma $K Md v\r\nma $K Mx v\r\nma $K MII\r\n")
case("ma-quiet", "ma $K q\r\nmn\r\nma $K q N0\r\nmn\r\nma $K q\r\nmn\r\nma $K q v\r\nmn\r\nma $K v\r\n")
case("ma-quiet-vivify-value", "ma $K q N0 v J5\r\nmn\r\n")
case("ma-non-numeric", "ms $K 1\r\nx\r\nma $K\r\nma $K q\r\n")
case("ma-wrap", "ma $K N0 J18446744073709551615 v\r\nma $K v\r\nma $K MD D5 v\r\n")
case("ma-cas", "ms $K 1\r\n5\r\nma $K C1\r\nma $K v c\r\nma $K2 C1\r\n")
case("ma-errors", "ma\r\nma $K x\r\nma $K D-1\r\nma $K Dx\r\nma $K Jx\r\nma $K v v\r\n"
     "ma $K M\r\nma $K b\r\nma $K " + " ".join("O%d" % i for i in range(18)) + "\r\n")
case("ma-grow", "ms $K 1\r\n9\r\nma $K v\r\nma $K D90 v\r\nmg $K v s\r\n")

# ---------------------------------------------------------------- mn / me -------------------
case("mn", "mn\r\nmn foo bar\r\n")
case("me", "me\r\nme $K\r\nme $K a\r\nms $K 1 F7 T100\r\nx\r\nmg $K v\r\nme $K\r\n"
     "ms $K2 2\r\nhi\r\nme $K2\r\nme " + "a" * 251 + "\r\n")
case("me-sizes", "ms $K 100\r\n" + "x" * 100 + "\r\nme $K\r\nms $K 5000\r\n" + "y" * 5000 +
     "\r\nme $K\r\n")

# ---------------------------------------------------------------- base64 keys (own keys) ----
_K1, _K2 = b64("b64key-one"), b64("b64key-two")
case("b64-set-get", f"ms {_K1} 2 b k\r\nhi\r\nmg {_K1} b k v s\r\nmg b64key-one k v\r\n"
     f"md {_K1} b q\r\nmg {_K1} b k v\r\n", pipeline=False)
case("b64-miss", f"mg {_K2} b k v O1\r\n", pipeline=False)
case("b64-decoding", "mg ZA== b k\r\nmg ZA= b k\r\nmg ZD== b k\r\nmg Z=== b k\r\nmg ==== b k\r\n"
     "mg ZDEx b k\r\nmg ZA==ZA== b k\r\nmg ZDE b k\r\nmg !!!! b k\r\nms ZDE 1 b\r\nx\r\n"
     "md ZDE b\r\nma ZDE b\r\n", pipeline=False)
case("b64-text-key-item", "ms b64plain 1\r\nx\r\nmg " + b64("b64plain") + " b k v\r\n",
     pipeline=False)

# ---------------------------------------------------------------- stale-while-revalidate ----
case("swr-two-clients-sequence",
     "ms $K 3\r\nold\r\nmd $K I T30\r\nmg $K v c t\r\nmg $K v c t\r\nms $K 3 C1 I\r\nbad\r\n"
     "mg $K v\r\nms $K 3\r\nnew\r\nmg $K v\r\n")


# ---------------------------------------------------------------- more combinations ---------
case("ma-ttl-on-hit", "ms $K 1 T100\r\n5\r\nma $K T0 t\r\nmg $K t\r\n")
case("ms-cas-echo-not-stored", "ms $K 1 ME c\r\nx\r\nms $K 1 ME c k O1\r\nx\r\n")
case("md-ma-quiet-exists", "ms $K 1\r\nx\r\nmd $K q C1\r\nma $K q C1\r\nmn\r\n")
case("ms-modes-with-cas", "ms $K 1 ME C5\r\nx\r\nms $K 1 MR C5\r\nx\r\nms $K 1 MA C5\r\nx\r\n"
     "ms $K 1 MP C5\r\nx\r\nms $K 1 ME C5\r\nx\r\nms $K2 1 MR C5\r\nx\r\nmg $K v\r\n")
case("mg-touch-to-forever", "ms $K 1\r\nx\r\nmg $K T0 t\r\nmg $K t\r\n")
case("ma-quiet-hit-with-n", "ms $K 1\r\n1\r\nma $K N0 q v\r\nmn\r\n")
case("md-invalidate-quiet", "ms $K 1\r\nx\r\nmd $K I q\r\nmg $K v\r\nmd $K\r\nmg $K\r\n")
case("ms-stale-quiet", "ms $K 1 I\r\nx\r\nmg $K v\r\nms $K 1 C1 I q\r\ny\r\nmn\r\nmg $K v q\r\n")
case("mg-quiet-swr", "mg $K N0 q\r\nmg $K q\r\nmn\r\nmd $K I\r\nmg $K q\r\nmn\r\n")
case("me-slab-classes", *["ms $K%d %d\r\n%s\r\nme $K%d\r\n" % (i % 10, n, "v" * n, i % 10)
                            for i, n in enumerate([0, 40, 41, 300, 1000, 5000, 20000, 100000,
                                                   300000, 600000, 1048400])], pipeline=False)
case("ms-too-large-drops-old", "ms $K 1\r\nx\r\nms $K 1048577 T0\r\n" + "x" * 1048577 +
     "\r\nmg $K v\r\nms $K2 1\r\nx\r\nms $K2 1048577 MA\r\n" + "y" * 1048577 +
     "\r\nmg $K2 v\r\n", pipeline=False)
case("me-base64", "ms ZXg4 1 b\r\nx\r\nme ZXg4 b\r\nme ex8\r\nme ZXg b\r\n", pipeline=False)


SCRIPTS = {name: script for name, script, _ in CASES}

# -------------------------------------------------------------------------------------------

_CAS = re.compile(rb"( c|cas=)(\d+)")
_TIME = re.compile(rb"( t(?!-1\b)\d+| l\d+| la=\d+| exp=(?!-1 )-?\d+)")
_ANSWER = re.compile(rb"^(HD|VA|EN|NF|NS|EX|ME)( |\r)")


def meta_normalize(data: bytes) -> bytes:
    ids = {}
    out = []
    lines = data.split(b"\n")
    skip_value = False
    for line in lines:
        if not skip_value and _ANSWER.match(line):
            line = _CAS.sub(lambda m: m.group(1) + b"<#%d>" % ids.setdefault(m.group(2), len(ids)),
                            line)
            line = _TIME.sub(lambda m: re.sub(rb"-?\d+$", b"<t>", m.group(1)), line)
        out.append(line)
    return b"\n".join(out)


def _normalized(r: Result) -> Result:
    return Result(meta_normalize(r.data), r.closed, r.close_kind, r.send_error, r.timed_out,
                  r.sent)


def mcheck(pair, make_script):
    last = None
    for quiet in (0.1, 0.4):
        s = make_script()
        ro, rc = run_both(pair, s, quiet)
        died = pair.revive()
        assert not died, "a server died: " + "\n".join(died)
        try:
            compare(s, _normalized(ro), _normalized(rc))
            return ro, rc
        except AssertionError as e:
            last = e
    raise last


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_case(pair, name):
    mcheck(pair, lambda: with_keys(SCRIPTS[name], b"m"))


# (the megabyte cases are left out: a million one-byte writes prove nothing more)
BYTEWISE = [name for name, script in SCRIPTS.items() if sum(map(len, script)) < 20000]


@pytest.mark.parametrize("name", BYTEWISE)
def test_case_bytewise(pair, name):
    mcheck(pair, lambda: chunked(with_keys(SCRIPTS[name], b"mb"), 1))


def _pipeline():
    return [b"".join(b"".join(with_keys(c[1], b"mp")) for c in CASES if c[2])]


@pytest.mark.parametrize("size", [None, 1, 7, 1000])
def test_pipelined(pair, size):
    mcheck(pair, lambda: _pipeline() if size is None else chunked(_pipeline(), size))


def test_swr_two_connections(pair):
    """Stale-while-revalidate across clients: one connection invalidates, a second gets X W
    (it wins the recache), a third gets Z X; the winner's set clears it all."""
    def go(port, key):
        outs = []
        outs.append(run_script(port, [b"ms %s 3\r\nold\r\nmd %s I\r\n" % (key, key)]).data)
        outs.append(run_script(port, [b"mg %s v c\r\n" % key]).data)
        outs.append(run_script(port, [b"mg %s v c\r\n" % key]).data)
        outs.append(run_script(port, [b"ms %s 3\r\nnew\r\nmg %s v\r\n" % (key, key)]).data)
        return meta_normalize(b"".join(outs))
    a, b = (go(p, b"swr2conn") for p in (pair.oracle.port, pair.candidate.port))
    assert a == b, f"memcached {a!r} vs memshield {b!r}"
    assert b" X W" in a and b" Z X" in a



def test_no_cas_mode(servers):
    """-C: every CAS is 0 (c0, cas=0), me's size drops the 8 CAS bytes, C0 matches."""
    pair = servers("-C")
    mcheck(pair, lambda: with_keys([b"ms $K 2 c\r\nhi\r\nmg $K c v\r\nme $K\r\nms $K 2 C0\r\nyo\r\n"
                                    b"md $K C0 q\r\nmn\r\nma $K2 N0 c\r\n"], b"mc"))


def test_ma_cas(pair):
    """ma C<cas>: the item's current CAS applies the delta, a stale one answers EX, C0 compares
    nothing (memcached's do_add_delta); memshield compares under the update's lock."""
    import re
    from memcompat import Dyn

    def cur(raw):
        return int(re.findall(rb" c(\d+)", raw)[-1])

    def script():
        return with_keys([b"ms $K 1 c\r\n7\r\n",
                          Dyn(lambda raw: b"ma $K C%d c v\r\n" % cur(raw), raw=True),
                          Dyn(lambda raw: b"ma $K C%d c v\r\nma $K C0 v\r\nmg $K c v\r\n"
                              % (cur(raw) + 3), raw=True)], b"mcas")
    mcheck(pair, script)
