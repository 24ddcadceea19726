"""Write dist/install.sh: installers/install.sh with the release repository filled in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codex import release_settings

ROOT = Path(__file__).resolve().parents[1]

TEMPLATE = Path(__file__).resolve().parent / "install.sh"
PLACEHOLDER = "@GITHUB_REPO@"


def render(repo: str) -> str:
    text = TEMPLATE.read_text()
    if text.count(PLACEHOLDER) != 1:
        raise SystemExit(f"{TEMPLATE}: expected exactly one {PLACEHOLDER}")
    return text.replace(PLACEHOLDER, repo)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "dist" / "install.sh")
    ap.add_argument("--repo", default=release_settings.GITHUB_REPO,
                    help="GitHub owner/repo (default from codex/release_settings.py: %(default)s)")
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(args.repo))
    args.out.chmod(0o755)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
