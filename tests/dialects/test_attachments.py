"""Attachments through the gateway: one content-addressed copy per org, served to that org
only, whether uploaded or fetched by URL."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.testclient import TestClient

from gateway.app import create_app
from tests.dialects.conftest import (
    JPEG,
    MAX_FILE_BYTES,
    ImageServer,
    World,
    build_world,
    dialect_settings,
    png,
)
from tests.support import bearer


def new_conversation(world: World) -> str:
    session = world.client.post(f"/v1/widgets/{world.org.widget_id}/sessions", json={}).json()
    visitor = bearer(session["token"])
    cid = world.client.post("/v1/conversations", json={}, headers=visitor).json()["id"]
    asked = world.client.patch(
        f"/v1/conversations/{cid}", json={"status": "agent_requested"}, headers=visitor
    )
    assert asked.status_code == 200
    return str(cid)


def test_same_bytes_to_ten_conversations_are_stored_once(
    world: World, image_server: ImageServer
) -> None:
    """One URL sent to ten conversations and the same bytes uploaded once more: one stored
    file, one file_url everywhere; the image server was asked once per send (no cache)."""
    url = f"{image_server.base}/files/cat.png"
    file_urls = set()
    for _ in range(10):
        cid = new_conversation(world)
        sent = world.client.post(
            f"/conversations/{cid}/messages",
            json={"text": "", "attachments": [{"url": url}]},
            headers=bearer(world.org.api_key),
        )
        assert sent.status_code == 201, sent.text
        file_urls.add(sent.json()["parts"][0]["file_url"])
    upload = world.client.post(
        f"/api/v1/conversations/{world.conversation_id}/upload",
        files={"file": ("again.png", png(1), "image/png")},
        headers=bearer(world.org.api_key),
    ).json()
    file_urls.add(upload["url"])
    sha = hashlib.sha256(png(1)).hexdigest()
    assert file_urls == {f"http://testserver/v1/files/{sha}"}
    stored = world.client.get(f"/v1/files/{sha}", headers=bearer(world.org.api_key))
    assert stored.content == png(1) and stored.headers["content-type"] == "image/png"
    assert stored.headers["x-content-type-options"] == "nosniff"
    assert image_server.hits.count("cat.png") == 10


def test_files_are_served_only_to_their_org(world: World) -> None:
    """The org's API key, agent token and visitor token read a file; another org gets 404,
    as for a file that does not exist; no credential gets 401."""
    upload = world.client.post(
        f"/v1/conversations/{world.conversation_id}/files",
        files={"file": ("photo.jpg", JPEG, "image/jpeg")},
        headers=bearer(world.visitor_token),
    )
    assert upload.status_code == 201, upload.text
    path = f"/v1/files/{upload.json()['sha256']}"
    for credential in (world.org.api_key, world.agent_token, world.visitor_token):
        response = world.client.get(path, headers=bearer(credential))
        assert response.status_code == 200 and response.content == JPEG
    assert world.client.get(path, headers=bearer(world.other.api_key)).status_code == 404
    assert world.client.get(path).status_code == 401
    missing = "/v1/files/" + "0" * 64
    assert world.client.get(missing, headers=bearer(world.org.api_key)).status_code == 404
    assert world.client.get("/v1/files/nothex", headers=bearer(world.org.api_key)).status_code in (
        404,
        422,
    )


def test_uploads_over_the_limit_or_of_active_types_are_handled(world: World) -> None:
    """A file over the limit is 413 and stores nothing; an HTML upload is kept as a download
    (never served as a page); an image type that lies about its bytes is a download too."""
    path = f"/v1/conversations/{world.conversation_id}/files"
    key = bearer(world.org.api_key)
    big = world.client.post(
        path, files={"file": ("big.bin", b"x" * (MAX_FILE_BYTES + 1), "text/plain")}, headers=key
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    page = world.client.post(
        path, files={"file": ("x.html", b"<script>alert(1)</script>", "text/html")}, headers=key
    ).json()
    assert page["mime"] == "application/octet-stream"
    served = world.client.get(f"/v1/files/{page['sha256']}", headers=key)
    assert served.headers["content-disposition"] == "attachment"
    assert served.headers["content-type"] == "application/octet-stream"
    liar = world.client.post(
        path, files={"file": ("x.png", b"not a png at all", "image/png")}, headers=key
    ).json()
    assert liar["mime"] == "application/octet-stream"


def test_without_a_public_url_file_urls_are_gateway_relative(
    tmp_path: Path, image_server: ImageServer
) -> None:
    """Without CHATGATE_PUBLIC_URL, a Pingback upload answers /v1/files/{sha256} whatever the
    Host; sent back as an attachment (Pingback or Awardee), it is the same stored file."""
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    app = create_app(dialect_settings(database_url, public_url=""))
    with TestClient(app, raise_server_exceptions=False) as client:
        world = build_world(client, database_url)
        world.move_to("open")
        key = {**bearer(world.org.api_key), "Host": "attacker.example"}
        upload = client.post(
            f"/api/v1/conversations/{world.conversation_id}/upload",
            files={"file": ("receipt.png", png(3), "image/png")},
            headers=key,
        )
        assert upload.status_code == 201, upload.text
        url = f"/v1/files/{hashlib.sha256(png(3)).hexdigest()}"
        assert upload.json()["url"] == url
        pingback = client.post(
            f"/api/v1/conversations/{world.conversation_id}/messages",
            json={"content": "", "attachments": [{"url": url}]},
            headers=key,
        )
        assert pingback.status_code == 201, pingback.text
        assert pingback.json()["attachments"][0]["url"] == url
        awardee = client.post(
            f"/conversations/{world.conversation_id}/messages",
            json={"text": "", "attachments": [{"url": url}]},
            headers=key,
        )
        assert awardee.status_code == 201, awardee.text
        assert awardee.json()["parts"][0]["file_url"] == url
