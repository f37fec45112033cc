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
    path = sqlite_path(settings.database_url)
    if path is not None:
        return SQLiteStore(path, synchronous=settings.sqlite_synchronous)
    raise ValueError(
        f"unsupported database URL {settings.database_url!r}; use sqlite:///path/to/file.db"
    )
