"""Differential tests of the memcached 1.6 text protocol: each case is a byte script sent to
memcached and to memshield over fresh connections; the replies must be identical byte for byte
(after normalising only CAS uniques and stats values, see memcompat.py), and so must the
connection being closed or not.

"$K", "$K2", ... in a script become keys unique to that case, so one server pair serves the whole
module. Cases marked PIPELINE_OK are also concatenated into one big pipelined write and re-sent
byte by byte / in odd-sized chunks (test_pipelined_*)."""
import re
import time

import pytest

from memcompat import (Chunks, Dyn, Sleep, Wait, check, chunked, compare, normalize, run_both,
                       run_many, with_keys)

CRLF = b"\r\n"
NOW = int(time.time())
U64_MAX = b"18446744073709551615"

CASES = []        # (id, script, pipeline_ok)


def case(name, *steps, pipeline=True):
    script = [s.encode("latin-1") if isinstance(s, str) else s for s in steps]
    if any(not isinstance(s, (bytes, bytearray)) for s in script):
        pipeline = False
    CASES.append((name, script, pipeline))


# ---------------------------------------------------------------- storage commands ------------

for nr in ("", " noreply"):
    tag = "noreply" if nr else "reply"
    for cmd in ("set", "add", "replace", "append", "prepend"):
        case(f"{cmd}-miss-{tag}", f"{cmd} $K 0 0 1{nr}\r\nx\r\nget $K\r\n")
        case(f"{cmd}-hit-{tag}", f"set $K 3 0 2\r\nab\r\n{cmd} $K 5 0 1{nr}\r\nx\r\nget $K\r\n")
        case(f"{cmd}-hit-gets-{tag}",
             f"set $K 3 0 2\r\nab\r\ngets $K\r\n{cmd} $K 7 0 3{nr}\r\nxyz\r\ngets $K\r\n")
        case(f"{cmd}-zero-length-{tag}",
             f"set $K 0 0 0\r\n\r\n{cmd} $K 0 0 0{nr}\r\n\r\nget $K\r\n")
    case(f"cas-miss-{tag}", f"cas $K 0 0 1 12345{nr}\r\nx\r\nget $K\r\n")
    case(f"cas-wrong-unique-{tag}",
         f"set $K 0 0 1\r\na\r\ngets $K\r\ncas $K 0 0 1 999999999{nr}\r\nx\r\ngets $K\r\n")
    case(f"cas-right-unique-{tag}",
         "set $K 0 0 1\r\na\r\ngets $K\r\n",
         Dyn(lambda cas, nr=nr: b"cas $K 9 0 2 %d%s\r\nxy\r\ngets $K\r\n" % (cas[-1], nr.encode()),
             "cas with the server's own unique"))
    case(f"cas-stale-unique-{tag}",
         "set $K 0 0 1\r\na\r\ngets $K\r\nset $K 0 0 1\r\nb\r\n",
         Dyn(lambda cas, nr=nr: b"cas $K 0 0 1 %d%s\r\nc\r\ngets $K\r\n" % (cas[-1], nr.encode()),
             "cas with a stale unique"))
    case(f"cas-twice-same-unique-{tag}",
         "set $K 0 0 1\r\na\r\ngets $K\r\n",
         Dyn(lambda cas, nr=nr: b"cas $K 0 0 1 %d%s\r\nb\r\ncas $K 0 0 1 %d%s\r\nc\r\ngets $K\r\n"
             % (cas[-1], nr.encode(), cas[-1], nr.encode()), "cas twice with one unique"))
