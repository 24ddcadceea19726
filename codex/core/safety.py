"""Known-safe commands: what `untrusted` runs without asking (spec session.md, "Approvals").

A command line is known-safe when every command of it (a pipeline, `&&`/`||`/`;` chain) is a
read-only program used in a read-only way. Anything this module cannot be sure of is not safe:
redirections (`>`, `<`, `>&`), command or process substitution (`$(…)`, backticks, `<(…)`),
subshells and groups, background jobs (`&`), several lines, environment assignments, paths to
programs, and program options that write or run other programs (`find -exec`, `sort -o`,
`rg --pre`, `git diff --output`, ...). Being wrong here only costs a question to the user.
"""

from __future__ import annotations

import re
import shlex

# Read-only whatever their arguments (redirections are refused separately).
_ALWAYS_SAFE = frozenset({
    "basename", "cat", "cd", "cut", "df", "dirname", "du", "echo", "false", "file", "grep",
    "head", "id", "ls", "nl", "paste", "pwd", "readlink", "realpath", "rev", "seq", "stat",
    "tail", "tr", "true", "uname", "uniq", "wc", "which", "whoami",
})
_CHAIN_OPERATORS = frozenset({"|", "&&", "||", ";"})
# Text that makes a command line unanalysable here.
_UNSAFE_TEXT = ("`", "$(", "<(", ">(", "\n", "\r")

_FIND_UNSAFE = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint",
                          "-fprint0", "-fprintf"})
_RG_UNSAFE = ("--pre", "--hostname-bin", "--search-zip", "-z")
_SORT_UNSAFE = ("-o", "--output", "--compress-program")
_GIT_SAFE_SUBCOMMANDS = frozenset({"status", "log", "diff", "show"})
_GIT_UNSAFE = ("--output", "--ext-diff", "--exec", "-c")
_SED_PRINT = re.compile(r"^\d+(,\d+)?p$")


def _split(command: str) -> list[list[str]] | None:
    """The commands of a chain, each as argv; None when it holds anything but words and the
    chain operators."""
    if any(t in command for t in _UNSAFE_TEXT):
        return None
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes
        return None
    commands: list[list[str]] = [[]]
    for tok in tokens:
        if tok and all(c in lexer.punctuation_chars for c in tok):
            if tok not in _CHAIN_OPERATORS or not commands[-1]:
                return None  # redirection, subshell, background job, or an empty command
            commands.append([])
        else:
            commands[-1].append(tok)
    if not commands[-1]:
        return None if len(commands) > 1 else []
    return commands


def _has_option(args: list[str], options: tuple[str, ...] | frozenset[str]) -> bool:
    for a in args:
        for opt in options:
            if a == opt or (opt.startswith("--") and a.startswith(opt + "=")):
                return True
            if not opt.startswith("--") and len(opt) == 2 and a.startswith(opt) and \
                    not a.startswith("--"):
                return True  # `-ofile`, `-zn`
    return False


def _safe_argv(argv: list[str]) -> bool:
    prog, args = argv[0], argv[1:]
    if "/" in prog or "=" in prog:
        return False  # a path to some program, or an environment assignment
    if prog in _ALWAYS_SAFE:
        return True
    if prog == "find":
        return not any(a in _FIND_UNSAFE for a in args)
    if prog == "rg":
        return not _has_option(args, _RG_UNSAFE)
    if prog == "sort":
        return not _has_option(args, _SORT_UNSAFE)
    if prog == "git":
        if not args or args[0] not in _GIT_SAFE_SUBCOMMANDS:
            return False  # also refuses global options before the subcommand (`git -c ...`)
        return not _has_option(args[1:], _GIT_UNSAFE)
    if prog == "sed":
        # Only `sed -n Np` / `sed -n M,Np` [FILE...]: printing lines.
        return len(args) >= 2 and args[0] == "-n" and bool(_SED_PRINT.match(args[1]))
    return False


def is_known_safe(command: str) -> bool:
    """Whether `command` (shell text) only reads: every part of it a known-safe program."""
    commands = _split(command)
    if not commands:
        return False
    return all(_safe_argv(argv) for argv in commands)
