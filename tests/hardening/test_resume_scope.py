"""Issue 15 item 7: `codex exec resume --last` resumes this directory's session, not another
project's; `--all` lifts the scope.

Each case runs the real `codex exec` against the mock model in two or more projects sharing one
CODEX_HOME, and checks which session came back (its thread id and the history it replays).
The lookup itself (`codex.core.rollout.list_sessions`) is also checked directly, since the
interactive resume picker reuses it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex.core.rollout import RolloutWriter, find_rollout, list_sessions, new_session_id
from tests.support.exec_harness import Harness, harness_for, json_events, make_repo


@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")


def start(h: Harness, cwd: Path, question: str) -> str:
    """Run one new session in `cwd`; its thread id."""
    h.cwd = cwd
    h.mock.add(h.answer(f"answer to {question}"))
    r = h.run("--json", question)
    assert r.returncode == 0, r.stderr
    return json_events(r.stdout)[0]["thread_id"]


def resume(h: Harness, cwd: Path, *args: str) -> tuple[str, list[str]]:
    """`resume ARGS "next"` in `cwd`; (thread id, the user texts the model was sent)."""
    h.cwd = cwd
    h.mock.add(h.answer("resumed"))
    r = h.run("--json", "resume", *args, "next")
    assert r.returncode == 0, r.stderr
    return json_events(r.stdout)[0]["thread_id"], h.user_texts(len(h.mock.requests) - 1)


@pytest.fixture
def projects(tmp_path: Path) -> tuple[Path, Path]:
    return make_repo(tmp_path / "alpha"), make_repo(tmp_path / "beta")


# --- the example ---------------------------------------------------------------------

def test_resume_last_stays_in_this_directory(hr: Harness, projects: tuple[Path, Path]) -> None:
    alpha, beta = projects
    a = start(hr, alpha, "alpha question")
    b = start(hr, beta, "beta question")  # newer, but another project's
    thread, users = resume(hr, alpha, "--last")
    assert thread == a and thread != b
    assert "alpha question" in users and "beta question" not in users


def test_all_lifts_the_scope(hr: Harness, projects: tuple[Path, Path]) -> None:
    alpha, beta = projects
    start(hr, alpha, "alpha question")
    b = start(hr, beta, "beta question")
    thread, users = resume(hr, alpha, "--last", "--all")
    assert thread == b and "beta question" in users
    thread, _ = resume(hr, alpha, "--all", "--last")  # either order
    assert thread == b


# --- siblings ----------------------------------------------------------------------------------

def test_resuming_elsewhere_does_not_steal_the_last_slot(
        hr: Harness, projects: tuple[Path, Path]) -> None:
    alpha, beta = projects
    a = start(hr, alpha, "alpha question")
    b = start(hr, beta, "beta question")
    assert resume(hr, alpha, "--last")[0] == a  # alpha's file is now the newest written
    assert resume(hr, beta, "--last")[0] == b


def test_no_session_here_is_a_clear_error_that_names_all(
        hr: Harness, projects: tuple[Path, Path], tmp_path: Path) -> None:
    alpha, _ = projects
    start(hr, alpha, "alpha question")
    hr.cwd = make_repo(tmp_path / "gamma")
    r = hr.run("resume", "--last", "next")
    assert r.returncode == 1
    assert "no recorded session started in" in r.stderr and "--all" in r.stderr
    assert "Traceback" not in r.stderr
    assert len(hr.mock.requests) == 1  # nothing was sent for the failed resume


def test_a_symlinked_path_to_the_project_is_the_same_project(
        hr: Harness, projects: tuple[Path, Path], tmp_path: Path) -> None:
    alpha, beta = projects
    a = start(hr, alpha, "alpha question")
    start(hr, beta, "beta question")
    link = tmp_path / "alpha-link"
    link.symlink_to(alpha)
    hr.cwd = link
    hr.mock.add(hr.answer("resumed"))
    r = hr.run("--json", "resume", "--last", "next", env=hr.env(PWD=str(link)))
    assert r.returncode == 0, r.stderr
    assert json_events(r.stdout)[0]["thread_id"] == a


def test_a_subdirectory_is_another_scope_and_c_moves_the_scope(
        hr: Harness, projects: tuple[Path, Path]) -> None:
    alpha, beta = projects
    a = start(hr, alpha, "alpha question")
    b = start(hr, beta, "beta question")
    sub = alpha / "pkg"
    sub.mkdir()
    hr.cwd = sub
    r = hr.run("resume", "--last", "next")
    assert r.returncode == 1 and "--all" in r.stderr
    # `-C DIR` sets the directory the scope is taken from.
    hr.cwd = beta
    hr.mock.add(hr.answer("resumed"))
    r = hr.run("--json", "-C", str(alpha), "resume", "--last", "next")
    assert r.returncode == 0, r.stderr
    assert json_events(r.stdout)[0]["thread_id"] == a != b


def test_resume_by_id_works_from_any_directory(hr: Harness, projects: tuple[Path, Path]) -> None:
    alpha, beta = projects
    a = start(hr, alpha, "alpha question")
    assert resume(hr, beta, a)[0] == a


def test_all_without_resume_is_a_usage_error(hr: Harness) -> None:
    r = hr.run("--all", "hello")
    assert r.returncode == 2 and "--all only goes with resume" in r.stderr


# --- the reusable lookup ----------------------------------------------------------------------

def test_list_sessions_scopes_and_orders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    paths = {}
    for n, (cwd, when) in enumerate([(one, 100), (two, 300), (one, 200)]):
        sid = new_session_id()
        w = RolloutWriter.create(home, f"{sid[:-1]}{n}", {"cwd": str(cwd)})
        w.close()
        os.utime(w.path, (when, when))
        paths[when] = w.path
    no_cwd = RolloutWriter.create(home, new_session_id(), {})  # an old file without a cwd
    no_cwd.close()

    assert [e.path for e in list_sessions(home, cwd=one)] == [paths[200], paths[100]]
    assert [e.path for e in list_sessions(home, cwd=two)] == [paths[300]]
    assert [e.cwd for e in list_sessions(home, cwd=one)] == [str(one), str(one)]
    assert len(list_sessions(home)) == 4
    assert find_rollout(home, None, cwd=one) == paths[200]
    assert find_rollout(home, None) == no_cwd.path  # the newest of all
