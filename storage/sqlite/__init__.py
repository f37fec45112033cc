"""SQLite backend: the embedded default, one file, nothing to install.

``SQLiteStore`` (``store.py``) is one class made of a class per resource, each with its SQL:
``settings``, ``nodes``, ``tenancy`` (orgs, API keys, widgets, agents, contacts),
``conversations`` (and messages, events, the monthly count), ``files``, ``webhooks``,
``outbox``, ``idempotency`` and ``knowledge`` (articles, passages, their FTS5 index). They
share ``database.Database``: the writer thread with group commit (``writer.py``), the reader
threads, migrations. ``values.py`` says how columns hold
values.

Modules here import ``storage``'s shared modules (``base``, ``models``, ``records``,
``columns``, ``execution``, ``outbox``, ``errors``, ``migrations``, ``chunking``,
``relevance``) and each other, never this
package itself nor ``storage.postgres``; only this file imports ``store.py``.
"""

from __future__ import annotations

from storage.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
