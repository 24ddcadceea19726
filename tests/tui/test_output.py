"""The way to the scrollback: ordered output with a render budget, the plain-line fast path,
capped Markdown chunks, the early composer on a real pty, and the trust root of a checkout."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codex.tui import trust
from codex.tui.early import EarlyComposer
from codex.tui.markdown_stream import MarkdownStream
from codex.tui.output import HistoryQueue
from codex.tui.render import (
    CODE_THEME,
    AnswerMarkdown,
    Renderer,
    plain_paragraphs,
    strip_blank_edges,
    visible,
)


def _rich(r: Renderer, source: str, width: int) -> list[str]:
    return strip_blank_edges(r.lines(AnswerMarkdown(source, code_theme=CODE_THEME,
                                                    hyperlinks=False), width))


@pytest.mark.parametrize("source", [
    "hello world\n",
    "  leading and trailing blanks  \nnext line\n\n\n\nanother paragraph\n",
    "w001 w002 w003 w004 \nw005 w006\n",
    "one. two, (four) \"five\" 'six' 8% $9 @10 {11} ^12 /13 ?14 :15\n",
    "\n\nblank lines around\n\n",
    "a  b   c (inner spaces kept)\n",
    "http://example.com/path?q=1 is a plain line\n",
])
def test_plain_lines_render_as_rich_renders_them(source: str) -> None:
    r = Renderer(color_system=None)
    fast = plain_paragraphs(source, 60)
    assert fast is not None
    assert fast == _rich(r, source, 60)


@pytest.mark.parametrize("source", [
    "**bold**\n", "a `code` span\n", "# heading\n", "- item\n", "1. item\n", "> quote\n",
    "| a | b |\n", "x" * 61 + "\n", "中文\n", "    indented code\n", "a &amp; b\n",
    "line\n===\n", "[link](http://x)\n", "snake_case_name\n", "a\\\\b\n",
])
def test_lines_with_markup_take_the_markdown_path(source: str) -> None:
    assert plain_paragraphs(source, 60) is None


def test_capped_commits_split_a_backlog_and_keep_every_line() -> None:
    src = "".join(f"line {i}\n" for i in range(40)) + "```py\n" + "".join(
        f"code {i}\n" for i in range(30)) + "```\nafter\n"
    s = MarkdownStream()
    s.push(src)
    chunks = []
    while (c := s.commit(final=True, max_lines=12)) is not None:
        chunks.append(c.source)
    assert len(chunks) >= 6
    # Every chunk is at most 12 source lines, plus the fence lines it re-opens and closes.
    assert all(len(c.splitlines()) <= 14 for c in chunks)
    text = [ln for c in chunks for ln in c.splitlines() if not ln.startswith("```")]
    assert text == [f"line {i}" for i in range(40)] + [f"code {i}" for i in range(30)] + \
        ["after"]


def test_a_cell_waits_behind_an_answer_that_is_still_being_rendered() -> None:
    q = HistoryQueue(Renderer(color_system=None))
    q.cell(["› question"])
    q.delta("".join(f"answer line {i}\n" for i in range(200)))
    q.finish_answer()
    q.cell(["after the answer"])
    first = [visible(x) for x in q.frame(80, 0.0)]  # a zero budget: one chunk, no more
    assert "after the answer" not in first and q.backlog
    rest: list[str] = []
    while q.backlog:
        rest += [visible(x) for x in q.frame(80, 0.0)]
    lines = [x.strip(" •") for x in first + rest if x.strip()]
    assert lines == ["› question"] + [f"answer line {i}" for i in range(200)] + \
        ["after the answer"]
    assert q.transcript == first + rest


def test_the_tail_shows_only_once_the_answer_has_caught_up() -> None:
    q = HistoryQueue(Renderer(color_system=None))
    q.delta("".join(f"line {i}\n" for i in range(100)) + "partial")
    q.frame(80, 0.0)
    assert q.tail_lines == []  # lines before it are not printed yet
    while q.backlog:
        q.frame(80, 0.0)
    assert [visible(x).strip(" •") for x in q.tail_lines] == ["partial"]
    q.delta(" more")
    q.frame(80, None)
    assert [visible(x).strip(" •") for x in q.tail_lines] == ["partial more"]
    q.message("ignored: deltas came")
    out = q.frame(80, None)
    assert [visible(x).strip() for x in out] == ["partial more"] and q.tail_lines == []


def test_a_message_without_deltas_is_shown_whole() -> None:
    q = HistoryQueue(Renderer(color_system=None))
    q.message("not streamed\n\nsecond paragraph")
    out = [visible(x) for x in q.frame(80, None)]
    assert out == ["• not streamed", "", "  second paragraph"]


def test_control_sequences_split_across_deltas_are_removed() -> None:
    q = HistoryQueue(Renderer(color_system=None))
    q.delta("red \x1b[3")
    q.delta("1mtext\x1b]0;tit")
    q.delta("le\x07 end\n")
    q.finish_answer()
    assert [visible(x) for x in q.frame(80, None)] == ["• red text end"]


# -- the early composer, on a real pseudo-terminal -------------------------------------------
def _read_until(fd: int, want: bytes, timeout: float = 10) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"{want!r} not seen; got {got!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            got += os.read(fd, 4096)
    return got


def _pty() -> tuple[int, int]:
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return master, slave


def test_early_composer_echoes_and_hands_over_every_byte() -> None:
    master, slave = _pty()
    try:
        early = EarlyComposer(slave, slave, "? for shortcuts · model · ~/repo")
        early.start()
        _read_until(master, b"? for shortcuts")
        os.write(master, "héllo wor".encode())
        _read_until(master, "héllo wor".encode())
        os.write(master, b"\x7fld")  # backspace, then more
        _read_until(master, "héllo wold".encode())
        os.write(master, b"\x1b[A then more")  # an arrow key: the preview stops changing
        time.sleep(0.2)
        typed = early.stop()
        assert typed == "héllo wor\x7fld\x1b[A then more".encode()
        early.close()
    finally:
        os.close(master)
        os.close(slave)


def test_enter_typed_before_the_composer_started_is_still_enter() -> None:
    # Typed while the terminal was still cooked: the line discipline turned CR into LF.
    master, slave = _pty()
    try:
        os.write(master, b"sent early\r")
        time.sleep(0.1)
        early = EarlyComposer(slave, slave, "footer")
        early.start()
        _read_until(master, b"sent early")
        assert early.stop() == b"sent early\r"
        early.close()
    finally:
        os.close(master)
        os.close(slave)


def test_early_composer_close_restores_the_terminal_modes() -> None:
    import termios

    master, slave = _pty()
    try:
        before = termios.tcgetattr(slave)
        early = EarlyComposer(slave, slave, "footer")
        early.start()
        assert termios.tcgetattr(slave)[3] & termios.ECHO == 0  # raw: no echo
        early.close()
        assert termios.tcgetattr(slave) == before
        early.close()  # idempotent
    finally:
        os.close(master)
        os.close(slave)


# -- trust is recorded for the checkout --------------------------------------------------------
def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


def test_trust_root_is_the_checkout_and_the_main_checkout_of_a_worktree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "deep").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "f").write_text("x")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "init")
    assert trust.project_root(repo / "src" / "deep") == repo.resolve()
    _git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    assert trust.project_root(tmp_path / "wt") == repo.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert trust.project_root(plain) == plain.resolve()
    # A .git file that is not a worktree's (a submodule's, say): the folder itself.
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / ".git").write_text("gitdir: ../repo/.git/modules/odd\n")
    assert trust.project_root(odd) == odd.resolve()
    # A forged worktree link (an unpacked archive naming a trusted checkout) borrows nothing:
    # git's own record of the worktree must point back to it.
    for target in ("../repo/.git/worktrees/whatever", "../repo/.git/worktrees/wt"):
        forged = tmp_path / "forged"
        forged.mkdir(exist_ok=True)
        (forged / ".git").write_text(f"gitdir: {target}\n")
        assert trust.project_root(forged) == forged.resolve(), target


# The main thread stuck in C code that runs no Python-level signal handler (glibc's system()
# retries its wait on EINTR), as a compiled build's main thread is while it imports.
_STUCK_MAIN_THREAD = """
import os, sys
from codex.tui.early import EarlyComposer, install_exit_handlers
early = EarlyComposer(0, 1, "the-footer")
install_exit_handlers(early)
try:
    early.start()
    os.system("sleep 60")
finally:
    early.close()
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_signal_ends_the_early_composer_cleanly_while_the_main_thread_is_busy(
        sig: int) -> None:
    from ptyprocess import PtyProcess

    proc = PtyProcess.spawn([sys.executable, "-c", _STUCK_MAIN_THREAD],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
                            dimensions=(24, 80))
    try:
        out = b""
        while b"the-footer" not in out:
            out += proc.read(4096)
        time.sleep(0.2)  # the shell child of system() is running
        proc.kill(sig)
        deadline = time.monotonic() + 20  # far below the 60 s the main thread is stuck for
        while proc.isalive() and time.monotonic() < deadline:
            try:
                out += proc.read(4096)
            except EOFError:
                break
        assert not proc.isalive(), "the signal waited for the main thread"
        proc.wait()
        assert proc.exitstatus == 128 + sig
        tail = out.split(b"the-footer", 1)[1]
        assert b"\r\x1b[1A\x1b[J" in tail  # what was drawn is erased
        assert tail.endswith(b"\x1b[?2004l")  # bracketed paste off again
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # system()'s sleep, left to init otherwise
        proc.close(force=True)
