"""The load scenarios: each has ``NAME``, ``HELP``, ``arguments(parser)`` and
``execute(args, topology) -> (Outcome, extra summary fields)``, and may set ``NODES`` (the
gateways started by default, 2 otherwise)."""
