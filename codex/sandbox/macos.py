"""macOS enforcement: a Seatbelt profile generated from the policy, run by `sandbox-exec`.

Seatbelt (unlike Landlock) can subtract: a write rule is "under this root, but not under its
`.git`". Paths never appear in the profile text itself; they travel as `-D NAME=PATH`
parameters, so no path needs quoting and the profile for a policy is the same text wherever the
workspace is. Generating the text is pure and is unit-tested on every platform; running it is
for the macOS CI job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from codex.sandbox.errors import SandboxUnavailable
from codex.sandbox.policy import SandboxPolicy, protected_paths

SANDBOX_EXEC = "/usr/bin/sandbox-exec"

# Our base: deny everything, then allow what ordinary command-line programs need to start and
# talk to the terminal. Reading files is allowed everywhere (the policy restricts writes).
_BASE = """\
(version 1)
(deny default)
(allow process-exec)
(allow process-fork)
(allow process-info* (target same-sandbox))
(allow signal (target same-sandbox))
(allow sysctl-read)
(allow user-preference-read)
(allow file-read*)
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl
  (literal "/dev/null")
  (literal "/dev/zero")
  (literal "/dev/tty")
  (literal "/dev/ptmx")
  (regex #"^/dev/ttys[0-9]+$"))
(allow file-read* (literal "/dev/random") (literal "/dev/urandom"))
(allow ipc-posix-sem)
(allow ipc-posix-shm-read-data ipc-posix-shm-read-metadata)
(allow mach-lookup
  (global-name "com.apple.system.opendirectoryd.libinfo")
  (global-name "com.apple.system.logger")
  (global-name "com.apple.system.notification_center")
  (global-name "com.apple.coreservices.launchservicesd"))
(allow system-socket (socket-domain AF_UNIX))
"""

# With the network off no unix socket may be reached either: a daemon's socket (a container
# engine's, an agent's) would be a way out (see linux.py); socketpairs need no rule.
_NETWORK = """\
(allow network-outbound)
(allow network-inbound)
(allow network-bind)
(allow system-socket)
(allow mach-lookup
  (global-name "com.apple.dnssd.service")
  (global-name "com.apple.SystemConfiguration.configd")
  (global-name "com.apple.trustd.agent"))
"""


def profile(policy: SandboxPolicy, cwd: str,
            env: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """The Seatbelt profile text for `policy` and the `-D` parameters it refers to."""
    params: dict[str, str] = {}
    parts = [_BASE]
    if policy.full_disk_write:
        parts.append("(allow file-write*)\n")
    else:
        roots = policy.effective_writable_roots(cwd, env)
        clauses = []
        for i, root in enumerate(roots):
            name = f"WRITABLE_ROOT_{i}"
            params[name] = root
            excluded = []
            for j, ro in enumerate(protected_paths(root, roots)):
                ro_name = f"{name}_RO_{j}"
                params[ro_name] = ro
                excluded.append(f'(require-not (subpath (param "{ro_name}")))')
            if excluded:
                clauses.append(
                    f'  (require-all (subpath (param "{name}")) {" ".join(excluded)})'
                )
            else:
                clauses.append(f'  (subpath (param "{name}"))')
        if clauses:
            parts.append("(allow file-write*\n" + "\n".join(clauses) + ")\n")
    if policy.full_network:
        parts.append(_NETWORK)
    return "".join(parts), params


def wrap_argv(policy: SandboxPolicy, argv: Sequence[str], cwd: str) -> list[str]:
    """`sandbox-exec -p PROFILE -DNAME=PATH... -- argv` for `policy`."""
    if not os.path.exists(SANDBOX_EXEC):
        raise SandboxUnavailable(
            f"sandbox unavailable: {SANDBOX_EXEC} is missing; the command was not run"
        )
    text, params = profile(policy, cwd, os.environ)
    return [SANDBOX_EXEC, "-p", text, *(f"-D{k}={v}" for k, v in params.items()), "--", *argv]
