"""Places on disk that tests of the sandbox may treat as "outside the workspace"."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def outside_parent() -> Path:
    """A folder no workspace-write policy makes writable: not under /tmp nor $TMPDIR.

    The repository's build/ folder, unless the checkout itself sits in /tmp (a CI clone may);
    then /var/tmp, which is world-traversable and not a writable root.
    """
    temp_roots = {Path("/tmp").resolve(), Path(tempfile.gettempdir()).resolve()}
    for candidate in (ROOT / "build", Path("/var/tmp")):
        resolved = candidate.resolve()
        if not any(resolved == t or t in resolved.parents for t in temp_roots):
            return candidate
    pytest.fail("no folder outside /tmp and $TMPDIR for the sandbox tests")
