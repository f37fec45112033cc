"""SQLite: agents' sign-in (email, password hash), one-time links and sign-in sessions."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from storage import records
from storage.models import AccountToken, Agent, AgentLogin, AgentSession
from storage.sqlite.database import Database
from storage.sqlite.values import ts

__all__ = ["Accounts"]

#: A session's ``last_seen_at`` is written at most this often.
SEEN_EVERY = timedelta(minutes=1)


class Accounts(Database):
    async def create_agent_account(
        self, agent: Agent, login_email: str, password_hash: str
    ) -> bool:
        def txn(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "INSERT INTO agents (id, org_id, name, email, created_at, status, role,"
                " login_email, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (login_email) DO NOTHING",
                (
                    agent.id,
                    agent.org_id,
                    agent.name,
                    agent.email,
                    ts(agent.created_at),
                    agent.status,
                    agent.role,
                    login_email,
                    password_hash,
                ),
            )
            return cursor.rowcount > 0

        return await self._write(txn)

    async def find_agent_login(self, login_email: str) -> AgentLogin | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT * FROM agents WHERE login_email = ? AND deleted_at IS NULL",
                (login_email,),
            ).fetchone()
        )
        return None if row is None else AgentLogin(records.agent(row), row["password_hash"])

    async def set_agent_password(
        self, org_id: str, agent_id: str, password_hash: str, login_email: str
    ) -> str:
        def txn(c: sqlite3.Connection) -> str:
            taken = c.execute(
                "SELECT id FROM agents WHERE login_email = ? AND id != ?", (login_email, agent_id)
            ).fetchone()
            if taken is not None:
                return "email_taken"
            cursor = c.execute(
                "UPDATE agents SET password_hash = ?, login_email = ?"
                " WHERE id = ? AND org_id = ? AND deleted_at IS NULL",
                (password_hash, login_email, agent_id, org_id),
            )
            return "ok" if cursor.rowcount > 0 else "not_found"

        return await self._write(txn)

    async def create_account_token(self, token: AccountToken) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO account_tokens (token_hash, purpose, org_id, email, role, name,"
                " agent_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token.token_hash,
                    token.purpose,
                    token.org_id,
                    token.email,
                    token.role,
                    token.name,
                    token.agent_id,
                    ts(token.created_at),
                    ts(token.expires_at),
                ),
            )
        )

    async def take_account_token(
        self, token_hash: str, purpose: str, at: datetime
    ) -> AccountToken | None:
        def txn(c: sqlite3.Connection) -> sqlite3.Row | None:
            c.execute("DELETE FROM account_tokens WHERE expires_at <= ?", (ts(at),))
            return c.execute(  # type: ignore[no-any-return]
                "DELETE FROM account_tokens WHERE token_hash = ? AND purpose = ? RETURNING *",
                (token_hash, purpose),
            ).fetchone()

        row = await self._write(txn)
        return None if row is None else records.account_token(row)

    async def create_agent_session(self, session: AgentSession) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO agent_sessions (id, token_hash, agent_id, org_id, created_at,"
                " last_seen_at, expires_at, address, user_agent)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.id,
                    session.token_hash,
                    session.agent_id,
                    session.org_id,
                    ts(session.created_at),
                    ts(session.last_seen_at),
                    ts(session.expires_at),
                    session.address,
                    session.user_agent,
                ),
            )
        )

    async def find_agent_session(
        self, token_hash: str, at: datetime
    ) -> tuple[AgentSession, Agent] | None:
        def read(c: sqlite3.Connection) -> tuple[sqlite3.Row, sqlite3.Row] | None:
            session = c.execute(
                "SELECT * FROM agent_sessions WHERE token_hash = ? AND revoked_at IS NULL"
                " AND expires_at > ?",
                (token_hash, ts(at)),
            ).fetchone()
            if session is None:
                return None
            agent = c.execute(
                "SELECT * FROM agents WHERE id = ? AND deleted_at IS NULL", (session["agent_id"],)
            ).fetchone()
            return None if agent is None else (session, agent)

        found = await self._read(read)
        if found is None:
            return None
        session = records.agent_session(found[0])
        if at - session.last_seen_at >= SEEN_EVERY:
            await self._write(
                lambda c: c.execute(
                    "UPDATE agent_sessions SET last_seen_at = ? WHERE id = ?", (ts(at), session.id)
                )
            )
        return session, records.agent(found[1])

    async def revoke_agent_session(self, session_id: str, at: datetime) -> bool:
        revoked: int = await self._write(
            lambda c: (
                c.execute(
                    "UPDATE agent_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (ts(at), session_id),
                ).rowcount
            )
        )
        return revoked > 0

    async def purge_agent_sessions(self, at: datetime, limit: int) -> int:
        cursor = await self._write(
            lambda c: c.execute(
                "DELETE FROM agent_sessions WHERE id IN (SELECT id FROM agent_sessions"
                " WHERE expires_at <= ? OR revoked_at <= ? LIMIT ?)",
                (ts(at), ts(at), limit),
            )
        )
        return int(cursor.rowcount)

    async def revoke_agent_sessions(self, agent_id: str, at: datetime) -> int:
        revoked: int = await self._write(
            lambda c: (
                c.execute(
                    "UPDATE agent_sessions SET revoked_at = ?"
                    " WHERE agent_id = ? AND revoked_at IS NULL",
                    (ts(at), agent_id),
                ).rowcount
            )
        )
        return revoked
