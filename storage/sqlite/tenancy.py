"""SQLite: orgs and what belongs to them: API keys, widgets, contacts (agents: ``agents``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import ApiKey, Contact, Org, Widget
from storage.sqlite.database import Database
from storage.sqlite.values import SQLITE, ts, ts_or_none

__all__ = ["Tenancy"]


class Tenancy(Database):
    async def count_orgs(self) -> int:
        row = await self._read(lambda c: c.execute("SELECT count(*) AS n FROM orgs").fetchone())
        return int(row["n"])

    async def get_org(self, org_id: str) -> Org | None:
        return await self._one(records.org, "SELECT * FROM orgs WHERE id = ?", (org_id,))

    async def list_orgs(self) -> list[Org]:
        return await self._all(records.org, "SELECT * FROM orgs ORDER BY created_at, id")

    async def create_org(self, org: Org) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO orgs VALUES (?, ?, ?, ?)",
                (org.id, org.name, org.monthly_message_limit, ts(org.created_at)),
            )
        )

    # -- API keys -------------------------------------------------------------------------

    async def create_api_key(self, key: ApiKey, key_hash: str) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    key.org_id,
                    key.name,
                    key.prefix,
                    key_hash,
                    ts(key.created_at),
                    ts_or_none(key.revoked_at),
                ),
            )
        )

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        return await self._one(
            records.api_key,
            "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            (key_hash,),
        )

    async def list_api_keys(self, org_id: str) -> list[ApiKey]:
        return await self._all(
            records.api_key,
            "SELECT * FROM api_keys WHERE org_id = ? ORDER BY created_at, id",
            (org_id,),
        )

    async def revoke_api_key(self, org_id: str, key_id: str, at: datetime) -> ApiKey | None:
        def txn(c: sqlite3.Connection) -> sqlite3.Row | None:
            c.execute(
                "UPDATE api_keys SET revoked_at = ?"
                " WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
                (ts(at), key_id, org_id),
            )
            return c.execute(  # type: ignore[no-any-return]
                "SELECT * FROM api_keys WHERE id = ? AND org_id = ?", (key_id, org_id)
            ).fetchone()

        row = await self._write(txn)
        return None if row is None else records.api_key(row)

    # -- widgets --------------------------------------------------------------------------

    async def create_widget(self, widget: Widget) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO widgets (id, org_id, name, allowed_origins, messages_per_minute,"
                " live_agent_endpoint_url, bot_settings, created_at, live_agent_escalate_after,"
                " live_agent_timeout, live_agent_fallback, live_agent_secret, appearance,"
                " identity_required, bot_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                columns.widget(widget, SQLITE),
            )
        )

    async def get_widget(self, org_id: str | None, widget_id: str) -> Widget | None:
        if org_id is None:
            return await self._one(
                records.widget, "SELECT * FROM widgets WHERE id = ?", (widget_id,)
            )
        return await self._one(
            records.widget, "SELECT * FROM widgets WHERE id = ? AND org_id = ?", (widget_id, org_id)
        )

    async def update_widget(
        self, org_id: str, widget_id: str, updates: Mapping[str, Any]
    ) -> Widget | None:
        values = columns.widget_updates(updates, SQLITE)

        def txn(c: sqlite3.Connection) -> sqlite3.Row | None:
            if values:
                assignments = ", ".join(f"{name} = ?" for name in values)
                c.execute(
                    f"UPDATE widgets SET {assignments} WHERE id = ? AND org_id = ?",
                    (*values.values(), widget_id, org_id),
                )
            return c.execute(  # type: ignore[no-any-return]
                "SELECT * FROM widgets WHERE id = ? AND org_id = ?", (widget_id, org_id)
            ).fetchone()

        row = await self._write(txn)
        return None if row is None else records.widget(row)

    async def list_widgets(self, org_id: str) -> list[Widget]:
        return await self._all(
            records.widget,
            "SELECT * FROM widgets WHERE org_id = ? ORDER BY created_at, id",
            (org_id,),
        )

    async def get_widget_identity_secret(self, org_id: str, widget_id: str) -> str | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT identity_secret FROM widgets WHERE id = ? AND org_id = ?",
                (widget_id, org_id),
            ).fetchone()
        )
        return None if row is None else row["identity_secret"]

    # -- contacts -------------------------------------------------------------------------

    async def get_or_create_contact(self, contact: Contact) -> Contact:
        def txn(c: sqlite3.Connection) -> sqlite3.Row:
            if contact.external_id is not None:
                row = c.execute(
                    "SELECT * FROM contacts WHERE org_id = ? AND external_id = ?",
                    (contact.org_id, contact.external_id),
                ).fetchone()
                if row is not None:
                    return row  # type: ignore[no-any-return]
            c.execute(
                "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                columns.contact(contact, SQLITE),
            )
            return c.execute(  # type: ignore[no-any-return]
                "SELECT * FROM contacts WHERE id = ?", (contact.id,)
            ).fetchone()

        return records.contact(await self._write(txn))

    async def get_contact(self, org_id: str, contact_id: str) -> Contact | None:
        return await self._one(
            records.contact,
            "SELECT * FROM contacts WHERE id = ? AND org_id = ?",
            (contact_id, org_id),
        )
