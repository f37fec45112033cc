"""Storage errors.

::

    StorageError            the backend failed (connection lost, disk full, timeout)
    └── MigrationError      the schema could not be brought up to date

Domain outcomes are not storage errors: a missing conversation or a refused change surfaces
as ``protocol.errors.GatewayError`` (``not_found``, ``invalid_state``, ``control_lost``).
"""

from __future__ import annotations

__all__ = ["MigrationError", "StorageError"]


class StorageError(Exception):
    """The storage backend failed; the operation may or may not have been applied."""


class MigrationError(StorageError):
    """The schema could not be migrated."""
