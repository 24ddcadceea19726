"""Issue 15, fault class "our own files under I/O failure": a full disk or an unwritable file
gives one clear error line (and a JSONL `error` event), never a traceback; the rollout stays
valid JSONL (whole lines or nothing); the turn's answer still reaches the user when only the
rollout failed.

How the failures are made: a real full disk is a small tmpfs mounted for the test (needs root,
which CI has; without it those cases are skipped with that reason); the same class without
root is RLIMIT_FSIZE on the codex process (writes past the limit fail with EFBIG) and /dev/full
as stdout (ENOSPC).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import mock_model as mm
from tests.support.exec_harness import Harness, harness_for, json_events

LONG_ANSWER = "The answer. " * 2000  # ~24 KB: more than a file's slack in its last page
FULL = ("-s", "danger-full-access")


def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted afterwards."""
    if not _can_mount():
        pytest.skip("mounting a small tmpfs (a real full disk) needs root")
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path) -> None:
    """Write until the disk refuses even one more byte."""
    fd = os.open(disk / f"filler-{os.getpid()}-{len(list(disk.iterdir()))}",
                 os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 65536
        while True:
            try:
                if os.write(fd, block) == 0:
                    return
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]
    finally:
        os.close(fd)


@pytest.fixture
def hd(tmp_path: Path, small_disk: Path) -> Iterator[Harness]:
    """A harness whose CODEX_HOME is on the small disk."""
    for h in harness_for(tmp_path, "responses"):
        home = small_disk / "codex-home"
        home.mkdir()
        h.home = home
        yield h


@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


def rollout_of(h: Harness) -> Path:
    (path,) = list((h.home / "sessions").glob("*/*/*/*.jsonl"))
    return path


