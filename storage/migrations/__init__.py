"""Schema migrations: numbered SQL files per dialect, applied in order, each exactly once.

``storage/migrations/<dialect>/NNNN_name.sql``. A backend records applied versions in
``schema_migrations`` and applies the missing ones inside its own transaction.

Imports nothing else of ``storage``; the backends import it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from importlib import resources

__all__ = ["Migration", "load", "split_statements"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load(dialect: str) -> list[Migration]:
    """The migrations of ``dialect`` in version order."""
    found: list[Migration] = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    return found


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements (as SQLite's tokenizer sees them)."""
    statements: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements
