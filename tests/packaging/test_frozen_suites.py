"""The front-ends' end-to-end suites run again, whole, against the packaged file.

The interactive UI (issue 12) and MCP (issue 13) must work from the frozen file, not only
from the checkout: the freezers see lazy imports (prompt_toolkit, rich, pygments' lexers, the
MCP SDK) only through distbuild/freeze.py's lists, and a module missing there fails only in
the frozen program. Each suite below runs in a child pytest with CODEX_TEST_BINARY set, which
tests/conftest.py codex_cmd() turns into "run this file" for every codex the suite starts
(tmux panes, `codex exec`, `codex mcp-server`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
SUITES = {
    "interactive-ui": ["tests/tui/test_e2e.py", "tests/tui/test_startup.py"],
    "mcp": ["tests/integration/mcp/test_exec_mcp.py", "tests/integration/mcp/test_mcp_cli.py",
            "tests/integration/mcp/test_mcp_server.py",
            "tests/integration/mcp/test_project_servers.py"],
    "exec-front-end": ["tests/hardening/test_silent_stdin_wait.py",
                       "tests/hardening/test_jsonl_open_items.py"],
}


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_suite_passes_against_the_packaged_file(binary: Path, suite: str) -> None:
    env = dict(os.environ, CODEX_TEST_BINARY=str(binary))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-o", "addopts=", *SUITES[suite]],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    tail = r.stdout[-6000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    # It must have run the tests, not skipped them (a missing tmux would skip the UI's).
    summary = r.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0, tail
    assert "skipped" not in summary, tail
