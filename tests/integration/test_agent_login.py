"""`codex login --with-api-key` / `codex logout` as users run them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.conftest import run_codex


def test_login_stores_key_0600_and_logout_removes_it(codex_home: Path) -> None:
    r = run_codex(["login", "--with-api-key"], input="  sk-abc123\n")
    assert r.returncode == 0, r.stderr
    auth = codex_home / "auth.json"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert json.loads(auth.read_text())["OPENAI_API_KEY"] == "sk-abc123"
    assert "sk-abc123" not in r.stdout + r.stderr  # never echo the secret
    r = run_codex(["logout"])
    assert r.returncode == 0 and "logged out" in r.stderr
    assert not auth.exists()
    r = run_codex(["logout"])
    assert r.returncode == 0 and "Not logged in" in r.stderr


def test_login_rejects_missing_flag_and_empty_or_bad_input(codex_home: Path) -> None:
    r = run_codex(["login"], input="sk-x\n")
    assert r.returncode == 2 and "--with-api-key" in r.stderr
    r = run_codex(["login", "--with-api-key"], input="")
    assert r.returncode == 2 and "no API key on stdin" in r.stderr
    r = run_codex(["login", "--with-api-key"], input="two words\n")
    assert r.returncode == 2
    assert not (codex_home / "auth.json").exists()


def test_relogin_replaces_key(codex_home: Path) -> None:
    assert run_codex(["login", "--with-api-key"], input="sk-one").returncode == 0
    assert run_codex(["login", "--with-api-key"], input="sk-two").returncode == 0
    data = json.loads((codex_home / "auth.json").read_text())
    assert data["OPENAI_API_KEY"] == "sk-two"
    assert [p.name for p in codex_home.iterdir()] == ["auth.json"]  # no temp files left
