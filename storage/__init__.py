"""The system of record: one ``Store`` interface, SQLite (embedded default) and PostgreSQL.

What every backend shares lives here, once:

- ``base``: the ``Store`` interface and its contract; ``models``: rows as dataclasses, and
  the ``Plan`` a command makes; ``errors``: the storage errors.
- ``execution``: a plan turned into rows and events (seq assignment, the monthly quota);
  ``outbox``: the deliveries and timers those events call for.
- ``records``: rows to models and events (decoding); ``columns``: models to column values
  (encoding), and the fields an update may change.
- ``chunking``: knowledge articles cut into passages; ``relevance``: a question reduced to
  search terms, and the store-independent score of what a search found.
- ``migrations``: the schema, as numbered SQL files per dialect.

Each backend is a package with a module per resource, holding its SQL and transactions:
``sqlite`` and ``postgres``. A backend imports the shared modules above; they never import a
backend, and nothing here imports ``gateway``.
"""

from __future__ import annotations

__all__: list[str] = []
