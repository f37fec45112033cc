"""``SQLiteStore``: the ``Store`` on one SQLite file, put together from its resources."""

from __future__ import annotations

from storage.sqlite.accounts import Accounts
from storage.sqlite.agents import Agents
from storage.sqlite.bots import Bots
from storage.sqlite.conversations import Conversations
from storage.sqlite.files import Files
from storage.sqlite.idempotency import Idempotency
from storage.sqlite.knowledge import Knowledge
from storage.sqlite.nodes import Nodes
from storage.sqlite.outbox import Outbox
from storage.sqlite.search import Search
from storage.sqlite.settings import Settings
from storage.sqlite.tenancy import Tenancy
from storage.sqlite.webhooks import Webhooks

__all__ = ["SQLiteStore"]


class SQLiteStore(
    Settings,
    Nodes,
    Tenancy,
    Agents,
    Accounts,
    Bots,
    Conversations,
    Search,
    Files,
    Webhooks,
    Outbox,
    Idempotency,
    Knowledge,
):
    """The ``Store`` on a SQLite file (WAL mode).

    Args:
        path: the database file; its directory is created if missing.
        synchronous: SQLite's ``synchronous`` pragma (``FULL`` by default).
        readers: how many reader threads (and connections).
    """
