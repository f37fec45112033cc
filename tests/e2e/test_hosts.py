"""The Host header decides nothing: stored file URLs never carry it, CHATGATE_ALLOWED_HOSTS
refuses other hosts on HTTP and on the socket, and serve warns when it is exposed unguarded."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.processes import gateway_process
from tests.support import SocketClient, api, bearer, live_server, new_org, timeout

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
SHA = hashlib.sha256(PNG).hexdigest()
FORGED = {"Host": "attacker.example"}


async def visitor_upload(
    http: httpx.AsyncClient, widget_id: str
) -> tuple[str, str, httpx.Response]:
    """A visitor's session, conversation and upload, all sent with a forged Host."""
    path = f"/v1/widgets/{widget_id}/sessions"
    token = (await api(http, "POST", path, json={}, headers={**FORGED}))["token"]
    cid = (await api(http, "POST", "/v1/conversations", token, json={}, headers={**FORGED}))["id"]
    upload = await http.post(
        f"/v1/conversations/{cid}/files",
        files={"file": ("receipt.png", PNG, "image/png")},
        headers={**bearer(token), **FORGED},
    )
    return token, cid, upload


@pytest.mark.parametrize("public_url", ["", "https://chat.example.com"])
async def test_hosts_a_forged_host_never_reaches_stored_file_urls(
    settings: Settings, database_url: str, public_url: str
) -> None:
    """A visitor uploading and sending under a forged Host gets, and stores, the gateway's
    own file URL (relative, or under CHATGATE_PUBLIC_URL): the attacker's domain appears
    nowhere an agent reads, and the URL serves the file."""
    expected = f"{public_url}/v1/files/{SHA}"
    with live_server(create_app(settings.replace(public_url=public_url))) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
            token, cid, upload = await visitor_upload(http, org.widget_id)
            assert upload.status_code == 201, upload.text
            assert upload.json()["url"] == expected
            for url in (expected, f"http://attacker.example/v1/files/{SHA}"):
                sent = await http.post(
                    f"/v1/conversations/{cid}/messages",
                    json={"content": "", "attachments": [{"url": url}]},
                    headers={**bearer(token), **FORGED},
                )
                assert sent.status_code == 201, sent.text
            history = await http.get(
                f"/v1/conversations/{cid}/messages", headers=bearer(org.api_key)
            )
            assert b"attacker" not in history.content
            stored = [a["url"] for m in history.json()["data"] for a in m["attachments"]]
            assert stored == [expected, expected]
            served = await http.get(f"/v1/files/{SHA}", headers=bearer(org.api_key))
            assert served.content == PNG


async def handshake(server: str, host: str) -> tuple[bytes, bytes]:
    """A raw WebSocket handshake on /ws with this Host; the server's status line and body."""
    address = urlsplit(server)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chatgate.json\r\n\r\n"
        ).encode()
    )
    try:
        async with asyncio.timeout(timeout(10)):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.lower().split(b"\r\n")
            sizes = [int(line[15:]) for line in lines if line.startswith(b"content-length:")]
            body = await reader.readexactly(sizes[0] if sizes else 0)
    finally:
        writer.close()
    return head.split(b"\r\n")[0], body


async def test_hosts_allowed_hosts_refuse_other_hosts_on_http_and_sockets(
    settings: Settings, database_url: str
) -> None:
    """With CHATGATE_ALLOWED_HOSTS set, a request or socket handshake naming another host
    gets 400 bad_request in the standard envelope; allowed names (wildcards included) are
    served, and /healthz and /readyz answer any host."""
    allowed = settings.replace(allowed_hosts="127.0.0.1, *.example.com")
    with live_server(create_app(allowed)) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
            refused = await http.get("/v1/conversations", headers={"Host": "attacker.example"})
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == "bad_request"
            assert refused.json()["request_id"] == refused.headers["x-request-id"]
            for host in ("chat.example.com", "CHAT.Example.com:8443", "127.0.0.1"):
                listed = await http.get(
                    "/v1/conversations", headers={**bearer(org.api_key), "Host": host}
                )
                assert listed.status_code == 200, (host, listed.text)
            apex = await http.get("/v1/conversations", headers={"Host": "example.com"})
            assert apex.status_code == 400
            for probe in ("/healthz", "/readyz"):
                answered = await http.get(probe, headers={"Host": "10.0.0.7:8000"})
                assert answered.status_code == 200, probe

            status, body = await handshake(server, "attacker.example")
            assert status.startswith(b"HTTP/1.1 400 "), status
            assert orjson.loads(body)["error"]["code"] == "bad_request"
            status, _ = await handshake(server, "chat.example.com")
            assert status.startswith(b"HTTP/1.1 101 "), status

            issued = await api(
                http, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id}
            )
        client = await SocketClient.open(server)
        try:
            assert (await client.hello(issued["token"]))["principal"]["kind"] == "agent"
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    ("host", "env", "warned"),
    [
        ("0.0.0.0", {}, True),
        ("0.0.0.0", {"CHATGATE_ALLOWED_HOSTS": "chat.example.com,127.0.0.1"}, False),
        ("127.0.0.1", {}, False),
    ],
)
async def test_hosts_serve_warns_when_exposed_without_allowed_hosts_or_public_url(
    tmp_path: Path, host: str, env: dict[str, str], warned: bool
) -> None:
    """`serve` bound beyond loopback with neither CHATGATE_PUBLIC_URL nor
    CHATGATE_ALLOWED_HOSTS warns at start; bound to loopback, or with either set, it does not."""
    database = ("--database-url", f"sqlite:///{tmp_path}/chatgate.db")
    async with gateway_process(tmp_path, *database, "--host", host, env=env) as served:
        pass
    assert ("CHATGATE_ALLOWED_HOSTS" in served.stderr) is warned, served.stderr
