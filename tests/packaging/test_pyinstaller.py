"""The other freezer stays buildable: `python -m distbuild.build --freezer pyinstaller` (~30 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codex import __version__

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]


def test_pyinstaller_build_runs(tmp_path: Path, cache_env: dict[str, str],
                                build_mod, packaged: dict) -> None:
    # `packaged` first: it installs the build deps (and reuses a fresh dist/).
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "distbuild.build", "--freezer",
                    "pyinstaller", "--out", str(out), "--work", str(tmp_path / "work")],
                   check=True, capture_output=True, timeout=1800, cwd=ROOT)
    binary = out / build_mod.binary_name(build_mod.host_triple())
    info = json.loads(binary.with_name(binary.name + ".buildinfo.json").read_text())
    assert info["freezer"] == "pyinstaller"
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                       env=cache_env, timeout=180)
    assert (r.returncode, r.stdout) == (0, f"codex-cli {__version__}\n"), r.stderr
    r = subprocess.run([str(binary), "doctor", "--json"], capture_output=True, text=True,
                       env=cache_env, timeout=180)
    assert r.returncode == 0, r.stderr
    doctor = json.loads(r.stdout)
    assert doctor["frozen"] is True and doctor["executable"] == str(binary)
    assert Path(doctor["ca_bundle"]).is_file()
