"""The agent: model clients, the turn loop, tools, policy, rollouts, AGENTS.md.

Entry points for other packages: `codex.core.agent.Agent` (the turn loop),
`codex.core.client.make_client` (Responses or Chat Completions), `codex.core.tools.ToolRouter`,
`codex.core.rollout` (session files). Nothing is imported here, so `codex --version` and
`codex exec-server` never pay for this package.
"""
