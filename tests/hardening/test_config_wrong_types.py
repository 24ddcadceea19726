"""A setting of the wrong type is one clear error line, never a traceback.

Found by a new-user trial of the packaged file: `-c model_providers.openai.request_max_retries=abc`
and `mcp_servers = 5` in config.toml ended in Python tracebacks (int(), iteration over an int).
The class: every table of named tables (model_providers, mcp_servers, profiles, projects) and
every provider number, from config.toml and from `-c`, through each command that reads them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_codex

CASES = [
    # (config.toml text, argv)
    ("", ["exec", "--skip-git-repo-check", "-c",
          "model_providers.openai.request_max_retries=abc", "hi"]),
    ("", ["exec", "--skip-git-repo-check", "-c",
          "model_providers.openai.stream_idle_timeout_ms=-1", "hi"]),
    ("", ["exec", "--skip-git-repo-check", "-c", "model_providers=5", "hi"]),
    ("", ["exec", "--skip-git-repo-check", "-c", "model_providers.openai=5", "hi"]),
    ('[model_providers.openai]\nstream_max_retries = "x"\n', ["doctor"]),
    ("profiles = 5\n", ["-p", "fast", "doctor"]),
    ("# keep\nmcp_servers = 5\n", ["mcp", "add", "q", "--", "echo"]),
    ("# keep\nmcp_servers = 5\n", ["mcp", "remove", "q"]),
    ("# keep\nmcp_servers = 5\n", ["mcp", "list"]),
    ("projects = 5\n", ["doctor"]),
]


@pytest.mark.parametrize(("config", "argv"), CASES,
                         ids=[" ".join(a[-3:]) + (" / " + c.strip() if c else "")
                              for c, a in CASES])
def test_wrong_type_is_one_error_line(tmp_path: Path, config: str, argv: list[str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cfg = home / "config.toml"
    if config:
        cfg.write_text(config)
    env = {"CODEX_HOME": str(home), "OPENAI_API_KEY": "sk-test",
           "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "CODEX_RETRY_BASE_MS": "1"}
    r = run_codex(argv, env=env, cwd=tmp_path, input="", timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("codex: error:")]
    assert len(errors) == 1, r.stderr
    assert "invalid" in errors[0] or "not a table" in errors[0], errors[0]
    # nothing was written over the user's file
    assert (cfg.read_text() if cfg.exists() else "") == config
