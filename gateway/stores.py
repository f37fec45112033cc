"""Open the store a ``database_url`` names."""

from __future__ import annotations

from gateway.settings import Settings
from storage.base import Store
from storage.sqlite import SQLiteStore

__all__ = ["open_store", "sqlite_path"]


def sqlite_path(url: str) -> str | None:
    """``sqlite:///relative.db`` -> ``relative.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    prefix = "sqlite:///"
    return url[len(prefix) :] if url.startswith(prefix) and len(url) > len(prefix) else None


def open_store(settings: Settings) -> Store:
    """A new, not yet started store for ``settings.database_url``.

    Raises:
        ValueError: the URL names no supported database.
    """
    url = settings.database_url
    path = sqlite_path(url)
    if path is not None:
        return SQLiteStore(path, synchronous=settings.sqlite_synchronous)
    if url.startswith(("postgresql://", "postgres://")):
        from storage.postgres import PostgresStore

        return PostgresStore(url, max_size=settings.database_pool_size)
    raise ValueError(
        f"unsupported database URL {url!r}; use sqlite:///path/to/file.db or postgresql://..."
    )
