from codex.cli import main

raise SystemExit(main())
