"""Starting the UI: the non-terminal refusal, the trust prompt, the resume refusals."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from tests.conftest import codex_cmd
from tests.tui.conftest import Tui, make_env


def test_stdin_not_a_terminal_exits_1_pointing_to_exec(tmp_path: Path) -> None:
    from tests.support import mock_model as mm

    with mm.MockModel() as mock:
        env = make_env(tmp_path, mock)
        p = subprocess.run([*codex_cmd(), "hello"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 1
    assert "needs a terminal" in p.stderr and "codex exec" in p.stderr
    assert p.stdout == ""


def test_trust_prompt_records_the_project_and_keeps_comments(tui: Tui) -> None:
    cfg = tui.home / "config.toml"
    cfg.write_text('# my own notes about codex\nmodel_reasoning_effort = "high"  # keep\n')
    tui.start(ready="Do you trust")
    tui.term.keys("1")
    tui.term.wait_for("Trusted", whole=True)
    text = cfg.read_text()
    assert text.startswith('# my own notes about codex\nmodel_reasoning_effort = "high"  # keep\n')
    data = tomllib.loads(text)
    assert data["projects"][str(tui.repo.resolve())]["trust_level"] == "trusted"
    # Trusted: the session runs with on-request + workspace-write.
    tui.term.wait_for("? for shortcuts")
    tui.term.type("/status")
    tui.term.keys("Enter")
    screen = tui.term.wait_for("workspace-write", whole=True)
    assert "on-request" in screen
    tui.quit()


def test_trust_answer_no_is_recorded_and_asks_for_approval(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.start(ready="Do you trust")
    tui.term.keys("2")
    tui.term.wait_for("? for shortcuts")
    data = tomllib.loads((tui.home / "config.toml").read_text())
    assert data["projects"][str(tui.repo.resolve())]["trust_level"] == "untrusted"
    tui.term.type("/status")
    tui.term.keys("Enter")
    screen = tui.term.wait_for("read-only", whole=True)
    assert "untrusted" in screen
    tui.quit()
    # Asked once: the next start goes straight to the composer.
    tui.start()
    assert "Do you trust" not in tui.term.screen()
    tui.quit()


def test_resume_last_without_sessions_says_so(tui_wide: Tui) -> None:
    tui = tui_wide
    tui.trust()
    tui.start("resume", "--last", ready="to resume")
    assert "no recorded session started in" in tui.term.screen()
    tui.term.wait_for(lambda s: s.rstrip().endswith("$"))
