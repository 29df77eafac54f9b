"""``python -m tools.simulator``: see the package docstring or ``--help``."""

from .cli import main

raise SystemExit(main())