def assert_valid_jsonl(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the last line is torn"
    return [json.loads(line) for line in data.decode().splitlines()]


def _short(text: str) -> str:
    return "\n".join(line[:300] for line in text.splitlines() if "The answer." not in line)


def assert_one_clean_error(stderr: str, text: str) -> None:
    assert "Traceback" not in stderr, _short(stderr)
    assert sum(text in line for line in stderr.splitlines()) == 1, _short(stderr)


def test_codex_home_fills_up_mid_session(hd: Harness, small_disk: Path) -> None:
    """The issue's example: the answer arrives, the session file stays valid."""
    def fill_then_answer(_req: mm.Request) -> mm.Reply:
        fill(small_disk)
        return hd.answer(LONG_ANSWER)

    hd.mock.add(hd.calls(("c1", "update_plan", {"plan": []})), fill_then_answer)
    r = hd.run("fill the disk")
    assert r.returncode == 0, _short(r.stderr)
    assert r.stdout == LONG_ANSWER + "\n"  # the turn's result still reaches the user
    assert_one_clean_error(r.stderr, "No space left on device")
    assert "cannot write the session file" in r.stderr
    lines = assert_valid_jsonl(rollout_of(hd))
    assert lines[0]["type"] == "session_meta"


def test_full_disk_mid_session_in_json_mode_is_an_error_event(hd: Harness,
                                                              small_disk: Path) -> None:
    def fill_then_answer(_req: mm.Request) -> mm.Reply:
        fill(small_disk)
        return hd.answer(LONG_ANSWER)

    hd.mock.add(hd.calls(("c1", "update_plan", {"plan": []})), fill_then_answer)
    r = hd.run("--json", "fill the disk")
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    errors = [e for e in evs if e["type"] == "error"]
    assert len(errors) == 1 and "No space left on device" in errors[0]["message"]
    assert evs[-1]["type"] == "turn.completed"
    assert [e["item"]["text"] for e in evs if e.get("item", {}).get("type") ==
            "agent_message"] == [LONG_ANSWER]
    assert "Traceback" not in r.stderr
    assert_valid_jsonl(rollout_of(hd))


def test_a_disk_full_before_the_session_starts(hd: Harness, small_disk: Path) -> None:
    """Not even the first line fits: the run goes on unrecorded, said once."""
    fill(small_disk)
    hd.mock.add(hd.answer("answered unrecorded"))
    r = hd.run("hi")
    assert r.returncode == 0, _short(r.stderr)
    assert r.stdout == "answered unrecorded\n"
    assert_one_clean_error(r.stderr, "No space left on device")
    assert list((hd.home / "sessions").glob("*/*/*/*.jsonl")) == []  # no empty file left


def test_no_room_for_the_first_line_runs_unrecorded(hd: Harness, small_disk: Path) -> None:
    hd.mock.add(hd.answer("first"))
    assert hd.run("make the day folder").returncode == 0
    before = set((hd.home / "sessions").glob("*/*/*/*.jsonl"))
    fill(small_disk)
    hd.mock.add(hd.answer("answered anyway"))
    r = hd.run("--json", "hi")
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    assert [e["type"] for e in evs].count("error") == 1
    assert evs[-2]["item"]["text"] == "answered anyway"
    assert set((hd.home / "sessions").glob("*/*/*/*.jsonl")) == before  # no empty file left


def test_resume_onto_a_full_disk_keeps_the_old_file_valid(hd: Harness,
                                                          small_disk: Path) -> None:
    hd.mock.add(hd.answer("first"))
    assert hd.run("q1").returncode == 0
    path = rollout_of(hd)
    size = path.stat().st_size
    fill(small_disk)
    hd.mock.add(hd.answer(LONG_ANSWER))
    r = hd.run("resume", "--last", "q2 " + "x" * 8000)
    assert r.returncode == 0, _short(r.stderr)
    assert r.stdout == LONG_ANSWER + "\n"
    assert_one_clean_error(r.stderr, "No space left on device")
    lines = assert_valid_jsonl(path)
    assert path.stat().st_size >= size and lines[0]["type"] == "session_meta"


def test_output_last_message_on_a_full_disk(hd: Harness, small_disk: Path,
                                            tmp_path: Path) -> None:
    out = small_disk / "answer.txt"
    hd.mock.add(hd.answer(LONG_ANSWER))
    r = hd.run("--ephemeral", "-o", str(out), "hi", env={**hd.env()})
    assert r.returncode == 0 and out.read_text() == LONG_ANSWER
    out.unlink()
    fill(small_disk)
    hd.mock.add(hd.answer(LONG_ANSWER))
    r = hd.run("--ephemeral", "-o", str(out), "hi")
    assert r.returncode == 1
    assert_one_clean_error(r.stderr, f"cannot write {out}")
    assert not out.exists()  # whole or nothing
    assert r.stdout == LONG_ANSWER + "\n"
    assert [p.name for p in small_disk.iterdir() if p.name.startswith(".answer")] == []


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_rollout_that_cannot_grow_mid_session(hr: Harness) -> None:
    """RLIMIT_FSIZE: the session file may not grow past 24 KB (EFBIG), no root needed."""
    hr.mock.add(hr.calls(("c1", "exec_command", {"cmd": "head -c 30000 /dev/zero | tr "
                                                        "'\\0' x"})),
                hr.answer("answer after the big output"))
    r = subprocess.run(hr.argv("--json", *FULL, "big output"), cwd=hr.cwd, env=hr.env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                       preexec_fn=_limit_file_size(24_000))
    assert r.returncode == 0, r.stderr
    evs = json_events(r.stdout)
    errors = [e["message"] for e in evs if e["type"] == "error"]
    assert len(errors) == 1 and "File too large" in errors[0]
    assert evs[-2]["item"]["text"] == "answer after the big output"
    assert "Traceback" not in r.stderr
    lines = assert_valid_jsonl(rollout_of(hr))
    assert rollout_of(hr).stat().st_size <= 24_000
    assert not any(x["payload"].get("type") == "function_call_output" for x in lines
                   if x["type"] == "response_item")  # that line did not fit: not there at all


@pytest.mark.parametrize("mode", ["--json", "human"])
def test_stdout_on_a_full_device(hr: Harness, mode: str) -> None:
    hr.mock.add(hr.answer("lost answer"))
    args = ("--json",) if mode == "--json" else ()
    with open("/dev/full", "w") as full:
        r = subprocess.run(hr.argv(*args, "hi"), cwd=hr.cwd, env=hr.env(),
                           stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=90)
    assert r.returncode == 1
    assert_one_clean_error(r.stderr, "cannot write the output: No space left on device")
    with contextlib.suppress(FileNotFoundError):
        assert_valid_jsonl(rollout_of(hr))


def test_login_on_a_full_disk_keeps_the_stored_key(hd: Harness, small_disk: Path) -> None:
    from tests.conftest import codex_cmd

    env = {**hd.env(), "CODEX_HOME": str(hd.home)}
    first = subprocess.run([*codex_cmd(), "login", "--with-api-key"], input="sk-first\n",
                           env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    fill(small_disk)
    r = subprocess.run([*codex_cmd(), "login", "--with-api-key"], input="sk-" + "y" * 9000,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert_one_clean_error(r.stderr, "cannot store the key")
    assert "sk-first" in (hd.home / "auth.json").read_text()  # the old key is intact
    assert [p.name for p in hd.home.iterdir()] == ["auth.json"]  # no temporary file left
