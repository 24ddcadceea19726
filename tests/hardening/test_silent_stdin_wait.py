"""Issue 15, fault class "waiting silently on input that never ends": stdin is never waited
for without saying so. The example (`sleep 600 | codex exec hi`) and its siblings: a pipe that
goes quiet after some bytes, `-` as the prompt, `resume` without a prompt, the login flow."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import codex_cmd
from tests.support.exec_harness import Harness, harness_for, json_events
from tests.support.streams import LineCollector


@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


def _spawn(h: Harness, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The command with a stdin pipe the test holds open and never writes to (`sleep 600 |`)."""
    return subprocess.Popen(h.argv(*args), cwd=h.cwd, env=env or h.env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen, timeout: float = 90) -> tuple[str, str]:
    try:
        return p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_a_silent_pipe_is_not_waited_for_with_a_prompt_argument(hr: Harness) -> None:
    """The issue's example: `sleep 600 | codex exec --skip-git-repo-check hi`."""
    hr.mock.add(hr.answer("hello"))
    p = _spawn(hr, "--skip-git-repo-check", "--json", "hi")
    try:
        hr.mock.wait_for_requests(1)  # the request goes out though stdin never ends
        out, err = _finish(p)
    finally:
        if p.stdin:
            p.stdin.close()
    assert p.returncode == 0, err
    assert hr.user_texts(0)[-1] == "hi"
    assert "not reading stdin: nothing arrived on it within 1 s" in err
    assert json_events(out)[-1]["type"] == "turn.completed"


def test_a_pipe_that_goes_quiet_is_announced_then_read_to_the_end(hr: Harness) -> None:
    hr.mock.add(hr.answer("ok"))
    p = _spawn(hr, "summarise")
    assert p.stdin is not None and p.stderr is not None
    err = LineCollector(p.stderr)
    p.stdin.write("first part\n")
    p.stdin.flush()
    notice = err.wait_for("still reading")  # after a second of silence, said once
    assert "close the pipe" in notice
    assert hr.mock.requests == []  # once bytes came, stdin is read to its end
    p.stdin.write("second part\n")
    p.stdin.close()
    p.wait(90)
    assert p.returncode == 0, err.join()
    assert hr.user_texts(0)[-1] == \
        "summarise\n\n<stdin>\nfirst part\nsecond part\n</stdin>"
    assert err.join().count("still reading") == 1


@pytest.mark.parametrize("args", [("-",), (), ("resume", "--last")],
                         ids=["dash", "no-prompt", "resume-without-prompt"])
def test_a_prompt_read_from_stdin_says_what_it_waits_for(hr: Harness,
                                                        args: tuple[str, ...]) -> None:
    if args[:1] == ("resume",):
        hr.mock.add(hr.answer("first"))
        assert hr.run("earlier task").returncode == 0
    hr.mock.add(hr.answer("got it"))
    p = _spawn(hr, *args)
    assert p.stdin is not None and p.stderr is not None
    err = LineCollector(p.stderr)
    notice = err.wait_for("waiting for the prompt on stdin")
    assert "Ctrl-D" in notice and "pass the prompt as an argument" in notice
    p.stdin.write("the real prompt")
    p.stdin.close()
    p.wait(90)
    assert p.returncode == 0, err.join()
    assert hr.user_texts(len(hr.mock.requests) - 1)[-1] == "the real prompt"


def test_login_says_it_waits_for_the_key(hr: Harness) -> None:
    p = subprocess.Popen([*codex_cmd(), "login", "--with-api-key"], env=hr.env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdin is not None and p.stderr is not None
    err = LineCollector(p.stderr)
    notice = err.wait_for("waiting for the API key on stdin")
    assert "printenv OPENAI_API_KEY" in notice
    p.stdin.write("sk-late-key\n")
    p.stdin.close()
    p.wait(60)
    assert p.returncode == 0, err.join()
    assert "sk-late-key" in (hr.home / "auth.json").read_text()


def test_a_file_or_dev_null_on_stdin_is_read_at_once(hr: Harness, tmp_path: Path) -> None:
    f = tmp_path / "input.txt"
    f.write_text("from a file")
    hr.mock.add(hr.answer("a"), hr.answer("b"))
    with f.open() as stdin:
        r = subprocess.run(hr.argv("task"), cwd=hr.cwd, env=hr.env(), stdin=stdin,
                           capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    assert hr.user_texts(0)[-1] == "task\n\n<stdin>\nfrom a file\n</stdin>"
    r = hr.run("alone")  # stdin is /dev/null: nothing to add, nothing announced
    assert r.returncode == 0 and "stdin" not in r.stderr
    assert hr.user_texts(1)[-1] == "alone"
