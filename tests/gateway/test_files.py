"""Files are read by who may see a conversation they belong to: the org's staff every file of
the org, a visitor only the files of their own conversations; everyone else gets the same 404
as for a hash that is stored nowhere."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.support import bearer, live_server, new_org

#: The image server's host: loopback, and the only host the gateway may fetch from.
IMAGE_HOST = "127.0.0.2"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 48
RECEIPT = b"%PDF-1.7 receipt of visitor A"
NOWHERE = "0" * 64


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    async def image(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    app = Starlette(routes=[Route("/cat.png", image)])
    with live_server(app, host=IMAGE_HOST, lifespan="off") as base:
        yield base


@dataclass
class Visitor:
    token: str
    conversation_id: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Org:
    credentials: OrgCredentials
    staff: dict[str, dict[str, str]]

    def visitor(self, client: TestClient) -> Visitor:
        widget_id = self.credentials.widget_id
        session = client.post(f"/v1/widgets/{widget_id}/sessions", json={}).json()
        auth = bearer(session["token"])
        conversation = client.post("/v1/conversations", json={}, headers=auth).json()
        return Visitor(session["token"], conversation["id"])


@pytest.fixture
def client(tmp_path: Path, image_server: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/chatgate.db",
        secret_key="test-secret-key-of-decent-length!",
        fetch_allowed_hosts=IMAGE_HOST,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _org(client: TestClient, tmp_path: Path, name: str) -> Org:
    credentials = asyncio.run(new_org(f"sqlite:///{tmp_path}/chatgate.db", name))
    key = bearer(credentials.api_key)
    agent = client.post("/v1/tokens", json={"agent_id": credentials.agent_id}, headers=key)
    bot = client.post("/v1/tokens", json={"kind": "bot"}, headers=key)
    staff = {
        "api_key": key,
        "agent": bearer(agent.json()["token"]),
        "bot": bearer(bot.json()["token"]),
    }
    return Org(credentials, staff)


@pytest.fixture
def acme(client: TestClient, tmp_path: Path) -> Org:
    return _org(client, tmp_path, "Acme")


@pytest.fixture
def globex(client: TestClient, tmp_path: Path) -> Org:
    return _org(client, tmp_path, "Globex")


def upload(
    client: TestClient, conversation_id: str, data: bytes, auth: dict[str, str]
) -> dict[str, Any]:
    response = client.post(
        f"/v1/conversations/{conversation_id}/files",
        files={"file": ("receipt.pdf", data, "application/pdf")},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def read(client: TestClient, sha256: str, auth: dict[str, str]) -> tuple[int, Any]:
    """The status and, for an error, its body without the request id."""
    response = client.get(f"/v1/files/{sha256}", headers=auth)
    if response.status_code == 200:
        return 200, response.content
    body = response.json()
    body.pop("request_id")
    return response.status_code, body


def send(client: TestClient, conversation_id: str, urls: list[str], auth: dict[str, str]) -> Any:
    return client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"content": "", "attachments": [{"url": url} for url in urls]},
        headers=auth,
    )


def test_files_visitor_reads_only_the_files_of_their_conversations(
    client: TestClient, acme: Org
) -> None:
    """Visitor A reads what they uploaded, attached or not; visitor B of the same org gets
    exactly the 404 of an unknown hash for both; every kind of staff reads both."""
    a, b = acme.visitor(client), acme.visitor(client)
    attached = upload(client, a.conversation_id, RECEIPT, a.auth)
    loose = upload(client, a.conversation_id, PNG, a.auth)
    sent = send(client, a.conversation_id, [attached["url"]], a.auth)
    assert sent.status_code == 201, sent.text
    unknown = read(client, NOWHERE, b.auth)
    assert unknown == (404, {"error": {"code": "not_found", "message": "file not found"}})
    for file, data in ((attached, RECEIPT), (loose, PNG)):
        assert read(client, file["sha256"], a.auth) == (200, data)
        assert read(client, file["sha256"], b.auth) == unknown
        for auth in acme.staff.values():
            assert read(client, file["sha256"], auth) == (200, data)


def test_files_visitor_cannot_upload_into_another_visitors_conversation(
    client: TestClient, acme: Org
) -> None:
    """Visitor B uploading into A's conversation gets 404 and stores nothing."""
    a, b = acme.visitor(client), acme.visitor(client)
    response = client.post(
        f"/v1/conversations/{a.conversation_id}/files",
        files={"file": ("x.pdf", RECEIPT, "application/pdf")},
        headers=b.auth,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    sha = hashlib.sha256(RECEIPT).hexdigest()
    assert read(client, sha, acme.staff["api_key"])[0] == 404


def test_files_fetched_by_url_belong_to_the_conversation_they_were_sent_in(
    client: TestClient, acme: Org, image_server: str
) -> None:
    """An image fetched for A's message is readable by A, not by B; once B uploads the same
    bytes into B's own conversation, B reads that file too (one file, two conversations)."""
    a, b = acme.visitor(client), acme.visitor(client)
    sent = send(client, a.conversation_id, [f"{image_server}/cat.png"], a.auth)
    assert sent.status_code == 201, sent.text
    (attachment,) = sent.json()["attachments"]
    sha = attachment["sha256"]
    assert read(client, sha, a.auth) == (200, PNG)
    assert read(client, sha, b.auth)[0] == 404
    again = upload(client, b.conversation_id, PNG, b.auth)
    assert again["sha256"] == sha
    assert read(client, sha, b.auth) == (200, PNG)
    assert read(client, sha, a.auth) == (200, PNG)


def test_files_visitor_cannot_attach_a_file_they_cannot_read(client: TestClient, acme: Org) -> None:
    """Visitor B citing A's file URL in B's own conversation is refused as an unknown file
    (and still cannot read it); staff may share it into B's conversation, and then B can."""
    a, b = acme.visitor(client), acme.visitor(client)
    mine = upload(client, a.conversation_id, RECEIPT, a.auth)
    cited = send(client, b.conversation_id, [mine["url"]], b.auth)
    unknown = send(
        client, b.conversation_id, [mine["url"].replace(mine["sha256"], NOWHERE)], b.auth
    )
    assert cited.status_code == unknown.status_code == 422
    assert cited.json()["error"]["details"]["reason"] == "unknown_file"
    assert unknown.json()["error"]["details"]["reason"] == "unknown_file"
    assert read(client, mine["sha256"], b.auth)[0] == 404
    shared = client.post(
        f"/v1/conversations/{b.conversation_id}/messages",
        json={
            "content": "here is the receipt",
            "role": "bot",
            "epoch": 0,
            "attachments": [{"url": mine["url"]}],
        },
        headers=acme.staff["api_key"],
    )
    assert shared.status_code == 201, shared.text
    assert read(client, mine["sha256"], b.auth) == (200, RECEIPT)


def test_files_another_org_never_reads_them(client: TestClient, acme: Org, globex: Org) -> None:
    """Neither the staff nor the visitors of another org read a file or attach it by URL."""
    a, stranger = acme.visitor(client), globex.visitor(client)
    mine = upload(client, a.conversation_id, RECEIPT, a.auth)
    for auth in (*globex.staff.values(), stranger.auth):
        assert read(client, mine["sha256"], auth)[0] == 404
    cited = send(client, stranger.conversation_id, [mine["url"]], globex.staff["api_key"])
    assert cited.status_code == 422
    assert cited.json()["error"]["details"]["reason"] == "unknown_file"
