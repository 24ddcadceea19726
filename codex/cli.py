"""The `codex` command: argument parsing and dispatch only.

Every subcommand lives in its own module, imported only when that subcommand runs, so that
`codex --version`, `--help` and `exec-server` never pay for the agent or HTTP stacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from codex import __version__
from codex.errors import CodexError, UsageError

# name -> (module, function, one-line help). The function takes the parsed Namespace and
# returns an exit code.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "exec": ("codex.exec_cmd", "run", "run one task headless and print the result"),
    "exec-server": ("codex.exec_server.cli", "run", "serve processes over JSON-RPC"),
    "sandbox": ("codex.sandbox.cli", "run", "run one command under the sandbox policy"),
    "login": ("codex.core.auth_cmd", "login", "store an API key (read from stdin)"),
    "logout": ("codex.core.auth_cmd", "logout", "remove the stored credentials"),
    "doctor": ("codex.doctor", "run", "show version, platform and effective configuration"),
    "completion": ("codex.completion", "run", "print a shell completion script"),
    "update": ("codex.update", "run", "show or perform the upgrade for this install"),
    "mcp": ("codex.mcp.cli", "run", "list, show, add or remove MCP servers in config.toml"),
    "mcp-server": ("codex.mcp.server", "run", "run codex as an MCP server on stdio"),
    "resume": ("codex.tui", "run_resume", "resume a recorded session in the interactive UI"),
}
# Bare `codex [OPTIONS] [PROMPT]`: the interactive UI (spec tui.md "Starting").
INTERACTIVE = ("codex.tui", "run")
# Options of `codex [OPTIONS] [PROMPT]` that take a value (to find the first positional).
_VALUE_OPTIONS = frozenset({"-c", "--config", "-p", "--profile", "-C", "--cd", "-m", "--model",
                            "-s", "--sandbox", "-a", "--ask-for-approval", "-i", "--image",
                            "--add-dir", "--exec-server"})


# Subcommands that run the model's commands (and so reap what those leave behind). The
# interactive UI does so too, once its first frame is up (`codex.tui.startup`).
_RUNS_COMMANDS = frozenset({"exec", "exec-server"})
# Commands with no use for the current directory (all others read the project's config,
# AGENTS.md or run commands there).
_NEEDS_NO_CWD = frozenset({"exec-server", "completion", "login", "logout", "update"})


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line of reason, then the usage, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n{self.format_usage()}")


def _add_global_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On subcommands the defaults are suppressed so a value given before the subcommand
    # (`codex -p fast exec ...`) is not reset by the subparser.
    default = argparse.SUPPRESS if suppress else None
    p.add_argument(
        "-c",
        "--config",
        action="append",
        metavar="KEY=VALUE",
        dest="config_overrides",
        default=argparse.SUPPRESS if suppress else [],
        help="override a config value (dotted key; value parsed as TOML, else a string)",
    )
    p.add_argument("-p", "--profile", default=default, help="config profile to use")
    p.add_argument("-C", "--cd", default=default, metavar="DIR", help="working directory")


def _add_exec_args(p: argparse.ArgumentParser) -> None:
    class _ExecParser(type(p)):  # type: ignore[misc, valid-type]
        """Lets positionals follow options, as in `exec resume --last "next step"`."""

        _intermixing = False

        def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
            if self._intermixing:
                return super().parse_known_args(args, namespace)
            self._intermixing = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._intermixing = False

    p.__class__ = _ExecParser
    p.usage = ("codex exec [OPTIONS] [PROMPT]\n"
               "       codex exec resume (--last [--all] | SESSION_ID) [PROMPT]")
    p.add_argument("prompt", nargs="?", help="the task; '-' or absent reads it from stdin")
    p.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--last", action="store_true",
                   help="with `resume`: continue the most recent session started in this "
                        "directory")
    p.add_argument("--all", action="store_true",
                   help="with `resume --last`: consider sessions from every directory")
    p.add_argument("-m", "--model", help="model to use")
    p.add_argument(
        "-s",
        "--sandbox",
        choices=["read-only", "workspace-write", "danger-full-access"],
        help="sandbox mode for model-run commands",
    )
    p.add_argument("--full-auto", action="store_true",
                   help="workspace-write sandbox (exec never asks for approval)")
    p.add_argument(
        "--dangerously-bypass-approvals-and-sandbox",
        "--yolo",
        action="store_true",
        dest="bypass",
        help="run every command without sandbox or approval (only in an isolated machine)",
    )
    p.add_argument("--skip-git-repo-check", action="store_true", help="allow running outside git")
    p.add_argument("--ephemeral", action="store_true", help="do not write a session rollout")
    p.add_argument("--oss", action="store_true", help="use a local model server")
    p.add_argument("-i", "--image", action="append", default=[], metavar="FILE", help="attach")
    p.add_argument("--json", action="store_true", help="print JSONL events on stdout")
    p.add_argument("-o", "--output-last-message", metavar="FILE", help="write the last message")
    p.add_argument("--output-schema", metavar="FILE", help="JSON schema for the final answer")
    p.add_argument("--add-dir", action="append", default=[], metavar="DIR", help="writable dir")
    p.add_argument("--exec-server", metavar="URL", help="run commands on this exec-server")
    p.add_argument("--color", choices=["always", "never", "auto"], default="auto")


def _add_interactive_args(p: argparse.ArgumentParser) -> None:
    """Options shared by `codex [PROMPT]` and `codex resume`."""
    p.add_argument("-m", "--model", help="model to use")
    p.add_argument("-s", "--sandbox",
                   choices=["read-only", "workspace-write", "danger-full-access"],
                   help="sandbox mode for model-run commands")
    p.add_argument("-a", "--ask-for-approval", dest="approval",
                   choices=["untrusted", "on-failure", "on-request", "never"],
                   help="when to ask before running a command")
    p.add_argument("--full-auto", action="store_true",
                   help="workspace-write sandbox, ask only when the model requests it")
    p.add_argument("--dangerously-bypass-approvals-and-sandbox", "--yolo", action="store_true",
                   dest="bypass",
                   help="run every command without sandbox or approval (isolated machines)")
    p.add_argument("-i", "--image", action="append", default=[], metavar="FILE",
                   help="attach an image to the first message")
    p.add_argument("--oss", action="store_true", help="use a local model server")
    p.add_argument("--add-dir", action="append", default=[], metavar="DIR", help="writable dir")
    p.add_argument("--exec-server", metavar="URL", help="run commands on this exec-server")


def _add_resume_args(p: argparse.ArgumentParser) -> None:
    p.usage = "codex resume [OPTIONS] [--last | --all | SESSION_ID] [PROMPT]"
    p.add_argument("session_id", nargs="?", help="the session to resume (else a picker)")
    p.add_argument("prompt", nargs="?", help="a first message to send")
    p.add_argument("--last", action="store_true", help="the most recent session in this folder")
    p.add_argument("--all", action="store_true", help="list sessions of every folder")
    _add_interactive_args(p)


def build_interactive_parser() -> argparse.ArgumentParser:
    """`codex [OPTIONS] [PROMPT]`: the interactive UI's own grammar."""
    parser = _Parser(prog="codex", usage="codex [OPTIONS] [PROMPT]\n"
                     "       codex COMMAND ...   (codex --help lists the commands)",
                     description="Start the interactive UI; PROMPT is sent as the first message.")
    _add_global_options(parser, suppress=False)
    parser.add_argument("prompt", nargs="?", help="first message to send")
    _add_interactive_args(parser)
    return parser


