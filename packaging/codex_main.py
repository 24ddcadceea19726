"""Entry point the freezers compile: the same as `python -m codex`."""

from codex.cli import main

raise SystemExit(main())