case("cas-unique-zero", "set $K 0 0 1\r\na\r\ncas $K 0 0 1 0\r\nb\r\nget $K\r\n")
case("cas-unique-max", f"set $K 0 0 1\r\na\r\ncas $K 0 0 1 {U64_MAX.decode()}\r\nb\r\nget $K\r\n")
case("cas-unique-overflow", "cas $K 0 0 1 18446744073709551616\r\nb\r\nget $K\r\n")
case("cas-unique-abc", "cas $K 0 0 1 abc\r\nb\r\n")
case("cas-unique-negative", "set $K 0 0 1\r\na\r\ncas $K 0 0 1 -1\r\nb\r\n")
case("cas-missing-unique", "cas $K 0 0 1\r\nb\r\n")
case("cas-too-many-tokens", "cas $K 0 0 1 1 noreply x\r\nb\r\n")
case("cas-after-append", "set $K 0 0 1\r\na\r\ngets $K\r\nappend $K 0 0 1\r\nb\r\ngets $K\r\n"
     "incr $K 1\r\nset $K 0 0 1\r\n5\r\ngets $K\r\nincr $K 1\r\ngets $K\r\ntouch $K 100\r\n"
     "gets $K\r\ngats 100 $K\r\n")

# flags
for flags in ("0", "1", "65535", "4294967295", "4294967296", "4294967297", "18446744073709551615",
              "18446744073709551616", "-1", "-0", "abc", "1x", "+5", "0x10", "007", " 5",
              "99999999999999999999999"):
    case(f"flags-{flags.strip() or 'empty'}", f"set $K {flags} 0 1\r\nx\r\nget $K\r\ngets $K\r\n")
case("flags-on-append-ignored", "set $K 7 0 1\r\na\r\nappend $K 9 0 1\r\nb\r\nget $K\r\n")

# exptime
for exp in ("0", " 5", "100", "-1", "-100", "1000000000", "2592000", "2592001", str(NOW - 10),
            str(NOW + 1000), "2147483647", "2147483648", "-2147483649", "99999999999", "abc",
            "1x", "+5", "0x10", "007"):
    case(f"exptime-{exp}", f"set $K 0 {exp} 1\r\nx\r\nget $K\r\n")

# bytes
for nb in ("abc", " 1", "1x", "+1", "-1", "01", "0x1", "4294967297", "2147483647", "2147483648",
           "99999999999"):
    case(f"bytes-{nb}", f"set $K 0 0 {nb}\r\nx\r\nget $K\r\n",
         pipeline=(nb != "99999999999"))  # that one is truncated to 32 bits: a huge swallow

# values
case("value-with-crlf-inside", "set $K 0 0 6\r\na\r\nb\r\n\r\nget $K\r\n")
case("value-only-crlf", "set $K 0 0 2\r\n\r\n\r\nget $K\r\n")
case("value-binary", b"set $K 0 0 6\r\n\x00\xff\n\r\x01 \r\nget $K\r\n")
case("value-looks-like-commands", "set $K 0 0 14\r\nEND\r\nVALUE x 0\r\nget $K\r\n")
case("data-chunk-too-short", "set $K 0 0 5\r\nabc\r\n", Wait(), "get $K\r\nget $K\r\n")
case("data-chunk-too-short-pipelined", "set $K 0 0 5\r\nabc\r\nget $K\r\nget $K\r\n")
case("data-chunk-too-long", "set $K 0 0 2\r\nabcd\r\nget $K\r\n")
case("data-chunk-too-long-noreply", "set $K 0 0 2 noreply\r\nabcd\r\nget $K\r\n")
case("data-chunk-too-long-existing", "set $K 0 0 1\r\na\r\nset $K 0 0 2\r\nabcd\r\nget $K\r\n")
case("data-chunk-bad-terminator", "set $K 0 0 1\r\nxyz\r\nget $K\r\n")
case("data-chunk-lf-only", "set $K 0 0 1\nx\nget $K\r\n")
case("data-chunk-cr-only", "set $K 0 0 1\r\nx\rget $K\r\n")
case("data-chunk-append-bad", "set $K 0 0 1\r\na\r\nappend $K 0 0 1\r\nbc\r\nget $K\r\n")
case("data-chunk-split", "set $K 0 0 10\r\n01234", Sleep(0.05), "56789", Sleep(0.05), "\r",
     Sleep(0.05), "\nget $K\r\n")

