"""Issue 15 item 8: project docs as Codex finds them.

`AGENTS.override.md` takes the place of `AGENTS.md` in each directory (and in CODEX_HOME);
`project_doc_fallback_filenames` (e.g. `["CLAUDE.md"]`) names files tried after AGENTS.md.
The issue's examples run through the real `codex exec` and check what the model was sent; the
siblings check the discovery rules on real files (`codex.core.project_docs`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex.core.context import agents_instructions
from codex.core.project_docs import project_doc_paths, read_docs
from tests.support.exec_harness import Harness, harness_for


@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


def sent_docs(h: Harness, *args: str) -> str:
    """Run `codex exec ARGS hi`; the text of the AGENTS.md message the model got ('' if none)."""
    h.mock.add(h.answer("ok"))
    r = h.run(*args, "hi")
    assert r.returncode == 0, r.stderr
    texts = h.user_texts(len(h.mock.requests) - 1)
    return next((t for t in texts if t.startswith("# AGENTS.md instructions")), "")


# --- the examples, through `codex exec` ----------------------------------------------

def test_override_takes_the_place_of_agents_md(hr: Harness) -> None:
    (hr.cwd / "AGENTS.md").write_text("SHARED RULE")
    (hr.cwd / "AGENTS.override.md").write_text("LOCAL OVERRIDE")
    docs = sent_docs(hr)
    assert "LOCAL OVERRIDE" in docs and "SHARED RULE" not in docs


def test_fallback_filenames_from_config(hr: Harness) -> None:
    (hr.cwd / "CLAUDE.md").write_text("CLAUDE RULE")
    assert sent_docs(hr) == ""  # not configured: not read
    (hr.home / "config.toml").write_text('project_doc_fallback_filenames = ["CLAUDE.md"]\n')
    assert "CLAUDE RULE" in sent_docs(hr)
    # ... and from -c, like any setting.
    (hr.home / "config.toml").write_text("")
    assert "CLAUDE RULE" in sent_docs(hr, "-c", 'project_doc_fallback_filenames=["CLAUDE.md"]')


def test_global_override_in_codex_home(hr: Harness) -> None:
    (hr.home / "AGENTS.md").write_text("GLOBAL RULE")
    (hr.home / "AGENTS.override.md").write_text("GLOBAL OVERRIDE")
    (hr.cwd / "AGENTS.md").write_text("PROJECT RULE")
    docs = sent_docs(hr)
    assert "GLOBAL OVERRIDE" in docs and "GLOBAL RULE" not in docs
    assert docs.index("GLOBAL OVERRIDE") < docs.index("PROJECT RULE")


def test_bad_fallback_setting_is_a_clear_error(hr: Harness) -> None:
    (hr.home / "config.toml").write_text('project_doc_fallback_filenames = "CLAUDE.md"\n')
    r = hr.run("hi")
    assert r.returncode == 1 and "project_doc_fallback_filenames" in r.stderr
    assert "Traceback" not in r.stderr and hr.mock.requests == []


# --- siblings: the rules, on real files -------------------------------------------------------

@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    return repo


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def texts(home: Path, cwd: Path, max_bytes: int = 32 * 1024,
          fallbacks: tuple[str, ...] = ()) -> list[str]:
    return [d.text for d in read_docs(home, cwd, max_bytes, fallbacks)]


def test_each_directory_chooses_on_its_own(home: Path, repo: Path) -> None:
    sub = repo / "pkg"
    sub.mkdir()
    (repo / "AGENTS.md").write_text("root agents")
    (repo / "AGENTS.override.md").write_text("root override")
    (sub / "AGENTS.md").write_text("sub agents")
    (sub / "CLAUDE.md").write_text("sub claude")
    assert texts(home, sub, fallbacks=("CLAUDE.md",)) == ["root override", "sub agents"]


def test_fallbacks_are_tried_in_order_after_agents_md(home: Path, repo: Path) -> None:
    a, b = repo / "a", repo / "a" / "b"
    b.mkdir(parents=True)
    (repo / "GEMINI.md").write_text("root gemini")
    (repo / "CLAUDE.md").write_text("root claude")
    (a / "GEMINI.md").write_text("a gemini")
    (b / "AGENTS.md").write_text("b agents")
    (b / "CLAUDE.md").write_text("b claude")
    got = texts(home, b, fallbacks=("CLAUDE.md", "", "GEMINI.md", "CLAUDE.md"))
    assert got == ["root claude", "a gemini", "b agents"]


def test_an_empty_override_silences_the_directory(home: Path, repo: Path) -> None:
    (repo / "AGENTS.md").write_text("agents")
    (repo / "AGENTS.override.md").write_text("  \n")
    assert texts(home, repo) == []
    (home / "AGENTS.md").write_text("global")
    (home / "AGENTS.override.md").write_text("")
    assert texts(home, repo) == []


def test_fallback_names_do_not_apply_in_codex_home(home: Path, repo: Path) -> None:
    (home / "CLAUDE.md").write_text("global claude")
    assert texts(home, repo, fallbacks=("CLAUDE.md",)) == []


def test_a_dangling_link_or_a_directory_does_not_count(home: Path, repo: Path) -> None:
    (repo / "AGENTS.override.md").symlink_to(repo / "missing.md")
    (repo / "AGENTS.md").write_text("agents")
    assert texts(home, repo) == ["agents"]
    (repo / "AGENTS.md").unlink()
    (repo / "AGENTS.md").mkdir()
    (repo / "CLAUDE.md").write_text("claude")
    assert project_doc_paths(repo, ["CLAUDE.md"]) == [repo / "CLAUDE.md"]


def test_a_symlinked_override_counts(home: Path, repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "team-rules.md"
    shared.write_text("team rules")
    (repo / "AGENTS.override.md").symlink_to(shared)
    (repo / "AGENTS.md").write_text("agents")
    assert texts(home, repo) == ["team rules"]


def test_the_budget_is_shared_root_first_and_cuts_whole_characters(
        home: Path, repo: Path) -> None:
    sub = repo / "sub"
    sub.mkdir()
    (repo / "AGENTS.override.md").write_text("root-\u00e9\u00e9")  # 5 + 2 + 2 bytes
    (sub / "CLAUDE.md").write_text("sub rules")
    assert texts(home, sub, 8, ("CLAUDE.md",)) == ["root-\u00e9"]  # never half an é
    assert texts(home, sub, 9, ("CLAUDE.md",)) == ["root-\u00e9\u00e9"]
    assert texts(home, sub, 13, ("CLAUDE.md",)) == ["root-\u00e9\u00e9", "sub"]
    docs = read_docs(home, sub, 13, ("CLAUDE.md",))
    assert [d.truncated for d in docs] == [False, True]
    assert texts(home, sub, 0, ("CLAUDE.md",)) == []  # 0 turns project docs off


def test_the_global_doc_has_its_own_budget(home: Path, repo: Path) -> None:
    (home / "AGENTS.override.md").write_text("G" * 50)
    (repo / "AGENTS.md").write_text("project")
    assert texts(home, repo, 20) == ["G" * 20, "project"]
    assert texts(home, repo, 0) == ["G" * 50]  # still read when project docs are off


def test_outside_a_git_repo_only_the_cwd_counts(home: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain" / "deeper"
    plain.mkdir(parents=True)
    (tmp_path / "plain" / "AGENTS.md").write_text("parent")
    (plain / "AGENTS.override.md").write_text("here")
    assert texts(home, plain) == ["here"]


def test_message_text_keeps_the_order_global_then_root_to_cwd(home: Path, repo: Path) -> None:
    sub = repo / "x"
    sub.mkdir()
    (home / "AGENTS.md").write_text("one")
    (repo / "CLAUDE.md").write_text("two")
    (sub / "AGENTS.override.md").write_text("three")
    text = agents_instructions(home, sub, 1000, ["CLAUDE.md"])
    assert text is not None and text.startswith(f"# AGENTS.md instructions for {sub}")
    body = text.split("<INSTRUCTIONS>\n", 1)[1]
    assert body == "one\n\ntwo\n\nthree\n</INSTRUCTIONS>"
    assert os.fspath(sub) in text
