"""Process-wide tuning for a serving gateway process (not for tests or tools that import
the package).

The gateway allocates many short-lived objects per frame (dicts, frames, futures), so with
CPython's default thresholds (700, 10, 10) the cyclic collector runs hundreds of times a
second, and its full collections walk every long-lived object. A profile of a loaded gateway
showed about a tenth of its CPU there. Startup objects (modules, the app) are frozen out of
the collector's reach, and the young generation is collected less often.
"""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]

#: Allocations before a young collection; the older generations as in CPython.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