# token counts
case("set-4-tokens", "set $K 0 0\r\nx\r\nget $K\r\n")
case("set-3-tokens", "set $K 0\r\n")
case("set-2-tokens", "set $K\r\n")
case("set-1-token", "set\r\n")
case("set-7-tokens-not-noreply", "set $K 0 0 1 extra\r\nx\r\nget $K\r\n")
case("set-8-tokens", "set $K 0 0 1 noreply extra\r\nx\r\nget $K\r\n")
case("set-noreply-uppercase", "set $K 0 0 1 NOREPLY\r\nx\r\nget $K\r\n")
case("add-4-tokens", "add $K 0 0\r\n")
case("append-8-tokens", "append $K 0 0 1 noreply x\r\ny\r\n")
case("get-no-key", "get\r\n")
case("get-no-key-space", "get \r\n")
case("gets-no-key", "gets\r\n")
case("delete-no-key", "delete\r\n")
case("incr-no-key", "incr\r\n")
case("incr-missing-delta", "set $K 0 0 1\r\n1\r\nincr $K\r\n")
case("decr-missing-delta", "decr $K\r\n")
case("incr-extra-token", "set $K 0 0 1\r\n1\r\nincr $K 1 noreply x\r\nget $K\r\n")
case("touch-no-exptime", "touch $K\r\n")
case("touch-extra-token", "touch $K 0 noreply x\r\n")

# ---------------------------------------------------------------- delete -----------------------

for hit in (False, True):
    pre = "set $K 0 0 1\r\nx\r\n" if hit else ""
    h = "hit" if hit else "miss"
    for args in ("", " 0", " noreply", " 0 noreply", " 1", " -1", " 0 0", " abc", " noreply 0",
                 " 0 noreply x", " a b c", " a b c d", " 0 x", " 00"):
        case(f"delete-{h}-[{args.strip()}]", f"{pre}delete $K{args}\r\nget $K\r\n")

# ---------------------------------------------------------------- get family -------------------

K250 = "g" * 250
K251 = "h" * 251
case("get-miss", "get $K\r\n")
case("gets-miss", "gets $K\r\n")
case("get-hit", "set $K 42 0 3\r\nabc\r\nget $K\r\n")
case("get-multi", "set $K 0 0 1\r\na\r\nset $K2 1 0 2\r\nbb\r\nget $K $K3 $K2 $K\r\n")
case("gets-multi", "set $K 0 0 1\r\na\r\nset $K2 1 0 2\r\nbb\r\ngets $K $K3 $K2 $K\r\n")
case("get-duplicate-keys", "set $K 0 0 1\r\na\r\nget $K $K $K\r\ngets $K $K\r\n")
many = " ".join(f"$K{i % 10}" if i % 3 == 0 else f"$K{i % 10}" for i in range(40))
case("get-40-keys", "".join(f"set $K{i} {i} 0 {i}\r\n{'v' * i}\r\n" for i in range(0, 10, 2)) +
     f"get {many}\r\ngets {many}\r\n")
LONGGET = "get " + " ".join(f"mk{i:05d}" for i in range(400)) + "\r\n"
case("get-400-keys-long-line", f"set mk00007 0 0 1\r\nx\r\n{LONGGET}")
case("get-400-keys-long-line-in-pieces", Chunks(f"set mk00008 0 0 1\r\nx\r\n{LONGGET}".encode(),
                                                   300, 0.01))
case("key-250", f"set {K250} 0 0 1\r\nx\r\nget {K250}\r\ngets {K250}\r\ndelete {K250}\r\n"
                f"get {K250}\r\n")
# memcached quirk, deliberately NOT reproduced: a get/gets/gat with a >250-byte key answers
# CLIENT_ERROR and also throws away the replies already queued for earlier commands of the same
# read batch, which leaves a pipelining client one reply short and out of step. memshield answers
# every command. So only cases where nothing is queued before the long key run in one write; the
# "-separate" variants (waiting for each reply) cover the rest byte for byte. Kept out of the
# pipelines.
WIPES_QUEUED = {"key-251-set", "key-251-in-multiget", "key-251-in-multigets",
                "key-251-in-multigat", "key-251-last-in-multiget", "key-251-after-errors"}
