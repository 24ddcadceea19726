"""Entry point the freezers compile: the same as `python -m codex`.

`--version` is answered before codex.cli is imported: wrappers and health checks call it
all the time, and skipping argparse and friends halves the frozen program's start-up.
The text must stay what codex.cli prints (tests/packaging checks both).
"""

import sys

if sys.argv[1:] in (["--version"], ["-V"]):
    from codex import __version__

    sys.stdout.write(f"codex-cli {__version__}\n")
    raise SystemExit(0)

from codex.cli import main  # noqa: E402

raise SystemExit(main())
