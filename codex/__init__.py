"""codex: a terminal coding agent, unified_exec sessions and an embedded exec-server."""

__version__ = "0.1.0"