for name, text in (
        ("key-251-set", f"set {K251} 0 0 1\r\nx\r\nget {K251}\r\n"),
        ("key-251-get", f"get {K251}\r\n"),
        ("key-251-gets", f"gets {K251}\r\n"),
        ("key-251-delete", f"delete {K251}\r\n"),
        ("key-251-incr", f"incr {K251} 1\r\n"),
        ("key-251-touch", f"touch {K251} 1\r\n"),
        ("key-251-gat", f"gat 0 {K251}\r\n"),
        ("key-251-in-multiget", f"set $K 0 0 1\r\na\r\nset $K2 0 0 1\r\nb\r\n"
                                f"get $K {K251} $K2\r\nget $K\r\n"),
        ("key-251-in-multigets", f"set $K 0 0 1\r\na\r\ngets $K $K3 {K251} $K2\r\n"),
        ("key-251-in-multigat", f"set $K 0 0 1\r\na\r\ngat 0 $K {K251} $K\r\n"),
        ("key-251-last-in-multiget", f"set $K 0 0 1\r\na\r\nget $K $K {K251}\r\n"),
        ("key-251-after-errors", f"bogus\r\nset $K 0 0 1 x\r\nget {K251}\r\nversion\r\n")):
    if name not in WIPES_QUEUED:
        case(name, text, pipeline=False)
    lines = text.split("\r\n")[:-1]
    steps = []
    i = 0
    while i < len(lines):
        line = lines[i] + "\r\n"
        if re.match(r"(set|add|replace|append|prepend|cas) \S+ \d+ \d+ \d+\r\n$", line):
            i += 1
            line += lines[i] + "\r\n"
        steps += [line, Wait()]
        i += 1
    case(name + "-separate", *steps, pipeline=False)
case("key-with-tab", "set $K\tx 0 0 1\r\nx\r\nget $K\tx\r\nget $K\r\n")
case("key-with-control-bytes", b"set $K\x01\x7f\xff 0 0 1\r\nx\r\nget $K\x01\x7f\xff\r\n")
case("gat-hit-miss", "set $K 0 0 1\r\na\r\ngat 100 $K $K2\r\ngats 100 $K $K2 $K\r\nget $K\r\n")
case("gat-negative-expires", "set $K 0 0 1\r\na\r\ngat -1 $K\r\nget $K\r\n")
case("gats-cas-unchanged", "set $K 0 0 1\r\na\r\ngets $K\r\ngats 0 $K\r\ngats 50 $K\r\n")
case("gat-40-keys", "set $K1 0 0 1\r\na\r\ngat 100 " + " ".join(f"$K{i % 7}" for i in range(40))
     + "\r\n")
for bad in ("abc", "1x", "", "-", "99999999999", "+5"):
    case(f"gat-bad-exptime-[{bad}]", f"set $K 0 0 1\r\na\r\ngat {bad} $K\r\ngats {bad} $K\r\n")
case("gat-no-key", "gat 100\r\n")
case("gats-no-key", "gats 100\r\n")
case("gat-no-args", "gat\r\n")
case("gat-noreply-is-a-key", "set noreply 0 0 1\r\nn\r\ngat 0 $K noreply\r\n")
case("gat-long-line-in-pieces",  # memcached only tolerates >2048 bytes without \n for get/gets
     Chunks(("gat 0 " + " ".join(f"gk{i:05d}" for i in range(400)) + "\r\nget $K\r\n").encode(),
            300, 0.01), pipeline=False)

# ---------------------------------------------------------------- incr / decr ------------------

