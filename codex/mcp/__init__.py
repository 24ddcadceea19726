"""MCP: tools from MCP servers for the model, `codex mcp`, and `codex mcp-server`.

Importing this package is cheap: the official `mcp` SDK is imported only by the modules that
talk to servers (`codex.mcp.client`, `codex.mcp.server`), and the connection manager loads
them in a worker thread once servers are configured, so neither `codex --version` nor the
first model request waits for it.
"""
