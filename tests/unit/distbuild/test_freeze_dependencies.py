"""What the freezers take whole comes from pyproject.toml: a new dependency needs no edit here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from distbuild import freeze

ROOT = Path(__file__).resolve().parents[3]


def test_the_declared_dependencies_and_what_they_pull_in_are_frozen() -> None:
    deps = freeze.dependencies(sys.executable)
    assert deps.packages[0] == "codex"
    # Declared in pyproject.toml, and pulled in by requests (charset_normalizer, idna,
    # urllib3, certifi: the CA bundle).
    assert {"requests", "websockets", "ptyprocess", "platformdirs", "tomli_w", "urllib3",
            "idna", "certifi", "charset_normalizer"} <= set(deps.packages)
    assert {"requests", "certifi", "urllib3"} <= {d.lower() for d in deps.distributions}
    # pywinpty is for Windows only: its marker is false here.
    assert "winpty" not in deps.packages
    # Test-only tools are not runtime dependencies.
    assert not {"pytest", "ruff", "yaml"} & set(deps.packages)


def test_a_dependency_added_to_pyproject_is_frozen_with_its_metadata(tmp_path: Path) -> None:
    """What another engineer's new dependency goes through: only pyproject.toml changes."""
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    # Two the test venv has (dev extras): PyYAML, a package; pytest, which pulls in pluggy
    # and iniconfig (packages) and the single-file module `py`.
    pyproject.write_text(text.replace('    "tomli-w>=1.0",\n',
                                      '    "tomli-w>=1.0",\n    "pyyaml>=6",\n    "pytest",\n'))
    deps = freeze.dependencies(sys.executable, pyproject)
    assert {"yaml", "pytest", "_pytest", "pluggy", "iniconfig"} <= set(deps.packages)
    assert "py" in deps.modules  # pytest's single-file `py` shim: a module, not a package
    # Their metadata, for importlib.metadata.version() in the frozen program.
    assert {"PyYAML", "pytest", "pluggy"} <= set(deps.distributions)


def test_a_declared_dependency_that_is_not_installed_is_named(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\nversion = "0"\n'
                         'dependencies = ["codex-no-such-dependency>=1"]\n')
    with pytest.raises(RuntimeError, match="codex-no-such-dependency.*build_deps"):
        freeze.dependencies(sys.executable, pyproject)
