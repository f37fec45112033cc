"""The ``chatgate`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2 as httpx
import orjson

from tests.processes import gateway_process, run_chatgate
from tests.support import SocketClient, bearer


async def test_cli_first_serve_bootstraps_and_prints_credentials_once(tmp_path: Path) -> None:
    """The first serve on an empty database prints working credentials; the next does not,
    and tokens survive the restart (the signing secret is kept in the database)."""
    database = ("--database-url", f"sqlite:///{tmp_path}/data/chatgate.db")
    async with (
        gateway_process(tmp_path / "first", *database) as first,
        httpx.AsyncClient(base_url=first.url) as http,
    ):
        assert (await http.get("/healthz")).json()["status"] == "ok"
    fields = dict(re.findall(r"^\s+(\w+)\s+(\S+)$", first.stdout, re.MULTILINE))
    assert set(fields) == {"org_id", "api_key", "widget_id", "agent_id"}, first.stdout
    assert "shown once" in first.stdout

    async with (
        gateway_process(tmp_path / "second", *database) as second,
        httpx.AsyncClient(base_url=second.url) as http,
    ):
        listed = await http.get("/v1/conversations", headers=bearer(fields["api_key"]))
        assert listed.status_code == 200
        issued = await http.post(
            "/v1/tokens",
            json={"agent_id": fields["agent_id"]},
            headers=bearer(fields["api_key"]),
        )
        token = issued.json()["token"]
    assert "api_key" not in second.stdout

    async with gateway_process(tmp_path / "third", *database) as third:
        client = await SocketClient.open(third.url)
        hello = await client.hello(token)
        assert hello["principal"] == {
            "kind": "agent",
            "org_id": fields["org_id"],
            "agent_id": fields["agent_id"],
        }
        await client.aclose()
    assert await third.stop() == 0


async def test_cli_orgs_create_json(tmp_path: Path) -> None:
    """`chatgate orgs create NAME --json` prints the four credentials, which work."""
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    code, stdout, _ = await run_chatgate(
        "orgs", "create", "Acme", "--json", "--origin", "https://acme.example",
        "--database-url", database_url,
    )  # fmt: skip
    assert code == 0
    credentials = orjson.loads(stdout)
    assert set(credentials) == {"org_id", "api_key", "widget_id", "agent_id"}
    async with (
        gateway_process(tmp_path / "serve", "--database-url", database_url) as served,
        httpx.AsyncClient(base_url=served.url) as http,
    ):
        widget = await http.get(
            f"/v1/widgets/{credentials['widget_id']}", headers=bearer(credentials["api_key"])
        )
        assert widget.json()["allowed_origins"] == ["https://acme.example"]
        assert widget.json()["org_id"] == credentials["org_id"]
    assert "api_key" not in served.stdout, "an existing org means no bootstrap"


async def test_cli_rejects_bad_configuration() -> None:
    """A malformed setting, database URL or Redis URL fails at once with a clear message."""
    for args, env, message in (
        (("serve",), {"CHATGATE_PORT": "eighty"}, "invalid setting"),
        (("serve", "--database-url", "mysql://nope"), {}, "unsupported database URL"),
        (("serve", "--redis-url", "http://nope"), {}, "unsupported Redis URL"),
        (("serve", "--workers", "2"), {}, "needs a Redis broker"),
        (("orgs", "create", "X", "--monthly-message-limit", "-1"), {}, "must be 0 or more"),
        (("serve",), {"CHATGATE_PUBLIC_URL": "chat.example.com"}, "invalid setting"),
    ):
        code, _, stderr = await run_chatgate(*args, env=env)
        assert code == 2, (args, stderr)
        assert message in stderr and "Traceback" not in stderr, (args, stderr)
