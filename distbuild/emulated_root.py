"""A Debian root of another architecture, run under qemu-user, cached between builds.

`ensure(arch)` makes (once) a minimal Debian bookworm root for `arch` with mmdebstrap from
Debian's archive, holding the same toolchain `distbuild.build_deps` installs on the host
(gcc and static libc for the launcher, Debian's python3 for the freezers, patchelf, zstd) and
the build venv at /opt/codex-build-venv. It lives in the user cache dir
(`~/.cache/codex-build/roots/<suite>-<arch>-<key>/`), outside the checkout, so `make clean` and
a fresh clone keep it; the key changes, and a new root is made, when the package list or the
pinned build requirements change. A root is made in a temporary folder and renamed into place,
so an interrupted creation leaves nothing that looks finished.

`run(root, argv)` runs a command inside the root with the checkout bind-mounted at /src, in a
private mount namespace (the mounts vanish with the command, whatever happens to it). The
caller holds `distbuild.binfmt.registered(arch)` around both.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = "bookworm"
MIRRORS = (f"deb http://deb.debian.org/debian {SUITE} main",
           f"deb http://deb.debian.org/debian {SUITE}-updates main",
           f"deb http://deb.debian.org/debian-security {SUITE}-security main")
DEBIAN_ARCH = {"aarch64": "arm64", "x86_64": "amd64"}
# What distbuild.build_deps wants, plus what a minbase root lacks for pip (CA certificates)
# and for the freezers (binutils comes with gcc; `file` for PyInstaller's checks).
PACKAGES = ("gcc", "libc6-dev", "libzstd-dev", "zstd", "patchelf", "ccache", "python3",
            "python3-venv", "python3-dev", "ca-certificates", "file")
VENV_IN_ROOT = "/opt/codex-build-venv"
# What build commands in the root see besides the basics: where the build venv is.
BUILD_ENV = {"CODEX_BUILD_VENV": VENV_IN_ROOT}
SRC_IN_ROOT = "/src"  # the checkout
READY = ".codex-root-ready"  # written once mmdebstrap has finished
WORK_IN_ROOT = "/build"  # the build's scratch folder (may lie outside the checkout)


class RootError(RuntimeError):
    """The root could not be made or a command in it failed to start."""


@dataclass(frozen=True)
class RootInfo:
    path: Path
    created: bool  # made by this call (a cold start)
    seconds: float  # time to make it (0 when it was cached)


def cache_base() -> Path:
    """$CODEX_BUILD_ROOTS, else the XDG user cache dir (what platformdirs gives on Linux)."""
    if os.environ.get("CODEX_BUILD_ROOTS"):
        return Path(os.environ["CODEX_BUILD_ROOTS"])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "codex-build" / "roots"


def root_key(arch: str) -> str:
    """Changes whenever the Debian part of the root would: suite, mirrors, packages. (The
    build venv inside follows requirements-build.txt and pyproject.toml by itself:
    build_deps reinstalls it when they change.)"""
    h = hashlib.sha256()
    h.update("\n".join((SUITE, arch, *PACKAGES, *MIRRORS)).encode())
    return h.hexdigest()[:12]


def root_path(arch: str) -> Path:
    return cache_base() / f"{SUITE}-{DEBIAN_ARCH[arch]}-{root_key(arch)}"


def _log(msg: str) -> None:
    print(f"emulated-root: {msg}", flush=True)


# The host's trust store is bind-mounted over the root's, and variables naming it are passed
# in: a machine behind a TLS-inspecting proxy trusts that proxy's CA there, and pip, npm and
# git inside the root must reach PyPI and npm the same way the host does.
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CA_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
                "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "NODE_EXTRA_CA_CERTS")


def _clean_env() -> dict[str, str]:
    """What a command in the root sees: nothing of the host's environment but the basics."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/root", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore",
           "DEBIAN_FRONTEND": "noninteractive"}
    for key in ("SOURCE_DATE_EPOCH", "CCACHE_DISABLE", "TERM", *CA_VARIABLES):
        if key in os.environ:
            env[key] = os.environ[key]
    if Path(HOST_CA_BUNDLE).is_file():
        # pip trusts its own certifi copy unless told: make it trust what the host trusts.
        env.setdefault("PIP_CERT", HOST_CA_BUNDLE)
    return env


