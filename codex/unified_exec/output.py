"""The text the model reads back from `exec_command` / `write_stdin`, and its truncation."""

from __future__ import annotations

import math
import secrets

from codex.unified_exec.buffer import Collected

BYTES_PER_TOKEN = 4
DEFAULT_MAX_OUTPUT_TOKENS = 10_000
TRUNCATION_MARK = "\u2026{} tokens truncated\u2026"


def approx_tokens(n_bytes: int) -> int:
    return math.ceil(n_bytes / BYTES_PER_TOKEN)


def _head_cut(data: bytes, n: int) -> bytes:
    """The first ≤ n bytes of `data`, not splitting a UTF-8 sequence."""
    if n >= len(data):
        return data
    while n > 0 and (data[n] & 0xC0) == 0x80:
        n -= 1
    return data[:n]


def _tail_cut(data: bytes, n: int) -> bytes:
    """The last ≤ n bytes of `data`, not splitting a UTF-8 sequence."""
    if n <= 0:
        return b""
    if n >= len(data):
        return data
    start = len(data) - n
    while start < len(data) and (data[start] & 0xC0) == 0x80:
        start += 1
    return data[start:]


def render_output(out: Collected, budget_tokens: int) -> str:
    """`out` as the model sees it: unchanged if it fits in `budget_tokens`, else a head and a
    tail of budget/2 bytes each around a marker saying how many tokens were left out."""
    budget = max(0, budget_tokens) * BYTES_PER_TOKEN
    if out.total <= budget:
        return out.kept.decode("utf-8", "replace")
    half = budget // 2
    if out.dropped == 0:
        data = out.kept
        head, tail = _head_cut(data, half), _tail_cut(data, half)
    else:
        head, tail = _head_cut(out.head, half), _tail_cut(out.tail, half)
    removed = approx_tokens(out.total - budget)
    return (
        f"Total output lines: {out.lines}\n\n"
        + head.decode("utf-8", "replace")
        + TRUNCATION_MARK.format(removed)
        + tail.decode("utf-8", "replace")
    )


def chunk_id() -> str:
    return secrets.token_hex(3)


def format_result(*, wall_time: float, exit_code: int | None, session_id: int | None,
                  out: Collected, budget_tokens: int, warning: str | None = None) -> str:
    """The tool output text: header lines, then `Output:` and the (truncated) output."""
    lines = [f"Chunk ID: {chunk_id()}", f"Wall time: {wall_time:.4f} seconds"]
    if exit_code is not None:
        lines.append(f"Process exited with code {exit_code}")
    else:
        lines.append(f"Process running with session ID {session_id}")
    lines.append(f"Original token count: {approx_tokens(out.total)}")
    if warning:
        lines.append(f"Warning: {warning}")
    lines.append("Output:")
    lines.append(render_output(out, budget_tokens))
    return "\n".join(lines)