def _wants_interactive(argv: Sequence[str]) -> bool:
    """True unless the first positional argument names a subcommand (or asks for help)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--":
            return True
        if arg in ("-h", "--help", "-V", "--version"):
            return False
        if arg.startswith("-"):
            skip = arg in _VALUE_OPTIONS
            continue
        return arg not in SUBCOMMANDS
    return True


def _add_exec_server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--listen",
        default="ws://127.0.0.1:0",
        metavar="URL",
        help="ws://IP:PORT (port 0 = any free port) or stdio",
    )
    p.add_argument(
        "--ws-token-file",
        metavar="PATH",
        help="file holding the bearer token clients must send (required off loopback)",
    )
    p.add_argument(
        "--session-grace-ms",
        type=int,
        default=None,
        metavar="MS",
        help="keep a dropped websocket client's processes this long for a resume "
             "(default 30000; 0 kills them at once)",
    )
    # For tests: how long a closed process stays readable (spec: 30 s).
    p.add_argument("--retain-closed-ms", type=int, default=None, help=argparse.SUPPRESS)


def _add_sandbox_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-s",
        "--sandbox",
        choices=["read-only", "workspace-write", "danger-full-access"],
        help="sandbox mode (default: sandbox_mode from config, else workspace-write)",
    )
    p.add_argument("--allow-network", action="store_true", help="keep network access")
    p.add_argument(
        "--writable-root", action="append", default=[], metavar="DIR", help="extra writable dir"
    )
    # Internal: the helper behind codex.sandbox.wrap_argv (a whole policy as JSON).
    p.add_argument("--policy-json", metavar="JSON", help=argparse.SUPPRESS)
    # dest is not "command": that name holds the subcommand in the top-level namespace.
    p.add_argument("sandboxed_argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]",
                   help="the command to run")


def _add_login_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--with-api-key", action="store_true", help="read an API key from stdin and store it"
    )


def _add_doctor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print as JSON")


def _add_completion_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=["bash", "zsh", "fish"], help="shell to generate for")


def _add_update_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true", help="only tell what would be done")


class _McpAddParser(_Parser):
    """Everything after `--` is the server's command line, options included
    (`codex mcp add time -- uvx mcp-server-time --local-timezone UTC`)."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        args = list(sys.argv[1:] if args is None else args)
        tail = None
        if "--" in args:
            i = args.index("--")
            args, tail = args[:i], args[i + 1:]
        ns, extra = super().parse_known_args(args, namespace)
        if tail is not None:
            if ns.server_argv:
                self.error("give the server's command line once, after --")
            ns.server_argv = tail
        return ns, extra


