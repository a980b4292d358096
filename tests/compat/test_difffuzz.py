"""The differential fuzzer (difffuzz.py) on a fixed set of seeds: text, meta and binary commands
on five keys, pipelined and not, replies compared byte for byte with CAS values normalised by
order of appearance. `difffuzz.py --minutes 10` runs fresh seeds for longer."""
import pytest

import difffuzz

SEEDS = [1, 2, 3, 4]
COMMANDS = 1500


@pytest.mark.parametrize("seed", SEEDS)
def test_seed(seed):
    n, report = difffuzz.run_seed(seed, COMMANDS, shrink_budget=40)
    assert report is None, report
    assert n >= COMMANDS


def test_same_tolerates_only_clock_numbers():
    assert difffuzz.same(b"HD t99 c#1\r\n", b"HD t100 c#1\r\n")
    assert not difffuzz.same(b"HD t90 c#1\r\n", b"HD t30 c#1\r\n")
    assert not difffuzz.same(b"HD l0\r\n", b"HD l4\r\n")
    assert not difffuzz.same(b"HD c#1\r\n", b"HD c#2\r\n")
    assert difffuzz.same(b"ME k exp=5 la=1 cas=#3\r\n", b"ME k exp=4 la=0 cas=#3\r\n")


def test_unpad_text_and_binary():
    assert difffuzz.unpad(b"VALUE k 0 3 c#1\r\n5  \r\nEND\r\nVA 2 s2\r\n9 \r\n", "text") == \
        b"VALUE k 0 1 c#1\r\n5\r\nEND\r\nVA 1 s2\r\n9\r\n"
    pkt = b"\x81\x0c\x00\x02\x04\x00\x00\x00\x00\x00\x00\x09" + b"\x00" * 12 + b"\x00" * 4 + b"k2" + b"0  "
    want = b"\x81\x0c\x00\x02\x04\x00\x00\x00\x00\x00\x00\x07" + b"\x00" * 12 + b"\x00" * 4 + b"k2" + b"0"
    assert difffuzz.unpad(pkt, "binary") == want