for cmd in ("incr", "decr"):
    case(f"{cmd}-miss", f"{cmd} $K 1\r\n")
    case(f"{cmd}-miss-noreply", f"{cmd} $K 1 noreply\r\nget $K\r\n")
    case(f"{cmd}-hit-noreply", f"set $K 0 0 2\r\n10\r\n{cmd} $K 3 noreply\r\nget $K\r\n")
    case(f"{cmd}-zero", f"set $K 0 0 1\r\n5\r\n{cmd} $K 0\r\nget $K\r\n")
    for val in ("abc", "12a", "", " 5", "5 ", "  7", "-5", "+5", "0x10", "007",
                U64_MAX.decode(), "18446744073709551616", "99999999999999999999",
                "00000000000000000000000000000042", "1.5", "1\r\n2"):
        case(f"{cmd}-value-[{val!r}]", f"set $K 3 0 {len(val)}\r\n{val}\r\n{cmd} $K 1\r\nget $K\r\n")
    for delta in ("abc", "-1", "1x", "+1", U64_MAX.decode(), "18446744073709551616", "0x1",
                  "01", "99999999999999999999"):
        case(f"{cmd}-delta-[{delta}]", f"set $K 0 0 2\r\n10\r\n{cmd} $K {delta}\r\nget $K\r\n")
case("incr-wrap", f"set $K 0 0 20\r\n{U64_MAX.decode()}\r\nincr $K 1\r\nget $K\r\nincr $K "
                  f"{U64_MAX.decode()}\r\nget $K\r\n")
case("incr-wrap-big", "set $K 0 0 2\r\n10\r\nincr $K 18446744073709551610\r\nget $K\r\n")
case("decr-floor", "set $K 0 0 2\r\n10\r\ndecr $K 11\r\nget $K\r\ndecr $K 1\r\nget $K\r\n")
case("decr-100-by-1", "set $K 0 0 3\r\n100\r\ndecr $K 1\r\nget $K\r\ngets $K\r\ndecr $K 90\r\n"
                      "get $K\r\nincr $K 991\r\nget $K\r\n")
case("decr-shrinks-keeps-length", "set $K 5 0 5\r\n10000\r\ndecr $K 9999\r\nget $K\r\n"
                                  "append $K 0 0 1\r\nx\r\nget $K\r\n")
case("incr-grows", "set $K 7 0 2\r\n99\r\nincr $K 1\r\nget $K\r\nincr $K 18446744073709551000\r\n"
                   "get $K\r\n")
case("incr-zero-length-value", "set $K 0 0 0\r\n\r\nincr $K 1\r\n")
case("incr-after-append", "set $K 0 0 1\r\n1\r\nappend $K 0 0 1\r\n2\r\nincr $K 1\r\nget $K\r\n")
case("incr-large-value-item", f"set $K 0 0 40\r\n{'0' * 39}1\r\nincr $K 1\r\nget $K\r\n")

# ---------------------------------------------------------------- touch ------------------------

case("touch-hit", "set $K 0 0 1\r\na\r\ntouch $K 100\r\nget $K\r\n")
case("touch-miss", "touch $K 100\r\n")
case("touch-noreply", "set $K 0 0 1\r\na\r\ntouch $K 100 noreply\r\ntouch $K2 1 noreply\r\n"
                      "get $K\r\n")
case("touch-negative-expires", "set $K 0 0 1\r\na\r\ntouch $K -1\r\nget $K\r\n")
case("touch-absolute-past", "set $K 0 0 1\r\na\r\ntouch $K 1000000000\r\nget $K\r\n")
case("touch-zero", "set $K 0 100 1\r\na\r\ntouch $K 0\r\nget $K\r\n")
for bad in ("abc", "1x", "+5", "99999999999"):
    case(f"touch-bad-exptime-[{bad}]", f"set $K 0 0 1\r\na\r\ntouch $K {bad}\r\nget $K\r\n")

# ---------------------------------------------------------------- flush_all / version / verbosity

case("flush_all", "set $K 0 0 1\r\na\r\nflush_all\r\nget $K\r\nset $K 0 0 1\r\nb\r\nget $K\r\n")
case("flush_all-0", "set $K 0 0 1\r\na\r\nflush_all 0\r\nget $K\r\n")
case("flush_all-noreply", "set $K 0 0 1\r\na\r\nflush_all noreply\r\nget $K\r\n")
case("flush_all-0-noreply", "set $K 0 0 1\r\na\r\nflush_all 0 noreply\r\nget $K\r\n")
for bad in ("abc", "1x", "0 0", "0 x", "noreply 0", "0 noreply x", "+0", "99999999999"):
    case(f"flush_all-bad-[{bad}]", f"set $K 0 0 1\r\na\r\nflush_all {bad}\r\nget $K\r\n")
