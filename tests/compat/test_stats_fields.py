"""`stats` and `stats settings`: the values are never compared (they legitimately differ), but the
field NAMES are: the same set, and the same order, as memcached 1.6.18 started with the same flags.
Kept apart from test_text_protocol.py so that a naming difference is reported on its own."""
import pytest

from memcompat import run_both, show


def _names(data: bytes):
    names = []
    lines = data.split(b"\r\n")
    assert lines[-2:] == [b"END", b""], f"stats output does not end in END\\r\\n: {show(data)}"
    for line in lines[:-2]:
        parts = line.split(b" ", 2)
        assert parts[0] == b"STAT" and len(parts) == 3, f"not a STAT line: {line!r}"
        names.append(parts[1].decode("latin-1"))
    return names


def _both(pair, command):
    ro, rc = run_both(pair, [command])
    pair.check_alive()
    return _names(ro.data), _names(rc.data)


@pytest.mark.parametrize("command", [b"stats\r\n", b"stats settings\r\n"],
                         ids=["stats", "stats-settings"])
def test_stats_field_name_set(pair, command):
    mc, ms = _both(pair, command)
    missing = [n for n in mc if n not in ms]
    extra = [n for n in ms if n not in mc]
    assert not missing and not extra, (
        f"{command!r}: fields only in memcached: {missing}; fields only in memshield: {extra}")


@pytest.mark.parametrize("command", [b"stats\r\n", b"stats settings\r\n"],
                         ids=["stats", "stats-settings"])
def test_stats_field_name_order(pair, command):
    mc, ms = _both(pair, command)
    common = set(mc) & set(ms)
    a = [n for n in mc if n in common]
    b = [n for n in ms if n in common]
    assert a == b, (f"{command!r}: order of common fields differs\n memcached: {a}\n "
                    f"memshield: {b}")
    assert len(ms) == len(set(ms)), f"{command!r}: memshield repeats a field: {ms}"
