"""PostgreSQL: orgs and what belongs to them: API keys, widgets, contacts (agents: ``agents``).

Two requests creating one contact (same org, same external id) at once are settled by
``ON CONFLICT``: both get the first's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import ApiKey, Contact, Org, Widget
from storage.postgres.database import Database
from storage.postgres.values import POSTGRES

__all__ = ["Tenancy"]


class Tenancy(Database):
    async def count_orgs(self) -> int:
        async with self._connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM orgs"))

    async def get_org(self, org_id: str) -> Org | None:
        return await self._one(records.org, "SELECT * FROM orgs WHERE id = $1", org_id)

    async def list_orgs(self) -> list[Org]:
        return await self._all(records.org, "SELECT * FROM orgs ORDER BY created_at, id")

    async def create_org(self, org: Org) -> None:
        await self._execute(
            "INSERT INTO orgs VALUES ($1, $2, $3, $4)",
            org.id,
            org.name,
            org.monthly_message_limit,
            org.created_at,
        )

    # -- API keys -------------------------------------------------------------------------

    async def create_api_key(self, key: ApiKey, key_hash: str) -> None:
        await self._execute(
            "INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, $6, $7)",
            key.id,
            key.org_id,
            key.name,
            key.prefix,
            key_hash,
            key.created_at,
            key.revoked_at,
        )

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        return await self._one(
            records.api_key,
            "SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            key_hash,
        )

    async def list_api_keys(self, org_id: str) -> list[ApiKey]:
        return await self._all(
            records.api_key,
            "SELECT * FROM api_keys WHERE org_id = $1 ORDER BY created_at, id",
            org_id,
        )

    async def revoke_api_key(self, org_id: str, key_id: str, at: datetime) -> ApiKey | None:
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = $1"
                " WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL",
                at,
                key_id,
                org_id,
            )
            row = await conn.fetchrow(
                "SELECT * FROM api_keys WHERE id = $1 AND org_id = $2", key_id, org_id
            )
        return None if row is None else records.api_key(row)

    # -- widgets --------------------------------------------------------------------------

    async def create_widget(self, widget: Widget) -> None:
        await self._execute(
            "INSERT INTO widgets (id, org_id, name, allowed_origins, messages_per_minute,"
            " live_agent_endpoint_url, bot_settings, created_at, live_agent_escalate_after,"
            " live_agent_timeout, live_agent_fallback, live_agent_secret, appearance,"
            " identity_required, bot_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            *columns.widget(widget, POSTGRES),
        )

    async def get_widget(self, org_id: str | None, widget_id: str) -> Widget | None:
        if org_id is None:
            return await self._one(records.widget, "SELECT * FROM widgets WHERE id = $1", widget_id)
        return await self._one(
            records.widget, "SELECT * FROM widgets WHERE id = $1 AND org_id = $2", widget_id, org_id
        )

    async def update_widget(
        self, org_id: str, widget_id: str, updates: Mapping[str, Any]
    ) -> Widget | None:
        values = columns.widget_updates(updates, POSTGRES)
        async with self._connection() as conn:
            if values:
                assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(values, 3))
                await conn.execute(
                    f"UPDATE widgets SET {assignments} WHERE id = $1 AND org_id = $2",
                    widget_id,
                    org_id,
                    *values.values(),
                )
            row = await conn.fetchrow(
                "SELECT * FROM widgets WHERE id = $1 AND org_id = $2", widget_id, org_id
            )
        return None if row is None else records.widget(row)

    async def list_widgets(self, org_id: str) -> list[Widget]:
        return await self._all(
            records.widget,
            "SELECT * FROM widgets WHERE org_id = $1 ORDER BY created_at, id",
            org_id,
        )

    async def get_widget_identity_secret(self, org_id: str, widget_id: str) -> str | None:
        async with self._connection() as conn:
            secret: str | None = await conn.fetchval(
                "SELECT identity_secret FROM widgets WHERE id = $1 AND org_id = $2",
                widget_id,
                org_id,
            )
        return secret

    # -- contacts -------------------------------------------------------------------------

    async def get_or_create_contact(self, contact: Contact) -> Contact:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO contacts VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (org_id, external_id) WHERE external_id IS NOT NULL DO NOTHING",
                *columns.contact(contact, POSTGRES),
            )
            if contact.external_id is None:
                row = await conn.fetchrow("SELECT * FROM contacts WHERE id = $1", contact.id)
            else:
                row = await conn.fetchrow(
                    "SELECT * FROM contacts WHERE org_id = $1 AND external_id = $2",
                    contact.org_id,
                    contact.external_id,
                )
        return records.contact(row)

    async def get_contact(self, org_id: str, contact_id: str) -> Contact | None:
        return await self._one(
            records.contact,
            "SELECT * FROM contacts WHERE id = $1 AND org_id = $2",
            contact_id,
            org_id,
        )