case("flush_all-then-add", "set $K 0 0 1\r\na\r\nflush_all\r\nadd $K 0 0 1\r\nb\r\n"
                           "replace $K2 0 0 1\r\nc\r\nget $K $K2\r\n")
case("version", "version\r\n")
case("version-extra-arg", "version x\r\n")
case("version-noreply", "version noreply\r\n")
case("verbosity-no-arg", "verbosity\r\n")
case("verbosity", "verbosity 1\r\nverbosity 0\r\n")
case("verbosity-noreply", "verbosity 1 noreply\r\nverbosity 0 noreply\r\nversion\r\n")
case("verbosity-bad", "verbosity abc\r\nverbosity 0\r\n")
case("verbosity-negative", "verbosity -1\r\nverbosity 0\r\n")
case("verbosity-too-many", "verbosity 1 2 3\r\nverbosity 0\r\n")
case("verbosity-big", "verbosity 99999999999\r\nverbosity 0\r\n")

# ---------------------------------------------------------------- stats (values not compared) ---

case("stats", "stats\r\n")
case("stats-settings", "stats settings\r\n")
case("stats-reset", "stats reset\r\n")
case("stats-unknown", "stats foo\r\n")
case("stats-detail-usage", "stats detail\r\n")

# ---------------------------------------------------------------- line syntax ------------------

case("unknown-command", "foo\r\n")
case("unknown-command-args", "foo bar baz\r\n")
case("uppercase-GET", "set $K 0 0 1\r\na\r\nGET $K\r\n")
case("uppercase-SET", "SET $K 0 0 1\r\na\r\nget $K\r\n")
case("mixedcase-Get", "Get $K\r\n")
case("empty-line", "\r\n")
case("empty-lines", "\r\n\r\n\n\r\n")
case("only-spaces", "   \r\n")
case("lf-only", "set $K 0 0 1\nx\r\nget $K\ngets $K\nversion\n")
case("cr-cr-lf", "set $K 0 0 1\r\nx\r\nget $K\r\r\nversion\r\r\n")
case("cr-in-middle", "get $K\rget $K\r\n")
case("leading-spaces", "set $K 0 0 1\r\nx\r\n   get $K\r\n  version\r\n")
case("trailing-spaces", "set $K 0 0 1   \r\nx\r\nget $K   \r\nversion  \r\n")
case("double-spaces", "set  $K  0  0  1\r\nx\r\nget  $K   $K\r\n")
case("tab-separator", "set\t$K 0 0 1\r\nx\r\nget\t$K\r\nget $K\t\r\n")
case("nul-byte-in-command", b"get $K\x00 junk\r\nversion\r\n")
case("incomplete-line-then-rest", "ge", Sleep(0.05), "t $K", Sleep(0.05), "\r\nversion\r\n")
case("very-long-line-one-write",  # memcached sees the \n at once and handles the line
     "x" * 3000 + "\r\nversion\r\n", pipeline=False)
case("very-long-line-close", "x" * 3000, Sleep(0.1), "\r\nversion\r\n")
case("very-long-set-line-close", "set " + "k" * 2996, Sleep(0.1), " 0 0 1\r\nx\r\nversion\r\n")
# The pause matters: without it a busy server may read the \n together with the x's (and then
# handle the line), a race on either server rather than a difference between them.
case("very-long-line-bytewise", Chunks(b"x" * 3000, 1), Sleep(0.1), "\r\nversion\r\n")
case("long-leading-spaces-get", " " * 2100, Sleep(0.1), "get $K\r\nversion\r\n")
case("quit", "quit\r\nversion\r\n", pipeline=False)
case("quit-extra-args", "quit now\r\nversion\r\n", pipeline=False)
case("quit-after-commands", "set $K 0 0 1\r\nx\r\nget $K\r\nquit\r\nget $K\r\n", pipeline=False)
case("quit-noreply", "quit noreply\r\nversion\r\n", pipeline=False)

