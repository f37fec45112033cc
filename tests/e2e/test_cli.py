"""The ``chatgate`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from tests.processes import chatgate, gateway_process, run_chatgate
from tests.support import SocketClient, bearer, timeout

pytestmark = pytest.mark.e2e


async def chatgate_in(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run a chatgate command in ``cwd`` (where a relative database URL points)."""
    process = await asyncio.create_subprocess_exec(
        *chatgate(*args),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    async with asyncio.timeout(timeout(60)):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/chatgate.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


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
    link = re.search(r"^\s+(http://\S+)/app/invite#token=(\S+)$", first.stdout, re.MULTILINE)
    assert link is not None, first.stdout
    assert "admin@localhost" in first.stdout

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
        # The printed admin link sets the admin's password once; the admin then signs in.
        accept = {"token": link.group(2), "name": "Admin", "password": "first admin pass"}
        accepted = await http.post("/v1/auth/accept-invitation", json=accept)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["role"] == "admin"
        again = await http.post("/v1/auth/accept-invitation", json=accept)
        assert again.json()["error"]["code"] == "invalid_link"
        signed = await http.post(
            "/v1/auth/sign-in", json={"email": "admin@localhost", "password": "first admin pass"}
        )
        assert signed.json()["agent"]["role"] == "admin"
        assert (await http.get("/v1/api-keys")).status_code == 200
    assert "api_key" not in second.stdout
    assert "/app/invite" not in second.stdout

    async with gateway_process(tmp_path / "third", *database) as third:
        client = await SocketClient.open(third.url)
        hello = await client.hello(token)
        assert hello["principal"] == {
            "kind": "agent",
            "org_id": fields["org_id"],
            "agent_id": fields["agent_id"],
            "role": "agent",
        }
        await client.aclose()
    assert await third.stop() == 0


async def test_cli_orgs_create_json(tmp_path: Path) -> None:
    """`chatgate orgs create NAME --json` prints the four credentials, which work."""
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    code, stdout, _ = await run_chatgate(
        "orgs", "create", "Acme", "--json", "--origin", "https://acme.example",
        "--database-url", database_url, "--create-database",
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


async def test_cli_agents_invite_prints_a_one_time_link(any_database_url: str, tmp_path: Path):
    """`chatgate agents invite EMAIL --role admin` prints a link whose token makes an admin
    who signs in; the link points at CHATGATE_PUBLIC_URL."""
    database = ("--database-url", any_database_url, "--create-database")
    code, stdout, _ = await run_chatgate("orgs", "create", "Acme", "--json", *database)
    assert code == 0
    org = orjson.loads(stdout)
    code, stdout, stderr = await chatgate_in(
        tmp_path,
        "agents", "invite", "Boss@Acme.example", "--role", "admin", "--org", org["org_id"],
        *database,
        env={"CHATGATE_PUBLIC_URL": "https://chat.acme.example"},
    )  # fmt: skip
    assert code == 0, stderr
    found = re.search(r"https://chat\.acme\.example/app/invite#token=(\S+)", stdout)
    assert found is not None, stdout
    code, _, stderr = await chatgate_in(
        tmp_path, "agents", "invite", "boss@acme.example", *database[:2]
    )
    assert code == 0, stderr  # one org: --org may be left out; not accepted yet
    async with (
        gateway_process(tmp_path / "serve", "--database-url", any_database_url) as served,
        httpx.AsyncClient(base_url=served.url) as http,
    ):
        accept = {"token": found.group(1), "name": "Boss", "password": "boss password 1"}
        assert (await http.post("/v1/auth/accept-invitation", json=accept)).status_code == 201
        signed = await http.post(
            "/v1/auth/sign-in", json={"email": "boss@acme.example", "password": "boss password 1"}
        )
        assert signed.json()["agent"]["role"] == "admin"
    code, _, stderr = await chatgate_in(
        tmp_path, "agents", "invite", "BOSS@acme.example", *database[:2]
    )
    assert code == 1
    assert "already signs in with this email" in stderr


async def test_cli_rejects_bad_configuration() -> None:
    """A malformed setting, database URL or Redis URL fails at once with a clear message."""
    for args, env, message in (
        (("serve",), {"CHATGATE_PORT": "eighty"}, "invalid setting"),
        (("serve", "--database-url", "mysql://nope"), {}, "unsupported database URL"),
        (("serve", "--redis-url", "http://nope"), {}, "unsupported Redis URL"),
        (("serve", "--workers", "2"), {}, "needs a Redis broker"),
        (("orgs", "create", "X", "--monthly-message-limit", "-1"), {}, "must be 0 or more"),
        (("api-keys", "list", "--org", "acme"), {}, "not an id (a UUID): 'acme'"),
        (("orgs", "list", "--database-url", "mysql://nope"), {}, "unsupported database URL"),
        (("serve",), {"CHATGATE_PUBLIC_URL": "chat.example.com"}, "invalid setting"),
    ):
        code, _, stderr = await run_chatgate(*args, env=env)
        assert code == 2, (args, stderr)
        assert message in stderr and "Traceback" not in stderr, (args, stderr)


async def test_cli_admin_commands_refuse_a_missing_sqlite_database(tmp_path: Path) -> None:
    """Run where there is no database, every admin command exits 1 naming the absolute path it
    looked at and creates nothing; `--create-database` creates it and says so."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"CHATGATE_DATABASE_URL": "sqlite:///./data/chatgate.db"}
    missing = elsewhere / "data" / "chatgate.db"
    some_id = str(uuid.uuid4())
    for args in (
        ("orgs", "create", "Acme"),
        ("orgs", "list"),
        ("orgs", "show", some_id),
        ("api-keys", "create", "--org", some_id),
        ("api-keys", "list", "--org", some_id),
        ("api-keys", "revoke", "--org", some_id, some_id),
    ):
        code, stdout, stderr = await chatgate_in(elsewhere, *args, env=env)
        assert code == 1, (args, stderr)
        assert f"no database at {missing}" in stderr and "--create-database" in stderr, stderr
        assert stdout == "" and "Traceback" not in stderr
    assert not (elsewhere / "data").exists()

    code, stdout, stderr = await chatgate_in(
        elsewhere, "orgs", "create", "Acme", "--json", "--create-database", env=env
    )
    assert code == 0, stderr
    assert f"chatgate: database sqlite:///{missing} (new: creating it)" in stderr
    assert missing.exists() and set(orjson.loads(stdout)) >= {"org_id", "api_key"}
    code, stdout, stderr = await chatgate_in(elsewhere, "orgs", "list", env=env)
    assert code == 0 and "Acme" in stdout
    assert f"chatgate: database sqlite:///{missing}\n" in stderr


async def test_cli_recovers_lost_credentials_against_a_running_gateway(
    tmp_path: Path, any_database_url: str
) -> None:
    """With the bootstrap credentials lost, `orgs list`, `orgs show` and `api-keys create` give
    an org id, widget id, agent id and a new key that the running gateway accepts; once
    `api-keys revoke` revokes that key the gateway refuses it (within the key cache time) and
    still accepts the others."""
    database = ("--database-url", any_database_url)
    env = {"CHATGATE_API_KEY_CACHE_SECONDS": "1"}
    async with (
        gateway_process(tmp_path / "serve", *database, env=env) as served,
        httpx.AsyncClient(base_url=served.url, timeout=timeout(10)) as http,
    ):
        assert f"chatgate: database {any_database_url}" in served.stderr
        lost = dict(re.findall(r"^\s+(\w+)\s+(\S+)$", served.stdout, re.MULTILINE))

        code, stdout, stderr = await run_chatgate("orgs", "list", *database)
        assert code == 0, stderr
        assert f"chatgate: database {any_database_url}" in stderr
        assert re.search(rf"^{lost['org_id']}\s+Default\s", stdout, re.MULTILINE), stdout
        code, stdout, _ = await run_chatgate("orgs", "list", "--json", *database)
        assert [org["id"] for org in orjson.loads(stdout)] == [lost["org_id"]]

        code, stdout, _ = await run_chatgate("orgs", "show", lost["org_id"], *database)
        assert code == 0
        assert lost["widget_id"] in stdout and lost["agent_id"] in stdout
        assert lost["api_key"] not in stdout, "a key's secret is never shown again"
        code, stdout, _ = await run_chatgate("orgs", "show", lost["org_id"], "--json", *database)
        shown = orjson.loads(stdout)
        assert [w["id"] for w in shown["widgets"]] == [lost["widget_id"]]
        assert [a["id"] for a in shown["agents"]] == [lost["agent_id"]]
        assert "live_agent_secret" not in shown["widgets"][0]

        code, stdout, stderr = await run_chatgate(
            "api-keys", "create", "--org", lost["org_id"], "--name", "ops", *database
        )
        assert code == 0, stderr
        assert "shown once" in stdout
        new = dict(re.findall(r"^\s+(\w+)\s+(\S+)$", stdout, re.MULTILINE))
        assert new["api_key"].startswith("cgk_")
        issued = await http.post(
            "/v1/tokens", json={"agent_id": lost["agent_id"]}, headers=bearer(new["api_key"])
        )
        assert issued.status_code == 201, issued.text

        code, stdout, _ = await run_chatgate(
            "api-keys", "list", "--org", lost["org_id"], "--json", *database
        )
        listed = {key["id"]: key for key in orjson.loads(stdout)}
        assert listed[new["key_id"]]["name"] == "ops" and len(listed) == 2
        assert all(key["revoked_at"] is None for key in listed.values())

        code, stdout, stderr = await run_chatgate(
            "api-keys", "revoke", "--org", lost["org_id"], new["key_id"], *database
        )
        assert code == 0, stderr
        assert f"revoked API key {new['key_id']}" in stdout

        async def refused() -> bool:
            listing = await http.get("/v1/conversations", headers=bearer(new["api_key"]))
            return listing.status_code == 401

        deadline = asyncio.get_running_loop().time() + timeout(5)
        while not await refused():
            assert asyncio.get_running_loop().time() < deadline, "the revoked key still works"
            await asyncio.sleep(0.1)
        kept = await http.get("/v1/conversations", headers=bearer(lost["api_key"]))
        assert kept.status_code == 200

        code, stdout, _ = await run_chatgate(
            "api-keys", "revoke", "--org", lost["org_id"], new["key_id"], *database
        )
        assert code == 0 and "already revoked" in stdout
        code, stdout, _ = await run_chatgate("api-keys", "list", "--org", lost["org_id"], *database)
        row = next(line for line in stdout.splitlines() if line.startswith(new["key_id"]))
        assert row.split()[1] == "ops" and row.endswith("Z"), "listed with its revocation time"


async def test_cli_unknown_org_or_key_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    """An org or API key that does not exist (or belongs to another org) is one line on stderr
    naming it, exit code 1, nothing on stdout, no traceback."""
    database = ("--database-url", f"sqlite:///{tmp_path}/chatgate.db")
    acme = orjson.loads(
        (await run_chatgate("orgs", "create", "Acme", "--json", "--create-database", *database))[1]
    )
    globex = orjson.loads((await run_chatgate("orgs", "create", "Globex", "--json", *database))[1])
    code, stdout, _ = await run_chatgate(
        "api-keys", "list", "--org", globex["org_id"], "--json", *database
    )
    globex_key = orjson.loads(stdout)[0]["id"]
    ghost = str(uuid.uuid4())
    for args, message in (
        (("orgs", "show", ghost), f"no org {ghost}"),
        (("api-keys", "create", "--org", ghost), f"no org {ghost}"),
        (("api-keys", "list", "--org", ghost), f"no org {ghost}"),
        (("api-keys", "revoke", "--org", ghost, globex_key), f"no org {ghost}"),
        (("api-keys", "revoke", "--org", acme["org_id"], ghost), f"has no API key {ghost}"),
        (
            ("api-keys", "revoke", "--org", acme["org_id"], globex_key),
            f"has no API key {globex_key}",
        ),
    ):
        code, stdout, stderr = await run_chatgate(*args, *database)
        assert code == 1, (args, stderr)
        assert "chatgate: error: " in stderr and message in stderr, (args, stderr)
        assert stdout == "" and "Traceback" not in stderr
    async with (
        gateway_process(tmp_path / "serve", *database) as served,
        httpx.AsyncClient(base_url=served.url) as http,
    ):
        listing = await http.get("/v1/conversations", headers=bearer(globex["api_key"]))
        assert listing.status_code == 200, "another org's revoke left the key working"


async def test_cli_hides_the_database_password_and_reports_an_unreachable_database() -> None:
    """The database line never shows a password; an unreachable database is the reason in one
    line, not a traceback: exit 1 for an admin command, 2 for `serve` (a refused start)."""
    url = "postgresql://chatgate:hunter2@127.0.0.1:1/chatgate"
    for command, status in ((("orgs", "list"), 1), (("serve", "--port", "0"), 2)):
        code, stdout, stderr = await run_chatgate(*command, "--database-url", url)
        assert code == status, (command, stderr)
        assert "chatgate: database postgresql://chatgate:***@127.0.0.1:1/chatgate" in stderr
        assert "cannot open database" in stderr and "hunter2" not in stderr + stdout
        assert "Traceback" not in stderr


async def test_cli_serve_refuses_a_port_in_use_in_one_line(tmp_path: Path) -> None:
    """`serve` on a port something else holds: one line on stderr naming the port, exit 2."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, stderr = await run_chatgate(
            "serve", "--port", str(port), "--database-url", f"sqlite:///{tmp_path}/db.db"
        )
    assert code == 2, stderr
    [refusal] = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert refusal.startswith(f"chatgate: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in stderr
