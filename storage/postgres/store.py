"""``PostgresStore``: the ``Store`` on PostgreSQL, put together from its resources."""

from __future__ import annotations

from storage.postgres.accounts import Accounts
from storage.postgres.agents import Agents
from storage.postgres.bots import Bots
from storage.postgres.conversations import Conversations
from storage.postgres.files import Files
from storage.postgres.idempotency import Idempotency
from storage.postgres.knowledge import Knowledge
from storage.postgres.nodes import Nodes
from storage.postgres.outbox import Outbox
from storage.postgres.search import Search
from storage.postgres.settings import Settings
from storage.postgres.tenancy import Tenancy
from storage.postgres.webhooks import Webhooks

__all__ = ["PostgresStore"]


class PostgresStore(
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
    """The ``Store`` on PostgreSQL.

    ``dsn`` is a libpq URL; query parameters that are not connection options become server
    settings, e.g. ``postgresql://chatgate@db/chatgate?search_path=tenant_a``.

    Args:
        dsn: a ``postgresql://`` URL.
        min_size, max_size: bounds of the connection pool.
    """
