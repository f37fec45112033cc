"""PostgreSQL backend (asyncpg): the system of record when chatgate runs on several nodes.

``PostgresStore`` (``store.py``) is one class made of a class per resource, each with its SQL:
``settings``, ``nodes``, ``tenancy`` (orgs, API keys, widgets, agents, contacts),
``conversations`` (and messages, events, the monthly count), ``files``, ``webhooks``,
``outbox``, ``idempotency`` and ``knowledge`` (articles, passages, their tsvector). They
share ``database.Database``: the pool, transactions, migrations under an advisory lock.
``values.py`` says how columns hold values.

``apply`` is group-committed: calls that arrive together share one transaction
(``group_commit.py`` forms the batches), which locks, decides and writes for all of them in
about the round trips of one (``applies.py``, ``batch_write.py``).

Concurrency across processes: writers of one conversation serialize on its row (batches
lock theirs in id order: ``applies.py``), claims of the outbox skip locked rows
(``outbox.py``), races on unique keys (contacts by external id, settings, idempotency keys)
are settled by ``ON CONFLICT``.

Modules here import ``storage``'s shared modules (``base``, ``models``, ``records``,
``columns``, ``execution``, ``outbox``, ``errors``, ``migrations``, ``chunking``,
``relevance``) and each other, never this
package itself nor ``storage.sqlite``; only this file imports ``store.py``.
"""

from __future__ import annotations

from storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
