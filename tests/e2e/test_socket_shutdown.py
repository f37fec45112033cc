"""A gateway that is stopped says so to its sockets: close 1012 (service restart), so clients
reconnect elsewhere or later and resume by seq."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx

from tests.processes import gateway_process
from tests.support import SocketClient, api, new_org


async def test_stopping_the_gateway_closes_sockets_with_1012(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/stop.db"
    async with gateway_process(tmp_path / "gw", "--database-url", database) as served:
        org = await new_org(database, "Acme")
        async with httpx.AsyncClient(base_url=served.url) as http:
            token = (await api(http, "POST", "/v1/tokens", org.api_key, json={"kind": "bot"}))[
                "token"
            ]
            cid = (await api(http, "POST", "/v1/conversations", org.api_key, json={}))["id"]
        subscribed = await SocketClient.open(served.url)
        await subscribed.hello(token)
        await subscribed.call("subscribe", conversation_id=cid)
        quiet = await SocketClient.open(served.url, codec="msgpack")
        await quiet.hello(token)
        assert await served.stop() == 0
        assert await subscribed.wait_closed() == 1012
        assert await quiet.wait_closed() == 1012
