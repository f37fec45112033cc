"""PostgreSQL: files, content-addressed per org (the same bytes are stored once)."""

from __future__ import annotations

from storage import records
from storage.models import StoredFile
from storage.postgres.database import Database

__all__ = ["Files"]

#: A file's description, without its bytes.
FILE_QUERY = (
    "SELECT org_id, sha256, mime, size, created_at FROM files WHERE org_id = $1 AND sha256 = $2"
)


class Files(Database):
    async def put_file(self, file: StoredFile, data: bytes) -> StoredFile:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO files VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                file.org_id,
                file.sha256,
                file.mime,
                file.size,
                data,
                file.created_at,
            )
            row = await conn.fetchrow(FILE_QUERY, file.org_id, file.sha256)
        return records.stored_file(row)

    async def get_file(self, org_id: str, sha256: str) -> StoredFile | None:
        return await self._one(records.stored_file, FILE_QUERY, org_id, sha256)

    async def read_file(self, org_id: str, sha256: str) -> tuple[StoredFile, bytes] | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM files WHERE org_id = $1 AND sha256 = $2", org_id, sha256
            )
        return None if row is None else (records.stored_file(row), bytes(row["data"]))
