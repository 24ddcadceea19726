"""The 1 MiB head/tail buffer of undelivered output."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codex.unified_exec.buffer import MAX_BUFFER_BYTES, HeadTailBuffer


def test_small_output_is_kept_whole() -> None:
    buf = HeadTailBuffer()
    buf.push(b"abc")
    buf.push(b"def\n")
    out = buf.drain()
    assert out.kept == b"abcdef\n" and out.dropped == 0 and out.lines == 1
    assert buf.drain().total == 0  # drained means empty


def test_flood_keeps_first_and_last_half_mib() -> None:
    buf = HeadTailBuffer()
    chunk = bytes(range(256)) * 256  # 64 KiB
    for _ in range(160):  # 10 MiB
        buf.push(chunk)
        assert len(buf) <= MAX_BUFFER_BYTES
    buf.push(b"TAIL-MARKER\n")
    out = buf.drain()
    assert out.total == 160 * len(chunk) + 12
    assert len(out.head) == MAX_BUFFER_BYTES // 2 and len(out.tail) == MAX_BUFFER_BYTES // 2
    assert out.head == (chunk * 8)[: MAX_BUFFER_BYTES // 2]
    assert out.tail.endswith(b"TAIL-MARKER\n")


def test_one_huge_chunk() -> None:
    buf = HeadTailBuffer(head_cap=4, tail_cap=4)
    buf.push(b"0123456789")
    out = buf.drain()
    assert (out.head, out.tail, out.dropped) == (b"0123", b"6789", 2)


@given(st.lists(st.binary(max_size=40), max_size=40), st.integers(0, 50), st.integers(0, 50))
def test_head_and_tail_are_the_true_ends(chunks: list[bytes], head: int, tail: int) -> None:
    buf = HeadTailBuffer(head_cap=head, tail_cap=tail)
    for c in chunks:
        buf.push(c)
    data = b"".join(chunks)
    out = buf.drain()
    assert out.total == len(data)
    assert out.head == data[:head]
    if out.dropped:
        assert out.tail == data[len(data) - tail:]
    else:
        assert out.head + out.tail == data
    expected_lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    assert out.lines == expected_lines
