"""Fixtures shared by the tests that run the real `codex exec` against the mock model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.exec_harness import WIRES, Harness, harness_for


@pytest.fixture(params=WIRES)
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, request.param)


@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Harness]:
    yield from harness_for(tmp_path, "responses")
