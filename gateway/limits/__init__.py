"""Rate limits: GCRA, in process or in Redis, and the limits every surface shares.

Lives here: the algorithm, its types and the ``RateLimiter`` interface (``gcra``), the
in-process limiter (``memory``), the Redis limiter (``redis``), the choice between them
(``factory``), and the budgets of each kind of caller (``policy``).

May import: ``gateway.core``, ``gateway.shards`` (where a key lives in Redis), ``protocol``.
Must not import ``gateway.media`` (a sibling), the handlers, delivery or any transport.
"""

__all__: list[str] = []
