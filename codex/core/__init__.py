"""The agent: the session (ops in, events out), the turn loop, model clients, tools,
approvals, compaction, rollouts, AGENTS.md.

Entry points for other packages: `codex.core.session.Session` / `SessionOptions` (what every
front-end drives), `codex.core.protocol` (the ops and events), `codex.core.tools` (the tool
registry and `ToolContext`, for tools added at run time), `codex.core.client.make_client`,
`codex.core.rollout` (session files). Nothing is imported here, so `codex --version` and
`codex exec-server` never pay for this package.
"""