# ---------------------------------------------------------------- expiry over time -------------

case("expiry-after-sleep",
     "set $K 0 2 1\r\na\r\nset $K2 0 2 1\r\nb\r\ntouch $K2 100\r\nset $K3 0 100 1\r\nc\r\n"
     "touch $K3 2\r\nset $K4 0 0 1\r\nd\r\ngat 2 $K4\r\nget $K $K2 $K3 $K4\r\n",
     Sleep(3.2), "get $K $K2 $K3 $K4\r\n")

ALL_IDS = [c[0] for c in CASES]
assert len(ALL_IDS) == len(set(ALL_IDS)), "duplicate case ids"


SCRIPTS = {c[0]: c[1] for c in CASES}
BYTEWISE_IDS = [c[0] for c in CASES if c[2]]


def serial(name):
    """Cases that touch every key (flush_all) cannot run concurrently with others."""
    return name.startswith("flush_all")


@pytest.fixture(scope="module")
def batch(pair):
    """All the independent cases, whole and byte by byte, run concurrently up front (8 at a
    time, fresh connections and keys each); the tests below judge these results and re-run a
    case on its own only when its batch result mismatches."""
    jobs = {}
    for name, script, pipeline_ok in CASES:
        if serial(name):
            continue
        jobs[("whole", name)] = with_keys(script)
        if pipeline_ok:
            jobs[("bytes", name)] = chunked(with_keys(script), 1)
    return run_many(pair, jobs)


def _judge(pair, batch, kind, name, fresh):
    got = batch.get((kind, name))
    if got is None:  # serial case, or the batch was void (a server crashed during it)
        check(pair, fresh, keyed=False)
        return
    try:
        compare(*got)
    except AssertionError:
        # confirm on its own, without concurrent load, before reporting
        check(pair, fresh, keyed=False, attempts=(0.3,))


@pytest.mark.parametrize("name", ALL_IDS)
def test_case(pair, batch, name):
    _judge(pair, batch, "whole", name, lambda: with_keys(SCRIPTS[name]))


@pytest.mark.parametrize("name", BYTEWISE_IDS)
def test_case_bytewise(pair, batch, name):
    """Each case again, sent one byte per write."""
    _judge(pair, batch, "bytes", name, lambda: chunked(with_keys(SCRIPTS[name]), 1))


# ---------------------------------------------------------------- pipelines --------------------

def _pipeline(prefix):
    return b"".join(b"".join(with_keys(c[1], prefix)) for c in CASES if c[2])


_KEYS = re.compile(rb"p[a-z]\d+(?:_\d)?")


def test_pipelined_then_quit(pair):
    """The whole pipeline, then quit and more commands: all answered up to quit, then closed."""
    ro, rc = check(pair, lambda: [_pipeline(b"pq") + b"quit\r\nversion\r\n"], keyed=False)
    assert ro.closed and ro.data.endswith(b"VERSION 1.6.18\r\n")
    # Which queued answers a server still sends when garbage kills the connection depends on
    # how reads were batched (timing); so the garbage follows only once the answers are in.
    check(pair, lambda: [_pipeline(b"pq"), Wait()] +
          chunked([b"x" * 3000, Sleep(0.1), b"\r\nversion\r\n"], 5), keyed=False)


@pytest.mark.parametrize("size", [None, 1, 2, 7, 64, 1000])
def test_pipelined(pair, size):
    """All pipeline-safe cases in one write (or re-cut into `size`-byte writes): same output on
    both servers, and (per server) the same output as the single-write pipeline."""
    ro_w, rc_w = check(pair, lambda: [_pipeline(b"pw")], keyed=False)
    if size is None:
        assert len(ro_w.data) > 10000
        return
    ro, rc = check(pair, lambda: chunked([_pipeline(b"pc")], size), keyed=False)
    for name, a, b in (("memcached", ro_w, ro), ("memshield", rc_w, rc)):
        na = _KEYS.sub(b"<key>", normalize(a.data)[0])
        nb = _KEYS.sub(b"<key>", normalize(b.data)[0])
        assert na == nb, f"{name}: chunked ({size}) output differs from single-write output"


