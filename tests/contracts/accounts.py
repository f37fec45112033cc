"""The ``Store`` contract for agent accounts: sign-in emails and passwords, one-time links,
sign-in sessions.

Included in ``StoreContract``; the ``store`` fixture is the backend's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from storage.base import Store
from storage.models import AccountToken, AgentSession, now
from tests.contracts.rows import add_org, agent_row, new_id

__all__ = ["AccountContract"]


def _session(agent_id: str, org_id: str, **fields: object) -> AgentSession:
    at = now()
    base = AgentSession(
        new_id(), new_id(), agent_id, org_id, at, at, at + timedelta(days=1), "10.0.0.1", "UA"
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


class AccountContract:
    async def test_account_email_signs_in_one_agent_across_orgs(self, store: Store) -> None:
        """A sign-in email belongs to one live agent of any org; a deleted agent frees it."""
        org, other = await add_org(store), await add_org(store)
        ada = agent_row(org.id, role="admin")
        assert await store.create_agent_account(ada, "ada@acme.example", "hash-1") is True
        login = await store.find_agent_login("ada@acme.example")
        assert login is not None
        assert login.agent == ada
        assert login.password_hash == "hash-1"
        assert await store.get_agent(org.id, ada.id) == ada
        twin = agent_row(other.id)
        assert await store.create_agent_account(twin, "ada@acme.example", "hash-2") is False
        assert await store.get_agent(other.id, twin.id) is None
        assert await store.find_agent_login("nobody@acme.example") is None
        assert await store.delete_agent(org.id, ada.id, now()) is True
        assert await store.find_agent_login("ada@acme.example") is None
        assert await store.create_agent_account(twin, "ada@acme.example", "hash-2") is True

    async def test_account_set_password_gives_an_agent_a_sign_in(self, store: Store) -> None:
        """set_agent_password sets the hash and email; another agent's email is refused."""
        org, other = await add_org(store), await add_org(store)
        plain = agent_row(org.id, email="Grace@Acme.example")
        await store.create_agent(plain)
        assert await store.find_agent_login("grace@acme.example") is None
        done = await store.set_agent_password(org.id, plain.id, "h", "grace@acme.example")
        assert done == "ok"
        login = await store.find_agent_login("grace@acme.example")
        assert login is not None
        assert (login.agent.id, login.password_hash) == (plain.id, "h")
        assert await store.set_agent_password(other.id, plain.id, "x", "x@y.z") == "not_found"
        rival = agent_row(org.id)
        await store.create_agent(rival)
        taken = await store.set_agent_password(org.id, rival.id, "h2", "grace@acme.example")
        assert taken == "email_taken"
        again = await store.set_agent_password(org.id, plain.id, "h3", "grace@acme.example")
        assert again == "ok"

    async def test_account_token_is_taken_once_and_not_after_expiry(self, store: Store) -> None:
        """A one-time link is taken once (even concurrently), by its purpose, until it expires."""
        org = await add_org(store)
        at = now()
        invite = AccountToken(
            "a" * 64, "invitation", org.id, at, at + timedelta(hours=1), "x@y.z", "admin", "X"
        )
        await store.create_account_token(invite)
        assert await store.take_account_token(invite.token_hash, "reset", at) is None
        taken = await asyncio.gather(
            *(store.take_account_token(invite.token_hash, "invitation", at) for _ in range(4))
        )
        assert [t for t in taken if t is not None] == [invite]
        expired = dataclasses.replace(invite, token_hash="b" * 64, expires_at=at)
        await store.create_account_token(expired)
        assert await store.take_account_token(expired.token_hash, "invitation", at) is None
        reset = AccountToken(
            "c" * 64, "reset", org.id, at, at + timedelta(hours=1), agent_id=new_id()
        )
        await store.create_account_token(reset)
        assert await store.take_account_token(reset.token_hash, "reset", at) == reset

    async def test_account_session_found_until_revoked_or_expired(self, store: Store) -> None:
        """A session is found with its agent until it is revoked, expires or its agent goes."""
        org = await add_org(store)
        agent = agent_row(org.id)
        await store.create_agent(agent)
        session = _session(agent.id, org.id)
        await store.create_agent_session(session)
        found = await store.find_agent_session(session.token_hash, now())
        assert found is not None
        assert found[0].id == session.id
        assert found[1] == agent
        assert await store.find_agent_session(session.token_hash, session.expires_at) is None
        assert await store.find_agent_session("0" * 64, now()) is None
        assert await store.revoke_agent_session(session.id, now()) is True
        assert await store.revoke_agent_session(session.id, now()) is False
        assert await store.find_agent_session(session.token_hash, now()) is None
        other = _session(agent.id, org.id)
        await store.create_agent_session(other)
        await store.delete_agent(org.id, agent.id, now())
        assert await store.find_agent_session(other.token_hash, now()) is None

    async def test_account_sessions_of_an_agent_all_revoked(self, store: Store) -> None:
        """revoke_agent_sessions ends every live session of that agent only."""
        org = await add_org(store)
        ada, bob = agent_row(org.id), agent_row(org.id, name="Bob")
        await store.create_agent(ada)
        await store.create_agent(bob)
        mine = [_session(ada.id, org.id) for _ in range(3)]
        theirs = _session(bob.id, org.id)
        for session in (*mine, theirs):
            await store.create_agent_session(session)
        assert await store.revoke_agent_sessions(ada.id, now()) == 3
        for session in mine:
            assert await store.find_agent_session(session.token_hash, now()) is None
        assert await store.find_agent_session(theirs.token_hash, now()) is not None

    async def test_account_sessions_purged_once_expired_or_revoked(self, store: Store) -> None:
        """purge_agent_sessions deletes ended sessions only, at most ``limit`` at a time."""
        org = await add_org(store)
        agent = agent_row(org.id)
        await store.create_agent(agent)
        at = now()
        live = _session(agent.id, org.id)
        expired = [
            _session(agent.id, org.id, expires_at=at - timedelta(seconds=1)) for _ in range(2)
        ]
        revoked = _session(agent.id, org.id)
        for session in (live, *expired, revoked):
            await store.create_agent_session(session)
        await store.revoke_agent_session(revoked.id, at)
        assert await store.purge_agent_sessions(at, 2) == 2
        assert await store.purge_agent_sessions(at, 10) == 1
        assert await store.purge_agent_sessions(at, 10) == 0
        assert await store.find_agent_session(live.token_hash, at) is not None

    async def test_account_role_is_stored_and_updated(self, store: Store) -> None:
        """An agent's role is kept by create_agent and changed by update_agent."""
        org = await add_org(store)
        agent = agent_row(org.id)
        await store.create_agent(agent)
        assert agent.role == "agent"
        promoted = await store.update_agent(org.id, agent.id, {"role": "admin"})
        assert promoted == dataclasses.replace(agent, role="admin")
        assert await store.get_agent(org.id, agent.id) == promoted
