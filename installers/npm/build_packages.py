"""Generate and `npm pack` the npm packages for a release from the archives in dist/.

Writes one platform package per target found in dist/ (version `<V>-<os>-<cpu>`, carrying
`vendor/<triple>/bin/codex`) and the root package (the `bin/codex.js` shim, optional
dependencies through npm aliases, and the integrity of every platform tarball so the shim can
fetch and check a missing one). Tarballs and `manifest.json` (publish order) land in dist/npm/.
The package name comes from codex/release_settings.py.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from codex import __version__, release_settings
from installers.targets import TARGETS, Target

ROOT = Path(__file__).resolve().parents[2]

SHIM = Path(__file__).resolve().parent / "codex.js"
DESCRIPTION = "A terminal coding agent with PTY sessions and an embedded exec-server"


def extract_binary(dist: Path, tgt: Target) -> bytes:
    """The single file inside a target's release archive."""
    archive = dist / tgt.archive_name
    if tgt.windows:
        with zipfile.ZipFile(archive) as z:
            return z.read(tgt.binary_name)
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(tgt.binary_name)
        if member is None:
            raise SystemExit(f"{archive}: no regular file {tgt.binary_name}")
        return member.read()


def npm_pack(package_dir: Path, out: Path) -> Path:
    r = subprocess.run(["npm", "pack", "--json", "--pack-destination", str(out)],
                       cwd=package_dir, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"npm pack failed in {package_dir}:\n{r.stderr}")
    return out / json.loads(r.stdout)[0]["filename"]


def integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _common(name: str, version: str) -> dict:
    return {
        "name": name,
        "version": version,
        "description": DESCRIPTION,
        "license": "Apache-2.0",
        "repository": {"type": "git", "url": f"git+https://github.com/{release_settings.GITHUB_REPO}.git"},
    }


def platform_package(stage: Path, out: Path, tgt: Target, binary: bytes,
                     name: str, version: str) -> dict:
    pkg = stage / tgt.npm_suffix
    exe = "codex.exe" if tgt.windows else "codex"
    bindir = pkg / "vendor" / tgt.triple / "bin"
    bindir.mkdir(parents=True)
    (bindir / exe).write_bytes(binary)
    (bindir / exe).chmod(0o755)
    manifest = _common(name, f"{version}-{tgt.npm_suffix}")
    manifest.update({"os": [tgt.npm_os], "cpu": [tgt.npm_cpu], "files": ["vendor"]})
    (pkg / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    tarball = npm_pack(pkg, out)
    return {"suffix": tgt.npm_suffix, "triple": tgt.triple, "version": manifest["version"],
            "tarball": tarball.name, "integrity": integrity(tarball)}


def root_package(stage: Path, out: Path, platforms: list[dict], name: str, version: str) -> Path:
    pkg = stage / "root"
    (pkg / "bin").mkdir(parents=True)
    shutil.copyfile(SHIM, pkg / "bin" / "codex.js")
    (pkg / "bin" / "codex.js").chmod(0o755)
    manifest = _common(name, version)
    manifest.update({
        "bin": {"codex": "bin/codex.js"},
        "engines": {"node": ">=16"},
        "files": ["bin"],
        "optionalDependencies": {
            f"{name}-{p['suffix']}": f"npm:{name}@{p['version']}" for p in platforms
        },
        # Ours: read by bin/codex.js to fetch and verify a platform package npm skipped.
        "codexPlatforms": {
            p["suffix"]: {"triple": p["triple"], "version": p["version"],
                          "integrity": p["integrity"]} for p in platforms
        },
    })
    (pkg / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return npm_pack(pkg, out)


def build(dist: Path, out: Path, version: str, name: str) -> dict:
    found = [t for t in TARGETS if (dist / t.archive_name).is_file()]
    if not found:
        raise SystemExit(f"no release archives in {dist} (expected e.g. "
                         f"{TARGETS[0].archive_name}); run `make dist` first")
    stage = out / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.tgz"):
        old.unlink()
    platforms = [platform_package(stage, out, t, extract_binary(dist, t), name, version)
                 for t in found]
    root = root_package(stage, out, platforms, name, version)
    manifest = {
        "name": name,
        "version": version,
        # Publish order matters: the root must never point at versions that do not exist yet.
        "publish": [{"tarball": p["tarball"], "version": p["version"], "tag": p["suffix"]}
                    for p in platforms]
        + [{"tarball": root.name, "version": version, "tag": None}],
        "platforms": platforms,
        "root": {"tarball": root.name, "integrity": integrity(root)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(stage)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the archives are")
    ap.add_argument("--out", type=Path, help="output folder (default: DIST/npm)")
    ap.add_argument("--version", default=__version__, help="release version (default: %(default)s)")
    ap.add_argument("--name", default=release_settings.NPM_PACKAGE,
                    help="npm package name (default from codex/release_settings.py: %(default)s)")
    args = ap.parse_args(argv)
    manifest = build(args.dist, args.out or args.dist / "npm", args.version, args.name)
    for entry in manifest["publish"]:
        print(entry["tarball"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