# ---------------------------------------------------------------- value too large -------------

def test_value_too_large(servers):
    """-I 1m: a 1048516-byte value with key "a" flags 0 is stored, 1048517 bytes is refused with
    SERVER_ERROR object too large for cache, the value is swallowed (and the old "a" is gone),
    then the next command works."""
    pair = servers("-I", "1m")
    ok = b"set a 0 0 1048516\r\n" + b"v" * 1048516 + b"\r\n"
    big = b"set a 0 0 1048517\r\n" + b"w" * 1048517 + b"\r\n"
    check(pair, [ok, b"get a\r\n"])
    check(pair, [ok, big, b"get a\r\nversion\r\n"])
    check(pair, [ok, Chunks(big, 65536), b"get a\r\nversion\r\n"])
    check(pair, [Chunks(b"set a 0 0 1048517 noreply\r\n" + b"w" * 1048517 + b"\r\nget a\r\n",
                        100000)])
    check(pair, [b"set a 0 0 5000000\r\n" + b"z" * 5000000 + b"\r\nget a\r\nversion\r\n"])
    check(pair, [ok, b"append a 0 0 1\r\nx\r\nget a\r\nprepend a 0 0 100\r\n" + b"p" * 100
                 + b"\r\nversion\r\n"])


def test_no_cas_mode(servers):
    """-C: CAS disabled; compared exactly (uniques are not normalised)."""
    pair = servers("-C")
    for s in ([b"set $K 0 0 1\r\na\r\ngets $K\r\ngats 0 $K\r\ncas $K 0 0 1 0\r\nb\r\nget $K\r\n"],
              [b"set $K 0 0 1\r\na\r\ncas $K 0 0 1 1\r\nb\r\ncas $K2 0 0 1 0\r\nc\r\n"],
              [b"set $K 0 0 1\r\n1\r\nincr $K 5\r\ngets $K\r\n"]):
        check(pair, s, cas_exact=True)


def test_memory_limit_flag(servers):
    """-m 8: 30MB of 100KB values stored with noreply; the most recent ones must be there."""
    pair = servers("-m", "8")
    v = b"y" * 100000
    script = b"".join(b"set big%d 0 0 100000 noreply\r\n%s\r\n" % (i, v) for i in range(300))
    check(pair, [script, Wait(), b"get big299 big298\r\nversion\r\n"])


def test_cas_semantics(pair):
    """CAS uniques, checked on each server on its own: same item same unique, a new unique after
    every modification, unchanged by touch/gat, distinct items have distinct uniques."""
    script = with_keys([
        b"set $K 0 0 1\r\na\r\nset $K2 0 0 1\r\nb\r\ngets $K $K2 $K\r\n",   # 0 1 2
        b"touch $K 100\r\ngats 100 $K\r\n",                                  # 3
        b"append $K 0 0 1\r\nx\r\ngets $K\r\n",                              # 4
        b"prepend $K 0 0 1\r\nx\r\ngets $K\r\n",                             # 5
        b"set $K 0 0 1\r\n1\r\ngets $K\r\n",                                 # 6
        b"incr $K 1\r\ngets $K\r\n",                                         # 7
        b"decr $K 1\r\ngets $K\r\n",                                         # 8
        b"replace $K 0 0 1\r\nz\r\ngets $K\r\n",                             # 9
    ])
    for res in run_both(pair, script):
        cas = [c for _, c in normalize(res.data)[1]]
        assert len(cas) == 10, res.data
        assert cas[0] == cas[2] == cas[3], cas
        assert cas[0] != cas[1], cas
        assert len(set(cas[3:])) == 7 and cas[1] not in cas[3:], cas
    check(pair, script)
