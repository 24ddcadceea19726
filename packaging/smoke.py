#!/usr/bin/env python3
"""Smoke-run a packaged codex file (placeholder, replaced below)."""
import subprocess, sys
def run(binary):
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    print(f"smoke: {out.stdout.strip()}")
    return 0
if __name__ == "__main__":
    sys.exit(run(sys.argv[1]))
