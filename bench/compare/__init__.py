"""``chatgate bench compare``: chatgate against its baselines in one run (``command`` says how
it runs; ``figures``, ``table``, ``chart`` and ``docs`` what it writes)."""

from bench.compare.command import main

__all__ = ["main"]
