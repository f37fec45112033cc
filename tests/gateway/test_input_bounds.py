"""Deep and large input through real requests and frames: stored when within the bounds, a
clean 4xx with a stable code otherwise; never a 500, ``internal`` or a logged traceback."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings, strategies as st
from starlette.testclient import TestClient

from gateway.handlers.orgs import OrgCredentials
from protocol.bounds import MAX_DEPTH, MAX_METADATA_BYTES, MAX_METADATA_DEPTH
from protocol.encoding import pack
from tests.gateway.test_socket import Socket, close_code, socket, visitor
from tests.nesting import Shape, deep_json, deep_msgpack, levels
from tests.support import bearer

PROPERTY = settings(max_examples=60, deadline=None)
DEPTHS = st.integers(1, 2000)
SHAPES = st.sampled_from(["object", "array", "mixed"])
#: Around the bounds (8, 32) and the codecs' own limits (orjson encodes 254 levels and
#: decodes 1024, msgpack 1024).
BOUNDARIES = [1, 8, 9, 31, 32, 33, 253, 254, 255, 1022, 1023, 1024, 1025, 2000]

#: Where a deep value goes: the metadata of a REST resource, or a field nobody reads.
REST_SURFACES = ["message", "conversation", "session", "unknown"]


def examples(*surfaces: str) -> Any:
    """Explicit hypothesis examples at every boundary depth, for each surface."""

    def decorate(test: Any) -> Any:
        for depth in BOUNDARIES:
            for surface in surfaces:
                test = example(depth=depth, shape="mixed", surface=surface)(test)
        return test

    return decorate


def expected(depth: int, surface: str) -> tuple[int, str | None]:
    """The status and error code for a value ``depth`` levels deep, one level below a body."""
    if depth + 1 > MAX_DEPTH:
        return 400, "bad_request"
    if surface != "unknown" and depth > MAX_METADATA_DEPTH:
        return 422, "validation_error"
    return 201, None


def assert_no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_deep_json_through_rest_is_stored_or_refused_cleanly(
    client: TestClient, org: OrgCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON 1 to 2,000 levels deep, in metadata or an unknown field of a REST body: 201 and
    readable back within the bounds, else 422 or 400 with a stable code; never a 500."""
    token, conversation_id = visitor(client, org)
    auth = bearer(token)
    paths = {
        "message": f"/v1/conversations/{conversation_id}/messages",
        "conversation": "/v1/conversations",
        "session": f"/v1/widgets/{org.widget_id}/sessions",
        "unknown": f"/v1/conversations/{conversation_id}/messages",
    }

    @PROPERTY
    @given(depth=DEPTHS, shape=SHAPES, surface=st.sampled_from(REST_SURFACES))
    @examples(*REST_SURFACES)
    def check(depth: int, shape: Shape, surface: str) -> None:
        caplog.clear()
        kinds = levels(depth, shape, outer_object=surface != "unknown")
        field = "extra" if surface == "unknown" else "metadata"
        body = '{"content":"hi","' + field + '":' + deep_json(kinds) + "}"
        headers = {"Origin": "https://a.example", **(auth if surface != "session" else {})}
        response = client.post(paths[surface], content=body.encode(), headers=headers)
        status, code = expected(depth, surface)
        assert response.status_code == status, (depth, surface, response.text)
        if code is not None:
            error = response.json()["error"]
            assert error["code"] == code
            assert error["details"] == (
                {"max_depth": MAX_DEPTH} if code == "bad_request" else {"path": "$.metadata"}
            )
        elif surface != "unknown":
            stored = response.json()
            metadata = (stored["contact"] if surface == "session" else stored)["metadata"]
            sent = orjson.loads(deep_json(kinds))
            assert {k: metadata[k] for k in sent} == sent
        assert_no_errors_logged(caplog)

    check()
    history = client.get(paths["message"], params={"limit": 200}, headers=auth)
    assert history.status_code == 200, "every stored message encodes again"


def deep_frame(codec: str, ref: str, conversation_id: str, kinds: list[str], field: str) -> Any:
    """A message.send frame with ``field`` ``kinds`` levels deep, as the codec's raw bytes."""
    if codec == "json":
        head = orjson.dumps(
            {"op": "message.send", "ref": ref, "conversation_id": conversation_id, "content": "x"}
        )
        return head[:-1].decode() + f',"{field}":' + deep_json(kinds) + "}"
    fields = {"op": "message.send", "ref": ref, "conversation_id": conversation_id, "content": "x"}
    head = b"\x85" + b"".join(pack(k) + pack(v) for k, v in fields.items())
    return head + pack(field) + deep_msgpack(kinds)


