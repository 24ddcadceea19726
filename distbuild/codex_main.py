"""Entry point the freezers compile: the same as `python -m codex`.

The launcher (distbuild/launcher/launcher.c) passes the path of the single file the user ran
in CODEX_LAUNCHER_PATH. It is taken out of the environment here, before any codex code runs,
so that no command codex starts inherits it, and kept as sys.executable: the file to run to
start this codex again (`codex doctor` reports it; re-executing it costs one stat).

`--version` is answered before codex.cli is imported: wrappers and health checks call it
all the time, and skipping argparse and friends halves the frozen program's start-up.
The text must stay what codex.cli prints (tests/packaging checks both).
"""

import os
import sys

_launcher = os.environ.pop("CODEX_LAUNCHER_PATH", None)
if _launcher:
    sys.executable = _launcher

if sys.argv[1:] in (["--version"], ["-V"]):
    from codex import __version__

    sys.stdout.write(f"codex-cli {__version__}\n")
    raise SystemExit(0)

from codex.cli import main  # noqa: E402

raise SystemExit(main())
