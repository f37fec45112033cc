"""PostgreSQL: files, content-addressed per org (the same bytes are stored once), and the
conversations each file belongs to (``conversation_files``)."""

from __future__ import annotations

from typing import Any

from protocol.errors import GatewayError
from storage import records
from storage.models import StoredFile
from storage.postgres.database import Database

__all__ = ["Files"]

#: A file's description, without its bytes.
FILE_QUERY = (
    "SELECT org_id, sha256, mime, size, created_at FROM files WHERE org_id = $1 AND sha256 = $2"
)
#: Narrows a query on ``files`` to those of a conversation of one contact (``$3``).
OF_CONTACT = (
    " AND EXISTS (SELECT 1 FROM conversation_files l"
    " JOIN conversations v ON v.id = l.conversation_id"
    " WHERE l.org_id = files.org_id AND l.sha256 = files.sha256 AND v.contact_id = $3)"
)


class Files(Database):
    async def put_file(
        self, file: StoredFile, data: bytes, *, conversation_id: str | None = None
    ) -> StoredFile:
        async with self._transaction() as conn:
            if conversation_id is not None and not await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND org_id = $2)",
                conversation_id,
                file.org_id,
            ):
                raise GatewayError.not_found("conversation")
            await conn.execute(
                "INSERT INTO files VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                file.org_id,
                file.sha256,
                file.mime,
                file.size,
                data,
                file.created_at,
            )
            if conversation_id is not None:
                await conn.execute(
                    "INSERT INTO conversation_files VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    file.org_id,
                    file.sha256,
                    conversation_id,
                )
            row = await conn.fetchrow(FILE_QUERY, file.org_id, file.sha256)
        return records.stored_file(row)

    async def get_file(
        self, org_id: str, sha256: str, *, contact_id: str | None = None
    ) -> StoredFile | None:
        sql, args = _scoped(FILE_QUERY, org_id, sha256, contact_id)
        return await self._one(records.stored_file, sql, *args)

    async def read_file(
        self, org_id: str, sha256: str, *, contact_id: str | None = None
    ) -> tuple[StoredFile, bytes] | None:
        sql, args = _scoped(
            "SELECT * FROM files WHERE org_id = $1 AND sha256 = $2", org_id, sha256, contact_id
        )
        row = await self._one(lambda row: row, sql, *args)
        return None if row is None else (records.stored_file(row), bytes(row["data"]))


def _scoped(
    sql: str, org_id: str, sha256: str, contact_id: str | None
) -> tuple[str, tuple[Any, ...]]:
    if contact_id is None:
        return sql, (org_id, sha256)
    return sql + OF_CONTACT, (org_id, sha256, contact_id)