# Mounts made inside a private mount namespace, then chroot (or pivot_root). $0 = root,
# $1 = checkout, $2 = work folder ("-" for none), $3 = chroot|pivot.
_ENTER = r"""
set -e
R="$0"; S="$1"; W="$2"; HOW="$3"; shift 3
[ "$HOW" = chroot ] || mount --bind "$R" "$R"
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mkdir -p "$R/src"
mount --bind "$S" "$R/src"
if [ "$W" != - ]; then mkdir -p "$R/build" "$W"; mount --bind "$W" "$R/build"; fi
[ -e "$R/etc/resolv.conf" ] || : > "$R/etc/resolv.conf"
mount --bind /etc/resolv.conf "$R/etc/resolv.conf"
C=/etc/ssl/certs/ca-certificates.crt
if [ -f "$C" ]; then
    mkdir -p "$R/etc/ssl/certs"; [ -e "$R$C" ] || : > "$R$C"; mount --bind "$C" "$R$C"
fi
[ "$HOW" = chroot ] && exec chroot "$R" "$@"
# pivot_root: unlike chroot, the kernel then lets processes inside create user namespaces.
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
exec /bin/sh -c 'umount -l /.oldroot && rmdir /.oldroot; exec "$@"' sh "$@"
"""


def run(root: Path, argv: list[str], *, cwd: str = SRC_IN_ROOT, src: Path = ROOT,
        work: Path | None = None, env: dict[str, str] | None = None, check: bool = True,
        pivot: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run `argv` inside `root` (paths as the root sees them): the checkout `src` at /src,
    `work` (if given) at /build. `pivot`: pivot_root instead of chroot (the host's files
    are then out of reach, and user namespaces work inside; needs `umount` in the root)."""
    environ = _clean_env()
    environ.update(env or {})
    inner = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in sorted(environ.items())),
             "/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd, *argv]
    cmd = ["unshare", "--mount", "--propagation", "private", "--fork", "--",
           "/bin/sh", "-c", _ENTER, str(root), str(src), str(work) if work else "-",
           "pivot" if pivot else "chroot", *inner]
    return subprocess.run(cmd, check=check, **kw)


def _mmdebstrap(arch: str, target: Path) -> None:
    if not shutil.which("mmdebstrap"):
        raise RootError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    cmd = ["mmdebstrap", "--variant=minbase", f"--arch={DEBIAN_ARCH[arch]}",
           f"--include={','.join(PACKAGES)}", "--aptopt=Acquire::Retries \"3\"",
           "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*", SUITE, str(target), *MIRRORS]
    _log(" ".join(cmd))
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)


def _prepare(arch: str, target: Path) -> None:
    """Inside the fresh root: the build venv (and any package build_deps still misses)."""
    run(target, ["/usr/bin/python3", "-m", "distbuild.build_deps"], env=BUILD_ENV)


def ensure(arch: str) -> RootInfo:
    """The cached root for `arch`, made now if missing (needs root and the binfmt entry).

    Two stages, each kept once done: the Debian system (mmdebstrap, the slow part, made in a
    temporary folder and renamed into place), then the build venv inside it (build_deps,
    quick when its stamp matches requirements-build.txt and pyproject.toml)."""
    if os.geteuid() != 0:
        raise RootError("building another architecture's root needs root (mmdebstrap, chroot)")
    path = root_path(arch)
    t0 = time.monotonic()
    created = not (path / READY).exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
        try:
            tmp.rmdir()  # mmdebstrap wants an absent (or empty) target directory
            _mmdebstrap(arch, tmp)
            (tmp / READY).write_text(f"{SUITE} {arch} {root_key(arch)}\n")
            shutil.rmtree(path, ignore_errors=True)
            tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _prune_old(path)
    _prepare(arch, path)
    seconds = time.monotonic() - t0
    _log(f"{'made' if created else 'using'} {path} ({seconds:.0f} s)")
    return RootInfo(path, created, seconds if created else 0.0)


def _prune_old(keep: Path) -> None:
    """Remove roots of the same suite/arch made for older package lists."""
    prefix = keep.name.rsplit("-", 1)[0] + "-"
    for old in keep.parent.iterdir():
        if old != keep and old.name.startswith(prefix) and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from distbuild import binfmt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="aarch64", choices=sorted(DEBIAN_ARCH))
    ap.add_argument("command", nargs="*", help="run this in the root (default: just make it)")
    args = ap.parse_args(argv)
    with binfmt.registered(args.arch):
        info = ensure(args.arch)
        print(info.path)
        if args.command:
            return run(info.path, args.command, check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
