"""Bad input never yields a 500, a traceback, or a broken connection."""

from __future__ import annotations

import re

import msgpack
import orjson
from starlette.testclient import TestClient

from gateway.handlers.orgs import OrgCredentials
from gateway.http.routes import OPERATIONS
from protocol.codes import ErrorCode
from tests.gateway.test_socket import socket
from tests.support import bearer

PARAM = re.compile(r"{(\w+)}")
KNOWN_CODES = {code.value for code in ErrorCode} - {"internal"}
TRACE_MARKERS = ("Traceback", 'File "', "Exception", "Error:")

BAD_BODIES: list[bytes] = [
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"\xff\xfe\x00garbage",
    b'{"content": 5, "status": 7, "name": [], "seq": "x", "on": "yes", "kind": 3}',
    b'{"content": "", "attachments": []}',
    b'{"status": "nonsense", "assignee_id": "not-a-uuid"}',
    b'{"attachments": [{"url": "javascript:alert(1)"}], "content": "x"}',
    b'{"metadata": {"a": {"b": {"c": 1}}}, "seq": -1, "limit": 100000}',
    b'{"content": "x", "epoch": true, "client_message_id": ""}',
    b"[" * 5000 + b"]" * 5000,
    b'{"content": "' + b"x" * 25_000 + b'"}',
]
BAD_IDS = ["not-a-uuid", "..%2F..%2Fetc", "0" * 300, "00000000-0000-0000-0000-000000000000"]
BAD_QUERIES = [
    {"limit": "abc"},
    {"limit": "-1"},
    {"limit": "0"},
    {"after_seq": "1e99"},
    {"status": "bot"},
    {"cursor": "%%%"},
]


def assert_clean(response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text)
    body = response.json()
    assert body["error"]["code"] in KNOWN_CODES, (what, body)
    assert body["request_id"]
    for marker in TRACE_MARKERS:
        assert marker not in response.text, (what, response.text)


def test_bad_input_rest_sweep(client: TestClient, org: OrgCredentials) -> None:
    """Every operation, fed malformed bodies, ids and queries, answers a clean 4xx."""
    conversation = client.post("/v1/conversations", json={}, headers=bearer(org.api_key)).json()
    webhook = client.post(
        "/v1/webhooks", json={"url": "https://hooks.example/in"}, headers=bearer(org.api_key)
    ).json()
    bot = client.post("/v1/bots", json={"name": "Helper"}, headers=bearer(org.api_key)).json()
    article = client.post(
        "/v1/knowledge/articles", json={"title": "t", "body": "b"}, headers=bearer(org.api_key)
    ).json()
    ids = {
        "bot_id": bot["id"],
        "conversation_id": conversation["id"],
        "widget_id": org.widget_id,
        "api_key_id": org.org_id,
        "agent_id": org.agent_id,
        "webhook_id": webhook["id"],
        "delivery_id": "dlv_unknown",
        "article_id": article["id"],
        "contact_id": org.org_id,  # a well-formed id of no contact
    }
    requests = 0
    for op in OPERATIONS:
        good_path = PARAM.sub(lambda m: ids[m.group(1)], op.path)
        if op.method in ("POST", "PATCH"):
            for body in BAD_BODIES:
                response = client.request(
                    op.method, good_path, content=body, headers=bearer(org.api_key)
                )
                if response.status_code < 300:
                    continue  # e.g. {"name": ...} ignored by an op that takes no fields
                assert_clean(response, f"{op.method} {op.path} {body[:40]!r}")
                requests += 1
        if op.method == "GET":
            for query in BAD_QUERIES:
                response = client.get(good_path, params=query, headers=bearer(org.api_key))
                if response.status_code >= 300:
                    assert_clean(response, f"GET {op.path} {query}")
                    requests += 1
        if PARAM.search(op.path):
            for bad in BAD_IDS:
                path = PARAM.sub(bad, op.path)
                response = client.request(op.method, path, json={}, headers=bearer(org.api_key))
                assert_clean(response, f"{op.method} {path}")
                requests += 1
    assert requests > 100, "the sweep really exercised error paths"
    assert client.get("/healthz").status_code == 200


