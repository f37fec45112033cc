"""The load scenarios: each has ``NAME``, ``HELP``, ``arguments(parser)`` and
``execute(args, topology) -> (Outcome, extra summary fields)``."""
