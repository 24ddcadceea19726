"""Issue 15, fault 1: a fresh machine's `make test` failed for want of tools `.ci/run` installed.

The class: the README's test command must bring every system tool its tests call (apt-get
when root, otherwise stop at once with a message naming the packages), not rely on CI's
script having done it. Cases: the example (shellcheck and ruby missing: named, with the
command that installs them, before any test runs), `make test` runs that step first, and
the sibling: every tool any test calls is in the list that step installs (or is part of
every Debian system).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci import test_deps

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
NOBODY = 65534


def _fresh_path(tmp_path: Path, without: set[str]) -> str:
    """A PATH holding this machine's base tools and test tools, minus `without`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in sorted((test_deps.BASE_TOOLS | set(test_deps.TEST_TOOLS)) - without):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    return str(bindir)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp folder the user `nobody` can read (pytest's own is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="codex-fresh-machine-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_missing_shellcheck_and_ruby_are_named_with_the_install_command(
        shared_tmp: Path) -> None:
    """The issue's example, as a user without root meets it: `make test-deps` (the first
    step of `make test`) stops, naming both tools and the apt-get line that installs them."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("runs the step as the unprivileged user `nobody` (needs root and setpriv)")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("needs the system python3 (one `nobody` can run)")
    # What the step reads, in a folder `nobody` can read (the checkout may be in /root).
    tmp_path = shared_tmp
    checkout = tmp_path / "checkout"
    (checkout / "ci").mkdir(parents=True)
    for rel in ("Makefile", "pyproject.toml", "ci/__init__.py", "ci/test_deps.py"):
        shutil.copyfile(ROOT / rel, checkout / rel)
    path = _fresh_path(tmp_path, {"shellcheck", "ruby", "python3"})
    for d in (checkout, checkout / "ci", tmp_path / "bin"):
        d.chmod(0o755)
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        shutil.which("make") or "make", "-s", "test-deps", f"PYTHON={python}"],
                       cwd=checkout, capture_output=True, text=True, timeout=120,
                       env={"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8"})
    assert r.returncode != 0
    named, packages = _message_parts(r.stderr)
    assert {"ruby", "shellcheck"} <= named, r.stderr
    assert {"ruby", "shellcheck"} <= packages, r.stderr
    assert "pytest" not in r.stdout + r.stderr  # stopped before any test ran


def _message_parts(stderr: str) -> tuple[set[str], set[str]]:
    """(tools named, packages in the apt-get line) of ci.test_deps' message."""
    tools_line = next(li for li in stderr.splitlines() if "not installed:" in li)
    named = {t.strip(" .") for t in tools_line.split("not installed:", 1)[1].split(",")}
    apt_line = next(li for li in stderr.splitlines() if "apt-get install -y" in li)
    return named, set(apt_line.split("apt-get install -y", 1)[1].split())


def test_check_names_every_missing_package_once(tmp_path: Path) -> None:
    """Sibling: several tools from one package (setpriv and unshare: util-linux) and tools
    whose package has another name (node: nodejs, busybox: busybox-static)."""
    path = _fresh_path(tmp_path, {"node", "busybox", "setpriv", "unshare"})
    r = subprocess.run([sys.executable, "-m", "ci.test_deps", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60, env={"PATH": path})
    assert r.returncode == 1
    named, packages = _message_parts(r.stderr)
    assert {"busybox", "node", "setpriv", "unshare"} <= named, r.stderr
    assert {"busybox-static", "nodejs", "util-linux"} <= packages, r.stderr
    assert not {"busybox", "node", "setpriv", "unshare"} & packages  # Debian's names
    apt_words = r.stderr.split("apt-get install -y", 1)[1].split()
    assert len(apt_words) == len(set(apt_words))


def test_an_npm_too_old_for_the_registry_is_named_with_the_upgrade(tmp_path: Path) -> None:
    """Sibling found on a real fresh Debian 12: its npm 9.2 cannot install the tests' local
    registry ("Invalid comparator: cjs"). The step must catch that before the tests do."""
    path = _fresh_path(tmp_path, {"npm"})
    old = Path(path) / "npm"
    old.write_text("#!/bin/sh\necho 9.2.0\n")  # what Debian 12's npm answers to --version
    old.chmod(0o755)
    r = subprocess.run([sys.executable, "-m", "ci.test_deps", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60, env={"PATH": path})
    assert r.returncode == 1
    assert "npm 9.2.0 is too old" in r.stderr
    assert "npm install -g npm@10" in r.stderr


def test_nothing_missing_means_nothing_to_do(tmp_path: Path) -> None:
    if test_deps.missing_packages():
        pytest.skip("this machine lacks test tools itself: "
                    + ", ".join(test_deps.missing_packages()))
    r = subprocess.run([sys.executable, "-m", "ci.test_deps"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_make_test_installs_the_tools_before_running_any_test() -> None:
    r = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    deps = next(i for i, line in enumerate(lines) if "-m ci.test_deps" in line)
    pytest_line = next(i for i, line in enumerate(lines) if "pytest" in line)
    assert deps < pytest_line


# ---- the sibling: every tool a test calls is installed by that step ------------------------

_RUNNERS = {"run", "Popen", "check_output", "check_call", "call"}


def _first_string(node: ast.AST) -> str | None:
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        first = node.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def tools_called_by_tests() -> dict[str, str]:
    """{tool: where} for every program name the tests look up or start by a literal name:
    shutil.which("x"), subprocess.run(["x", ...]) and friends, tool_path(_, "x"),
    require_tools("x", ...), and the BASE_TOOLS tuple of the install.sh tests."""
    found: dict[str, str] = {}
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                args = node.args
                if name == "which" and args and isinstance(args[0], ast.Constant):
                    found.setdefault(str(args[0].value), f"{rel}:{node.lineno}")
                elif name in _RUNNERS and args and (tool := _first_string(args[0])):
                    found.setdefault(tool, f"{rel}:{node.lineno}")
                elif name == "tool_path" and len(args) > 1 and isinstance(args[1], ast.Constant):
                    found.setdefault(str(args[1].value), f"{rel}:{node.lineno}")
                elif name == "require_tools":
                    for a in args:
                        if isinstance(a, ast.Constant):
                            found.setdefault(str(a.value), f"{rel}:{node.lineno}")
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "BASE_TOOLS" for t in node.targets):
                for elt in getattr(node.value, "elts", []):
                    if isinstance(elt, ast.Constant):
                        found.setdefault(str(elt.value), f"{rel}:{node.lineno}")
    return found


# Shell builtins the UI tests type into tmux's shell (Tmux.run): no program to install.
SHELL_BUILTINS = frozenset({"cd", "fg", "bg", "jobs", "exit", "export", "unset"})


def test_every_tool_the_tests_call_is_installed_by_make_test() -> None:
    called = tools_called_by_tests()
    # The scan must see the tools of the original report, or it proves nothing.
    assert {"shellcheck", "ruby", "curl", "wget", "npm", "zsh", "fish"} <= set(called)
    # Programs the tests run that are not system tools: the codex under test, the packaged
    # file, and the ones the build (make dist / distbuild.build_deps) installs.
    not_system = {"codex", "actionlint", "qemu-aarch64-static"} & set(called)
    uncovered = {tool: where for tool, where in called.items()
                 if tool not in test_deps.TEST_TOOLS and tool not in test_deps.BASE_TOOLS
                 and tool not in not_system and tool not in SHELL_BUILTINS and "/" not in tool}
    assert uncovered == {}, ("tests call tools that `make test` does not install; add them "
                             f"to ci/test_deps.py TEST_TOOLS: {uncovered}")
