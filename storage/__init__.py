"""The system of record: one ``Store`` interface, SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

__all__: list[str] = []