def _add_mcp_args(p: argparse.ArgumentParser) -> None:
    subs = p.add_subparsers(dest="mcp_command", metavar="SUBCOMMAND",
                            parser_class=type(p))
    ls = subs.add_parser("list", help="list the configured MCP servers")
    ls.add_argument("--json", action="store_true", help="print as JSON")
    ls.add_argument("--probe", action="store_true",
                    help="start each enabled server once and show its status")
    get = subs.add_parser("get", help="show one MCP server's configuration")
    get.add_argument("name", help="the server's name")
    get.add_argument("--json", action="store_true", help="print as JSON")
    add = subs.add_parser("add", help="add (or replace) an MCP server in config.toml",
                          usage="codex mcp add NAME [--env KEY=VALUE]... -- COMMAND [ARGS...]\n"
                                "       codex mcp add NAME --url URL "
                                "[--bearer-token-env-var VAR]")
    add.__class__ = _McpAddParser
    add.add_argument("name", help="the server's name (letters, digits, '-', '_')")
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                     help="environment variable for a stdio server (repeatable)")
    add.add_argument("--url", help="a streamable HTTP server's URL")
    add.add_argument("--bearer-token-env-var", metavar="VAR",
                     help="send `Authorization: Bearer $VAR` to the HTTP server")
    add.add_argument("server_argv", nargs="*", metavar="-- COMMAND [ARGS...]",
                     help="the stdio server's command line")
    rm = subs.add_parser("remove", help="remove an MCP server from config.toml")
    rm.add_argument("name", help="the server's name")
    for sp in (ls, get, add, rm):
        _add_global_options(sp, suppress=True)


_ARGS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "exec": _add_exec_args,
    "exec-server": _add_exec_server_args,
    "sandbox": _add_sandbox_args,
    "login": _add_login_args,
    "doctor": _add_doctor_args,
    "completion": _add_completion_args,
    "update": _add_update_args,
    "mcp": _add_mcp_args,
    "resume": _add_resume_args,
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command-line grammar (cheap: argparse only, no subcommand imports)."""
    parser = _Parser(
        prog="codex",
        description="A terminal coding agent. Run `codex [PROMPT]` for the interactive UI, "
                    "`codex exec PROMPT` for a headless task.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"codex-cli {__version__}")
    _add_global_options(parser, suppress=False)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (_module, _func, help_text) in SUBCOMMANDS.items():
        sp = subs.add_parser(name, help=help_text, description=help_text)
        _add_global_options(sp, suppress=True)
        add = _ARGS.get(name)
        if add is not None:
            add(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv in (["--version"], ["-V"]):
        # The hot path of every wrapper and health check: skip building the parser.
        sys.stdout.write(f"codex-cli {__version__}\n")
        return 0
    if argv[:2] == ["sandbox", "--policy-json"]:
        # Every sandboxed command re-enters codex here: skip argparse and the subcommand table.
        from codex.sandbox._helper import main as sandbox_helper

        return sandbox_helper(argv[1:])
    if _wants_interactive(argv):
        parser = build_interactive_parser()
        args = parser.parse_args(argv)
        args.command = None
        module_name, func_name = INTERACTIVE
    else:
        parser = build_parser()
        args = parser.parse_args(argv)
        module_name, func_name, _ = SUBCOMMANDS[args.command]
    if args.cd:
        try:
            os.chdir(args.cd)
        except OSError as e:
            parser.error(f"cannot change to directory {args.cd!r}: {e.strerror}")
    if args.command not in _NEEDS_NO_CWD:
        try:
            os.getcwd()
        except OSError:
            sys.stderr.write("codex: error: the current directory does not exist any more (was "
                             "it deleted?); cd to another one or pass -C DIR\n")
            return 1
    if args.command in _RUNS_COMMANDS:
        # Orphans of the commands we run come to us, not init (codex.reaper).
        from codex.reaper import want_subreaper

        want_subreaper()
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(args) or 0)
    except UsageError as e:
        parser.error(e.message)
        return 2
    except CodexError as e:
        sys.stderr.write(f"codex: error: {e.message}\n")
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout closed by the reader (e.g. `| head`); not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 1
