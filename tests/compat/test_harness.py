"""Self-tests of the differential machinery (no servers needed)."""
import pytest

from memcompat import (STATS_PLACEHOLDER, Chunks, Result, Sleep, cas_pattern, chunked, compare,
                       normalize, with_keys)


def test_cas_replaced_and_collected():
    data = (b"VALUE a 0 1 17\r\nx\r\nVALUE b 5 3 99\r\nVAL\r\nEND\r\n"
            b"VALUE c 0 16\r\nVALUE d 0 1 5\r\n\r\nEND\r\n")
    norm, cas = normalize(data)
    assert norm == (b"VALUE a 0 1 <cas>\r\nx\r\nVALUE b 5 3 <cas>\r\nVAL\r\nEND\r\n"
                    b"VALUE c 0 16\r\nVALUE d 0 1 5\r\n\r\nEND\r\n")  # data block is not parsed
    assert cas == [(b"a", 17), (b"b", 99)]
    assert normalize(data, cas_exact=True)[0] == data


def test_stats_collapsed_but_not_errors():
    data = b"STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nERROR\r\nSTAT x y\r\nEND\r\n"
    assert normalize(data)[0] == STATS_PLACEHOLDER + b"END\r\nERROR\r\n" + STATS_PLACEHOLDER + \
        b"END\r\n"


def test_truncated_and_garbage_pass_through():
    for data in (b"VALUE a 0 10 1\r\nabc", b"VALUE a x 1\r\nzz\r\n", b"partial line", b""):
        norm, _ = normalize(data)
        assert norm.replace(b"<cas>", b"1") == data


def test_cas_pattern():
    assert cas_pattern([(b"a", 5), (b"a", 5), (b"b", 9), (b"a", 7)]) == [0, 0, 2, 3]
    assert cas_pattern([(b"a", 1), (b"a", 1), (b"b", 2), (b"a", 3)]) == [0, 0, 2, 3]


def _r(data, closed=False):
    return Result(data, closed, "eof" if closed else "", "", False)


def test_compare():
    compare([b""], _r(b"VALUE a 0 1 5\r\nx\r\nEND\r\n"), _r(b"VALUE a 0 1 8\r\nx\r\nEND\r\n"))
    with pytest.raises(AssertionError, match="CAS pattern"):
        compare([b""], _r(b"VALUE a 0 1 5\r\nx\r\nVALUE a 0 1 5\r\nx\r\n"),
                _r(b"VALUE a 0 1 5\r\nx\r\nVALUE a 0 1 6\r\nx\r\n"))
    with pytest.raises(AssertionError, match="closed"):
        compare([b""], _r(b"", True), _r(b""))
    with pytest.raises(AssertionError, match="memcached b'STORED"):
        compare([b"x"], _r(b"STORED\r\n"), _r(b"NOT_STORED\r\n"))


def test_with_keys_and_chunked():
    s = with_keys([b"set $K 0 0 1\r\nx\r\nget $K $K2 $K\r\n", Sleep(0.1)], b"q")
    a = s[0].split()
    assert a[1] == a[7] == a[9] and a[8] == a[1] + b"_2"
    t = with_keys([b"get $K\r\n"], b"q")
    assert t[0] != b"get " + a[1] + b"\r\n"
    c = chunked(s, 3)
    assert isinstance(c[0], Chunks) and c[0].size == 3 and c[0].data == s[0]
    assert c[1] is s[1]
