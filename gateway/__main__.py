"""``python -m gateway`` is the ``chatgate`` command."""

from gateway.cli import main

raise SystemExit(main())
