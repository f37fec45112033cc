"""PostgreSQL: agents' sign-in (email, password hash), one-time links and sign-in sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage import records
from storage.models import AccountToken, Agent, AgentLogin, AgentSession
from storage.postgres.database import Database, rowcount

__all__ = ["Accounts"]

#: A session's ``last_seen_at`` is written at most this often.
SEEN_EVERY = timedelta(minutes=1)


class Accounts(Database):
    async def create_agent_account(
        self, agent: Agent, login_email: str, password_hash: str
    ) -> bool:
        status = await self._execute(
            "INSERT INTO agents (id, org_id, name, email, created_at, status, role,"
            " login_email, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (login_email) DO NOTHING",
            agent.id,
            agent.org_id,
            agent.name,
            agent.email,
            agent.created_at,
            agent.status,
            agent.role,
            login_email,
            password_hash,
        )
        return rowcount(status) > 0

    async def find_agent_login(self, login_email: str) -> AgentLogin | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM agents WHERE login_email = $1 AND deleted_at IS NULL", login_email
            )
        return None if row is None else AgentLogin(records.agent(row), row["password_hash"])

    async def set_agent_password(
        self, org_id: str, agent_id: str, password_hash: str, login_email: str
    ) -> str:
        async with self._transaction() as conn:
            exists = await conn.fetchval(
                "SELECT id FROM agents WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
                " FOR UPDATE",
                agent_id,
                org_id,
            )
            if exists is None:
                return "not_found"
            taken = await conn.fetchval(
                "SELECT id FROM agents WHERE login_email = $1 AND id != $2", login_email, agent_id
            )
            if taken is not None:
                return "email_taken"
            status = await conn.execute(
                "UPDATE agents SET password_hash = $3, login_email = $4"
                " WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM agents WHERE login_email = $4 AND id != $1)",
                agent_id,
                org_id,
                password_hash,
                login_email,
            )
        return "ok" if rowcount(status) > 0 else "email_taken"

    async def create_account_token(self, token: AccountToken) -> None:
        await self._execute(
            "INSERT INTO account_tokens (token_hash, purpose, org_id, email, role, name,"
            " agent_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            token.token_hash,
            token.purpose,
            token.org_id,
            token.email,
            token.role,
            token.name,
            token.agent_id,
            token.created_at,
            token.expires_at,
        )

    async def take_account_token(
        self, token_hash: str, purpose: str, at: datetime
    ) -> AccountToken | None:
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM account_tokens WHERE expires_at <= $1", at)
            row = await conn.fetchrow(
                "DELETE FROM account_tokens WHERE token_hash = $1 AND purpose = $2 RETURNING *",
                token_hash,
                purpose,
            )
        return None if row is None else records.account_token(row)

    async def create_agent_session(self, session: AgentSession) -> None:
        await self._execute(
            "INSERT INTO agent_sessions (id, token_hash, agent_id, org_id, created_at,"
            " last_seen_at, expires_at, address, user_agent)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            session.id,
            session.token_hash,
            session.agent_id,
            session.org_id,
            session.created_at,
            session.last_seen_at,
            session.expires_at,
            session.address,
            session.user_agent,
        )

    async def find_agent_session(
        self, token_hash: str, at: datetime
    ) -> tuple[AgentSession, Agent] | None:
        async with self._connection() as conn:
            found = await conn.fetchrow(
                "SELECT * FROM agent_sessions WHERE token_hash = $1 AND revoked_at IS NULL"
                " AND expires_at > $2",
                token_hash,
                at,
            )
            if found is None:
                return None
            agent = await conn.fetchrow(
                "SELECT * FROM agents WHERE id = $1 AND deleted_at IS NULL", found["agent_id"]
            )
            if agent is None:
                return None
            session = records.agent_session(found)
            if at - session.last_seen_at >= SEEN_EVERY:
                await conn.execute(
                    "UPDATE agent_sessions SET last_seen_at = $2 WHERE id = $1", session.id, at
                )
        return session, records.agent(agent)

    async def revoke_agent_session(self, session_id: str, at: datetime) -> bool:
        status = await self._execute(
            "UPDATE agent_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            session_id,
            at,
        )
        return rowcount(status) > 0

    async def purge_agent_sessions(self, at: datetime, limit: int) -> int:
        status = await self._execute(
            "DELETE FROM agent_sessions WHERE id IN (SELECT id FROM agent_sessions"
            " WHERE expires_at <= $1 OR revoked_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            at,
            limit,
        )
        return rowcount(status)

    async def revoke_agent_sessions(self, agent_id: str, at: datetime) -> int:
        status = await self._execute(
            "UPDATE agent_sessions SET revoked_at = $2 WHERE agent_id = $1 AND revoked_at IS NULL",
            agent_id,
            at,
        )
        return rowcount(status)
