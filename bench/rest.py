"""Setting a run up through the public REST API: conversations, tokens, visitor sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2 as httpx

__all__ = ["Rest", "agent_and_conversations", "gather_limited"]

T = TypeVar("T")


class Rest:
    """The org's REST API on one node, as its API key."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=32),
        )

    async def __aenter__(self) -> Rest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    async def agent_token(self, agent_id: str) -> str:
        body = await self.call("POST", "/v1/tokens", json={"kind": "agent", "agent_id": agent_id})
        return str(body["token"])

    async def bot_token(self) -> str:
        """A token of the org's bot (it speaks until a human takes over)."""
        body = await self.call("POST", "/v1/tokens", json={"kind": "bot"})
        return str(body["token"])

    async def visitor(self, widget_id: str) -> dict[str, Any]:
        """A visitor session: ``token`` and ``contact``."""
        request = self.http.build_request("POST", f"/v1/widgets/{widget_id}/sessions", json={})
        del request.headers["Authorization"]  # the widget's sessions need no credential
        response = await self.http.send(request)
        if response.status_code != 201:
            raise RuntimeError(f"visitor session: {response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body

    async def conversation(self, widget_id: str, *, escalate: bool) -> str:
        """A new conversation; ``escalate`` hands it to the team (so agents may speak)."""
        body = await self.call("POST", "/v1/conversations", json={"widget_id": widget_id})
        if escalate:
            await self.call(
                "PATCH", f"/v1/conversations/{body['id']}", json={"status": "agent_requested"}
            )
        return str(body["id"])

    async def last_seq(self, conversation_id: str) -> int:
        body = await self.call("GET", f"/v1/conversations/{conversation_id}")
        return int(body["last_seq"])


async def gather_limited(calls: list[Callable[[], Awaitable[T]]], limit: int = 32) -> list[T]:
    """Await ``calls`` with at most ``limit`` running at once, keeping their order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


def agent_and_conversations(
    base_url: str, credentials: dict[str, str], count: int, *, escalate: bool
) -> tuple[str, list[str]]:
    """What most runs start from: a token of the org's agent and ``count`` new conversations
    on its widget (handed to the team first with ``escalate``, so that agents may speak)."""

    async def setup() -> tuple[str, list[str]]:
        async with Rest(base_url, credentials["api_key"]) as rest:
            token = await rest.agent_token(credentials["agent_id"])
            ids = await gather_limited(
                [
                    lambda: rest.conversation(credentials["widget_id"], escalate=escalate)
                    for _ in range(count)
                ]
            )
            return token, ids

    return asyncio.run(setup())
