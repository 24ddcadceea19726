"""The parts of `codex exec` (its entry point is `codex.exec_cmd.run`).

- `options.py`: `ExecOptions`, the command line as one typed object.
- `inputs.py`: the prompt (argument, stdin, images) and the output schema.
- `jsonl.py`: `JsonlRenderer`, the session's events as JSONL (`--json`).
- `human.py`: `HumanRenderer`, progress for people on stderr.
"""
