"""SQLite: files, content-addressed per org (the same bytes are stored once), and the
conversations each file belongs to (``conversation_files``)."""

from __future__ import annotations

import sqlite3

from protocol.errors import GatewayError
from storage import records
from storage.models import StoredFile
from storage.sqlite.database import Database
from storage.sqlite.values import ts

__all__ = ["LINK_ATTACHED", "Files"]

#: A file's description, without its bytes.
FILE_QUERY = (
    "SELECT org_id, sha256, mime, size, created_at FROM files WHERE org_id = ? AND sha256 = ?"
)
#: Narrows a query on ``files`` to those of a conversation of one contact (the last parameter).
OF_CONTACT = (
    " AND EXISTS (SELECT 1 FROM conversation_files l"
    " JOIN conversations v ON v.id = l.conversation_id"
    " WHERE l.org_id = files.org_id AND l.sha256 = files.sha256 AND v.contact_id = ?)"
)
#: ``(org_id, sha256, conversation_id)``: a message's attachment, when it is a file of the org.
LINK_ATTACHED = (
    "INSERT OR IGNORE INTO conversation_files"
    " SELECT org_id, sha256, ?3 FROM files WHERE org_id = ?1 AND sha256 = ?2"
)


class Files(Database):
    async def put_file(
        self, file: StoredFile, data: bytes, *, conversation_id: str | None = None
    ) -> StoredFile:
        def txn(c: sqlite3.Connection) -> sqlite3.Row:
            if conversation_id is not None:
                known = c.execute(
                    "SELECT 1 FROM conversations WHERE id = ? AND org_id = ?",
                    (conversation_id, file.org_id),
                ).fetchone()
                if known is None:
                    raise GatewayError.not_found("conversation")
            c.execute(
                "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                (file.org_id, file.sha256, file.mime, file.size, data, ts(file.created_at)),
            )
            if conversation_id is not None:
                c.execute(
                    "INSERT OR IGNORE INTO conversation_files VALUES (?, ?, ?)",
                    (file.org_id, file.sha256, conversation_id),
                )
            row: sqlite3.Row = c.execute(FILE_QUERY, (file.org_id, file.sha256)).fetchone()
            return row

        return records.stored_file(await self._write(txn))

    async def get_file(
        self, org_id: str, sha256: str, *, contact_id: str | None = None
    ) -> StoredFile | None:
        sql, params = _scoped(FILE_QUERY, org_id, sha256, contact_id)
        return await self._one(records.stored_file, sql, params)

    async def read_file(
        self, org_id: str, sha256: str, *, contact_id: str | None = None
    ) -> tuple[StoredFile, bytes] | None:
        sql, params = _scoped(
            "SELECT * FROM files WHERE org_id = ? AND sha256 = ?", org_id, sha256, contact_id
        )
        row = await self._read(lambda c: c.execute(sql, params).fetchone())
        return None if row is None else (records.stored_file(row), bytes(row["data"]))


def _scoped(
    sql: str, org_id: str, sha256: str, contact_id: str | None
) -> tuple[str, tuple[str, ...]]:
    if contact_id is None:
        return sql, (org_id, sha256)
    return sql + OF_CONTACT, (org_id, sha256, contact_id)
