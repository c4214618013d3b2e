from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from watcher_adaptive.profiler import framing


def feed_all(buf, chunks):
    out = []
    for c in chunks:
        out += list(buf.feed(c))
    return out


@pytest.mark.hardening("fuzz-guest-records")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b),
                max_size=20),
       st.lists(st.integers(1, 50), min_size=1, max_size=30))
def test_lines_survive_any_chunking(hardening, lines, cuts):
    data = b"".join(line + b"\n" for line in lines)
    chunks, pos, i = [], 0, 0
    while pos < len(data):
        step = cuts[i % len(cuts)]
        chunks.append(data[pos:pos + step])
        pos, i = pos + step, i + 1
    assert feed_all(framing.LineBuffer(64), chunks) == lines
    hardening.count("chunked streams framed back into their lines")


def test_an_oversize_line_is_dropped_whole_and_the_next_one_kept():
    buf = framing.LineBuffer(10)
    out = feed_all(buf, [b"0123456789abc", b"def" * 1000, b"\nok\n"])
    assert out == [framing.Oversize(), b"ok"]


def test_a_stream_without_newline_never_grows_the_buffer():
    buf = framing.LineBuffer(100)
    for _ in range(1000):
        list(buf.feed(b"x" * 4096))
        assert buf.pending <= 100