def test_bad_input_rest_auth_and_size(client: TestClient, org: OrgCredentials) -> None:
    """Bad credentials answer 401; a body over the limit answers 413."""
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        bearer("cgk_wrong"),
        bearer("eyJhbGciOiJIUzI1NiJ9.e30.forged"),
        bearer(org.api_key + "x"),
    ):
        response = client.get("/v1/conversations", headers=headers)
        assert response.status_code == 401, headers
        assert_clean(response, str(headers))
    huge = b'{"content": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    conversation = client.post("/v1/conversations", json={}, headers=bearer(org.api_key)).json()
    response = client.post(
        f"/v1/conversations/{conversation['id']}/messages",
        content=huge,
        headers=bearer(org.api_key),
    )
    assert response.status_code == 413
    assert_clean(response, "huge body")
    replay = client.post(
        "/v1/conversations", json={}, headers={**bearer(org.api_key), "Idempotency-Key": "\x01"}
    )
    assert replay.status_code == 422


def test_bad_input_socket_sweep(client: TestClient, org: OrgCredentials) -> None:
    """Garbage frames each get an error reply; the socket and its neighbours carry on."""
    session = client.post(f"/v1/widgets/{org.widget_id}/sessions", json={}).json()
    token = session["token"]
    cid = client.post("/v1/conversations", json={}, headers=bearer(token)).json()["id"]
    garbage: list[str | bytes] = [
        "{",
        "[]",
        "null",
        "42",
        '"op"',
        '{"op": 5}',
        '{"op": "nope", "ref": 1}',
        '{"op": "message.send", "ref": 2}',
        '{"op": "message.send", "ref": 3, "conversation_id": "x", "content": "a"}',
        f'{{"op": "message.send", "ref": 4, "conversation_id": "{cid}", "content": 7}}',
        '{"op": "subscribe", "ref": 5}',
        '{"op": "subscribe", "ref": 6, "inbox": true, "conversation_id": "' + cid + '"}',
        '{"op": "read", "ref": 7, "conversation_id": "' + cid + '", "seq": -3}',
        '{"op": "typing", "ref": 8, "conversation_id": "' + cid + '", "on": "yes"}',
        '{"op": "ping", "ref": {"nested": true}}',
        '{"op": "ping", "ref": 1.5}',
        '{"op": "message.send", "ref": 9, "conversation_id": "00000000-0000-0000-0000-'
        '000000000000", "content": "a"}',
        "[" * 3000 + "]" * 3000,
        b"\x81\x82\x83",
        msgpack.packb({"op": "ping", "ref": 10}),
    ]
    with socket(client) as ws, socket(client) as neighbour:
        neighbour.call("hello", token=token)
        neighbour.call("subscribe", conversation_id=cid)
        ws.call("hello", token=token)
        for frame in garbage:
            if isinstance(frame, bytes):
                ws.ws.send_bytes(frame)
            else:
                ws.ws.send_text(frame)
            [reply] = ws.receive()
            assert reply["op"] == "reply" and reply["ok"] is False, (frame, reply)
            assert reply["error"]["code"] in KNOWN_CODES, (frame, reply)
            assert not any(m in orjson.dumps(reply).decode() for m in TRACE_MARKERS[:2])
        sent = ws.call("message.send", conversation_id=cid, content="still here")
        assert sent["ok"] and sent["data"]["seq"] == 1
        assert neighbour.event()["data"]["content"] == "still here"


def test_bad_input_instants_need_an_offset(client: TestClient, org: OrgCredentials) -> None:
    """An input time without an offset (not RFC 3339) answers validation_error naming the
    field; with any offset and any precision it is accepted."""
    key = bearer(org.api_key)
    hook = client.post("/v1/webhooks", json={"url": "https://hooks.example/in"}, headers=key)
    replay = f"/v1/webhooks/{hook.json()['id']}/replay"
    for since in ("2020-01-01T00:00:00", "2020-01-01", "yesterday"):
        response = client.post(replay, json={"since": since}, headers=key)
        assert response.status_code == 422, (since, response.text)
        assert_clean(response, since)
        assert response.json()["error"]["details"] == {"path": "$.since"}
    for since in ("2020-01-01T00:00:00Z", "2020-01-01T02:00:00+02:00", "2020-01-01T00:00:00.1Z"):
        response = client.post(replay, json={"since": since}, headers=key)
        assert response.status_code == 200, (since, response.text)
    naive_until = {"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00"}
    assert client.post(replay, json=naive_until, headers=key).status_code == 422
