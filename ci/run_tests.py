"""CI's test entry on every OS: make .venv with the dev extras, then ruff and pytest.

The same as `make test`, for runners without make (Windows). Extra arguments go to pytest.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINTED = ["codex", "tests", "bench", "distbuild", "installers", "ci"]


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    env_dir = ROOT / ".venv"
    bindir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    py = bindir / ("python.exe" if sys.platform == "win32" else "python")
    if not py.exists():
        venv.create(env_dir, with_pip=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"], check=True)
    lint = subprocess.run([str(py), "-m", "ruff", "check",
                           *[d for d in LINTED if (ROOT / d).is_dir()]], cwd=ROOT)
    tests = subprocess.run([str(py), "-m", "pytest", *argv], cwd=ROOT)
    return lint.returncode or tests.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
