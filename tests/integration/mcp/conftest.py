"""Fixtures for the MCP tests: the reference servers' venv, a per-test process marker."""

from __future__ import annotations

import uuid

import pytest

from tests.support import mcp_servers


@pytest.fixture(scope="session")
def servers_venv() -> str:
    return str(mcp_servers.server_venv())


@pytest.fixture
def mark() -> str:
    """Put `{MARK_VAR: mark}` in a server's env; `marked_processes(mark)` must end empty."""
    return uuid.uuid4().hex
