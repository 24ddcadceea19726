"""Install the system tools the test suite calls (the first step of `make test`).

The tests drive real installers and shells: shellcheck and ruby (install.sh lint, the
Homebrew cask), curl, wget and busybox (install.sh), node and npm (the npm channel), zsh and
fish (completion scripts), zstd, git, ps, setpriv, unshare, file; and npm >= 10 (Debian
12's npm 9 cannot install the tests' local registry; npm upgrades itself). As root on
Debian/Ubuntu the missing ones are installed with apt-get; otherwise this names the
packages and the command that installs them, and exits 1 (so `make test` stops before
running a suite that would fail for want of them). Uses only the standard library: it
runs before any venv exists.

Usage: python3 -m ci.test_deps [--check]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys

# Tool the tests run -> Debian package that provides it.
TEST_TOOLS: dict[str, str] = {
    "shellcheck": "shellcheck",
    "ruby": "ruby",
    "curl": "curl",
    "wget": "wget",
    "busybox": "busybox-static",
    "node": "nodejs",
    "npm": "npm",
    "zsh": "zsh",
    "fish": "fish",
    "zstd": "zstd",
    "git": "git",
    "ps": "procps",
    "pgrep": "procps",
    "setpriv": "util-linux",
    "unshare": "util-linux",
    "file": "file",
    "tmux": "tmux",  # the interactive UI's end-to-end tests drive it in a real terminal
}
# Tools the tests run that every Debian/Ubuntu system has (Essential: yes packages and
# what the README asks for: Python 3.11+ and make). Not installed by this script.
BASE_TOOLS = frozenset({
    "sh", "bash", "env", "true", "false", "echo", "cat", "ls", "head", "tail", "sleep",
    "sha256sum", "cut", "tar", "gzip", "awk", "uname", "mktemp", "chmod", "mkdir", "cp", "mv",
    "rm", "tty", "stty", "kill", "id", "printf", "test", "touch", "sort", "wc", "grep", "sed",
    "mount", "umount", "chroot", "python3", "make",
})
# Where apt-get would fail (no root or no apt), say exactly what to run.
MISSING_MESSAGE = ("make test: the tests need tools that are not installed: {tools}.\n"
                   "Install them with:\n  sudo apt-get update && sudo apt-get install -y "
                   "{packages}\n")


def missing_packages(path: str | None = None) -> dict[str, str]:
    """{tool: package} for every test tool not found on `path` (default: $PATH), and
    `venv` when this Python cannot make the test venv (Debian splits ensurepip off)."""
    missing = {tool: pkg for tool, pkg in TEST_TOOLS.items()
               if shutil.which(tool, path=path) is None}
    if importlib.util.find_spec("ensurepip") is None:
        missing["venv"] = f"python{sys.version_info[0]}-venv"
    return missing


# The tests' local registry (Verdaccio, ci/local_registry.py) does not install with older npm
# ("Invalid comparator: cjs" from npm 9.2, Debian 12's); npm 10 runs on Debian's Node 18.
MIN_NPM = 10
NPM_UPGRADE = ["npm", "install", "-g", f"npm@{MIN_NPM}", "--no-audit", "--no-fund",
               "--loglevel=error"]


def old_npm(path: str | None = None) -> str | None:
    """The npm version when npm is installed but older than MIN_NPM, else None."""
    npm = shutil.which("npm", path=path)
    if npm is None:
        return None
    env = dict(os.environ, PATH=path) if path else None
    r = subprocess.run([npm, "--version"], capture_output=True, text=True, env=env)
    version = r.stdout.strip()
    try:
        return version if int(version.split(".")[0]) < MIN_NPM else None
    except ValueError:
        return version or "unknown"


def apt_install(packages: list[str]) -> int:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"test_deps: apt-get install {' '.join(packages)}", flush=True)
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                 "-o", "DPkg::Lock::Timeout=600", *packages]):
        r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)
        if r.returncode != 0:
            print(f"test_deps: `{' '.join(cmd)}` failed (exit {r.returncode})",
                  file=sys.stderr)
            return r.returncode
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--check", action="store_true",
                    help="install nothing: name what is missing, exit 1 if anything is")
    args = ap.parse_args(argv)
    missing = missing_packages()
    root = os.geteuid() == 0
    if missing:
        packages = sorted(set(missing.values()))
        if args.check or not (root and shutil.which("apt-get")):
            sys.stderr.write(MISSING_MESSAGE.format(tools=", ".join(sorted(missing)),
                                                    packages=" ".join(packages)))
            return 1
        status = apt_install(packages)
        if status:
            return status
        still = missing_packages()
        if still:
            sys.stderr.write(MISSING_MESSAGE.format(
                tools=", ".join(sorted(still)), packages=" ".join(sorted(set(still.values())))))
            return 1
    version = old_npm()
    if version:
        if args.check or not root:
            sys.stderr.write(f"make test: npm {version} is too old for the tests' local "
                             f"registry (needs npm >= {MIN_NPM}).\nUpgrade it with:\n  sudo "
                             + " ".join(NPM_UPGRADE[:4]) + "\n")
            return 1
        print(f"test_deps: npm {version} -> npm {MIN_NPM}: {' '.join(NPM_UPGRADE)}", flush=True)
        r = subprocess.run(NPM_UPGRADE, stdout=subprocess.DEVNULL)
        if r.returncode != 0 or old_npm():
            print("test_deps: upgrading npm failed", file=sys.stderr)
            return r.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
