"""The tool output text and its truncation (unified-exec spec, "The text the model gets back")."""

from __future__ import annotations

import re

from codex.unified_exec.buffer import HeadTailBuffer
from codex.unified_exec.output import format_result, render_output


def collected(data: bytes, **caps: int):
    buf = HeadTailBuffer(**caps)
    buf.push(data)
    return buf.drain()


def exec_lines(n: int) -> bytes:
    return b"".join(b"EXEC-LINE-%04d " % i + b"x" * 20 + b"\n" for i in range(1, n + 1))


def test_spec_truncation_example_999_lines_50_tokens() -> None:
    data = exec_lines(999)
    assert len(data) == 35_964
    out = collected(data)
    text = format_result(wall_time=0.01, exit_code=0, session_id=None, out=out, budget_tokens=50)
    assert "Original token count: 8991" in text
    body = text.split("Output:\n", 1)[1]
    assert body.startswith("Total output lines: 999\n\n")
    assert "\u20268941 tokens truncated\u2026" in body
    head = body.removeprefix("Total output lines: 999\n\n").split("\u2026")[0]
    assert len(head.encode()) == 100
    assert head.splitlines()[-1].startswith("EXEC-LINE-0003")  # head ends inside line 3
    tail = body.split("truncated\u2026", 1)[1]
    assert len(tail.encode()) == 100
    assert tail.endswith("EXEC-LINE-0999 " + "x" * 20 + "\n")


def test_output_that_fits_is_unchanged() -> None:
    data = "h\u00e9llo\r\nworld".encode()
    assert render_output(collected(data), 10) == "h\u00e9llo\r\nworld"


def test_exactly_the_budget_fits() -> None:
    data = b"a" * 40
    assert render_output(collected(data), 10) == "a" * 40
    assert "truncated" in render_output(collected(data + b"b"), 10)


def test_cuts_never_split_utf8() -> None:
    data = "\u00e9".encode() * 100  # 2-byte characters
    text = render_output(collected(data), 2)  # 8-byte budget, 4 per side
    assert "\ufffd" not in text
    head, tail = text.split("\n\n", 1)[1].split("tokens truncated\u2026")
    assert head.split("\u2026")[0] == "\u00e9\u00e9"
    assert tail == "\u00e9\u00e9"


def test_odd_cut_inside_a_character_backs_off() -> None:
    data = b"a" + "\u20ac".encode() * 10  # 1 + 30 bytes; 3-byte chars
    text = render_output(collected(data), 1)  # 4 bytes total, 2 per side
    body = text.split("\n\n", 1)[1]
    head, rest = body.split("\u2026", 1)
    assert head == "a"  # the euro sign starting at byte 1 would be split
    assert rest.endswith("truncated\u2026")  # tail of 2 bytes can hold no whole euro sign
    assert "\ufffd" not in text


def test_line_count_rules() -> None:
    assert render_output(collected(b"a\nb\nc" * 50), 1).startswith("Total output lines: 101")
    assert render_output(collected(b"abc\n" * 50), 1).startswith("Total output lines: 50")


def test_truncation_across_dropped_middle_counts_everything() -> None:
    buf = HeadTailBuffer(head_cap=64, tail_cap=64)
    for i in range(100):
        buf.push(b"line %03d\n" % i)  # 9 bytes each, 900 in all
    out = buf.drain()
    assert out.dropped == 900 - 128
    text = render_output(out, 10)  # 40 bytes: 20 + 20
    assert text.startswith("Total output lines: 100\n\nline 000\nline 001\nli\u2026215 tokens")
    assert text.endswith("truncated\u20267\nline 098\nline 099\n")


def test_header_lines_running_and_exited() -> None:
    out = collected(b"hi\n")
    running = format_result(wall_time=1.23456, exit_code=None, session_id=1234, out=out,
                            budget_tokens=100)
    lines = running.split("\n")
    assert re.fullmatch(r"Chunk ID: [0-9a-f]{6}", lines[0])
    assert lines[1:] == ["Wall time: 1.2346 seconds", "Process running with session ID 1234",
                         "Original token count: 1", "Output:", "hi", ""]
    exited = format_result(wall_time=0, exit_code=3, session_id=None, out=out, budget_tokens=1)
    assert exited.split("\n")[2] == "Process exited with code 3"
    assert "session ID" not in exited


def test_warning_line_sits_before_output() -> None:
    text = format_result(wall_time=0, exit_code=None, session_id=1, out=collected(b""),
                         budget_tokens=1, warning="too many")
    assert text.endswith("Warning: too many\nOutput:\n")
