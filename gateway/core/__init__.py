"""The kernel every other package of the gateway builds on.

Lives here: the command bus and its ``Context`` (``bus``), who is calling (``auth``) and
from which address (``clients``), whether the API key and agent behind a caller still stand
(``credentials``), access rules (``access``), the conversation lifecycle as pure decisions
(``lifecycle``), what handlers return (``results``), ``Idempotency-Key`` replay
(``idempotency``), room names (``rooms``), the ``EventPublisher`` interface handlers publish
through (``publishing``), the metrics registry (``metrics``), which origins may use a widget
(``origins``), visitors' identity verification (``identity``) and a widget's look with its
defaults (``appearance``).

May import: ``protocol``, ``storage``, ``gateway.settings``. Nothing else of the gateway: every
other package may import this one, so it must not reach up into any of them.
"""

__all__: list[str] = []