def first_reply(ws: Socket) -> dict[str, Any]:
    while True:
        for item in ws.receive():
            if item["op"] == "reply":
                return item
            ws.events.append(item)


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_deep_frames_through_the_socket_are_stored_or_refused_cleanly(
    client: TestClient, org: OrgCredentials, caplog: pytest.LogCaptureFixture, codec: str
) -> None:
    """message.send frames with metadata or an unknown field 1 to 2,000 levels deep, both
    codecs: an ok reply within the bounds, else an error reply with a stable code; the
    socket stays open and nothing is logged as an error."""
    token, conversation_id = visitor(client, org)

    @PROPERTY
    @given(depth=DEPTHS, shape=SHAPES, surface=st.sampled_from(["message", "unknown"]))
    @examples("message", "unknown")
    def check(depth: int, shape: Shape, surface: str) -> None:
        caplog.clear()
        kinds = levels(depth, shape, outer_object=surface != "unknown")
        field = "extra" if surface == "unknown" else "metadata"
        frame = deep_frame(codec, "deep", conversation_id, kinds, field)
        with socket(client, codec) as ws:
            assert ws.call("hello", token=token)["ok"]
            if isinstance(frame, bytes):
                ws.ws.send_bytes(frame)
            else:
                ws.ws.send_text(frame)
            reply = first_reply(ws)
            _, code = expected(depth, surface)
            if code is None:
                assert reply["ok"], (depth, surface, reply)
                assert reply["ref"] == "deep"
            else:
                assert not reply["ok"]
                assert reply["error"]["code"] == code, (depth, surface, reply)
                # Refused at decode, the frame's ref could not be read.
                assert reply["ref"] == (None if code == "bad_request" else "deep")
            assert ws.call("ping", ref="after")["data"] == {"pong": True}
        assert_no_errors_logged(caplog)

    check()


def test_metadata_over_the_size_limit_is_413_on_every_surface(
    client: TestClient, org: OrgCredentials
) -> None:
    """Metadata over 16 KiB answers 413 payload_too_large with its path: anonymous widget
    sessions, conversations, contacts and messages alike; nothing is stored."""
    token, conversation_id = visitor(client, org)
    big = {"blob": "x" * MAX_METADATA_BYTES}
    requests = [
        (f"/v1/widgets/{org.widget_id}/sessions", {"metadata": big}, {}, "$.metadata"),
        ("/v1/conversations", {"metadata": big}, bearer(token), "$.metadata"),
        ("/v1/conversations", {"contact": {"metadata": big}}, bearer(org.api_key), None),
        (
            f"/v1/conversations/{conversation_id}/messages",
            {"content": "hi", "metadata": big},
            bearer(token),
            "$.metadata",
        ),
    ]
    for path, body, headers, at in requests:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 413, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["details"] == {"path": at or "$.contact.metadata"}
    history = client.get(f"/v1/conversations/{conversation_id}/messages", headers=bearer(token))
    assert history.json()["data"] == []


def test_text_with_nul_is_refused_before_storage(client: TestClient, org: OrgCredentials) -> None:
    """U+0000 anywhere in a body (which PostgreSQL cannot store), in metadata, a name or a
    message's content, is a 400 bad_request at decode on every store alike; nothing is
    stored."""
    response = client.post(
        f"/v1/widgets/{org.widget_id}/sessions", json={"metadata": {"note": "a\x00b"}}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")
    response = client.post(f"/v1/widgets/{org.widget_id}/sessions", json={"name": "V\x00"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")
    token, conversation_id = visitor(client, org)
    path = f"/v1/conversations/{conversation_id}/messages"
    response = client.post(path, json={"content": "hi\x00"}, headers=bearer(token))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")
    assert client.get(path, headers=bearer(token)).json()["data"] == []


def test_deep_bodies_to_the_dialects_answer_in_their_shape(
    client: TestClient, org: OrgCredentials
) -> None:
    """A body nested past the bound sent to a vendor dialect is that vendor's 4xx."""
    token, conversation_id = visitor(client, org)
    deep = '{"content":"x","text":"x","extra":' + deep_json(levels(1500, "mixed")) + "}"
    for method, path in [
        ("POST", f"/api/v1/conversations/{conversation_id}/messages"),
        ("POST", f"/conversations/{conversation_id}/messages"),
        ("PATCH", f"/conversations/{conversation_id}"),
    ]:
        response = client.request(method, path, content=deep, headers=bearer(org.api_key))
        assert 400 <= response.status_code < 500, (path, response.text)
        assert "depth" in response.text or "nested" in response.text, response.text


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_deep_hello_closes_with_protocol_error(client: TestClient, codec: str) -> None:
    """A first frame nested past the bound cannot be read: the socket closes with 4400."""
    kinds = levels(MAX_DEPTH, "mixed")
    with socket(client, codec) as ws:
        if codec == "json":
            ws.ws.send_text('{"op":"hello","token":"x","resume":' + deep_json(kinds) + "}")
        else:
            head = b"\x83" + pack("op") + pack("hello") + pack("token") + pack("x")
            ws.ws.send_bytes(head + pack("resume") + deep_msgpack(kinds))
        assert close_code(ws) == 4400
