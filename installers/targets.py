"""Release targets and the names of their assets: one table every installer generator reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    triple: str
    runner: str  # GitHub-hosted runner that builds it natively
    npm_os: str  # process.platform
    npm_cpu: str  # process.arch
    required: bool = True

    @property
    def npm_suffix(self) -> str:
        """What the platform build's npm version and alias end in, e.g. `linux-x64`."""
        return f"{self.npm_os}-{self.npm_cpu}"

    @property
    def windows(self) -> bool:
        return self.npm_os == "win32"

    @property
    def binary_name(self) -> str:
        """The single file inside the archive."""
        return f"codex-{self.triple}.exe" if self.windows else f"codex-{self.triple}"

    @property
    def archive_name(self) -> str:
        return f"codex-{self.triple}.exe.zip" if self.windows else f"codex-{self.triple}.tar.gz"

    @property
    def zst_name(self) -> str:
        return f"{self.binary_name}.zst"


# Targets and runners from the distribution spec's table; Windows is a bonus, not required.
TARGETS: tuple[Target, ...] = (
    Target("x86_64-unknown-linux-musl", "ubuntu-24.04", "linux", "x64"),
    Target("aarch64-unknown-linux-musl", "ubuntu-24.04-arm", "linux", "arm64"),
    Target("aarch64-apple-darwin", "macos-15", "darwin", "arm64"),
    Target("x86_64-apple-darwin", "macos-15-intel", "darwin", "x64"),
    Target("x86_64-pc-windows-msvc", "windows-2022", "win32", "x64", required=False),
)
BY_TRIPLE = {t.triple: t for t in TARGETS}
SUMS_NAME = "SHA256SUMS"


def target(triple: str) -> Target:
    try:
        return BY_TRIPLE[triple]
    except KeyError:
        known = ", ".join(BY_TRIPLE)
        raise SystemExit(f"unknown target {triple!r} (known: {known})") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_sums(path: Path) -> dict[str, str]:
    """`SHA256SUMS` as {asset name: hex digest}; accepts `<hex>  <name>` and `<hex> *<name>`."""
    sums: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition(" ")
        name = name.lstrip(" *")
        if not sep or len(digest) != 64 or not name:
            raise SystemExit(f"{path}:{lineno}: not a `<sha256>  <name>` line: {line!r}")
        sums[name] = digest.lower()
    return sums


def write_sums(dist: Path) -> Path:
    """(Re)write dist/SHA256SUMS over every release asset directly in dist/."""
    lines = [f"{sha256_file(p)}  {p.name}" for p in sorted(dist.iterdir())
             if p.is_file() and p.name != SUMS_NAME and not p.name.startswith(".")]
    out = dist / SUMS_NAME
    out.write_text("".join(line + "\n" for line in lines))
    return out
