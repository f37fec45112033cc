"""Every dialect case of golden/*.json against a real gateway (see tests/dialects/golden.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from protocol.encoding import format_instant
from tests.dialects.conftest import (
    ImageServer,
    build_world,
    dialect_settings,
    livechatai_bots,
    png,
)
from tests.dialects.golden import (
    Case,
    load_cases,
    match,
    match_events,
    parse_events,
    pick,
    substitute,
)

DIALECTS = ("bland", "pingback", "awardee", "livechatai")
CASES = [(dialect, case) for dialect in DIALECTS for case in load_cases(dialect)]


@pytest.mark.parametrize(("dialect", "case"), CASES, ids=[f"{d}:{c.name}" for d, c in CASES])
def test_golden(dialect: str, case: Case, tmp_path: Path, image_server: ImageServer) -> None:
    """The dialect answers this case exactly as the vendor documents it."""
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    app = create_app(dialect_settings(database_url, **case.settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        world = build_world(client, database_url, case.org.get("monthly_message_limit"))
        for i in range(case.visitor_messages):
            sent = client.post(
                f"/v1/conversations/{world.conversation_id}/messages",
                json={"content": f"visitor {i}"},
                headers={"Authorization": f"Bearer {world.visitor_token}"},
            )
            assert sent.status_code == 201, sent.text
        world.move_to(case.status)
        # A moment of the conversation's life, as a live-agent platform would write it: another
        # offset, microseconds (answered in the wire form: UTC, milliseconds, truncated).
        sent_at = datetime.now(UTC) - timedelta(seconds=1)
        variables = {
            "sent_at": sent_at.astimezone(timezone(timedelta(hours=2))).isoformat(
                "T", "microseconds"
            ),
            "sent_at_wire": format_instant(sent_at),
            "conversation_id": world.conversation_id,
            "contact_id": world.contact_id,
            "org_id": world.org.org_id,
            "widget_id": world.org.widget_id,
            "other_widget_id": world.other_widget_id,
            "agent_id": world.org.agent_id,
            "api_key": world.org.api_key,
            "other_api_key": world.other.api_key,
            "agent_token": world.agent_token,
            "images": image_server.base,
            "base": "http://testserver",
            "missing_id": "00000000-0000-4000-8000-000000000000",
        }
        if dialect == "livechatai":
            variables.update(livechatai_bots(world))
        for step in case.before:
            response = _send(client, substitute(step["request"], variables))
            assert response.status_code < 300, response.text
            for name, key in step.get("save", {}).items():
                variables[name] = pick(_document(response), key)
        request = substitute(case.request, variables)
        response = _send(client, request)
        # "repeat_until": send again (at most 100 times) until the expected status comes.
        for _ in range(100 if case.expect.get("repeat_until") else 0):
            if response.status_code == case.expect["status"]:
                break
            response = _send(client, request)
        expect = substitute(case.expect, variables)
        assert response.status_code == expect["status"], response.text
        for name, value in expect.get("headers", {}).items():
            assert name in response.headers, f"missing header {name}"
            match(response.headers[name], value, f"header {name}")
        for name in expect.get("absent_headers", []):
            assert name not in response.headers, f"unexpected header {name}"
        _check(response, expect)
        for step in case.after:
            later = _send(client, substitute(step["request"], variables))
            wanted = substitute(step["expect"], variables)
            assert later.status_code == wanted["status"], later.text
            _check(later, wanted)


def _check(response: Any, expect: dict[str, Any]) -> None:
    if "events" in expect:
        assert response.headers["content-type"].startswith("text/event-stream"), response.text
        match_events(parse_events(response.text), expect["events"])
    else:
        match(response.json(), expect["body"])


def _document(response: Any) -> Any:
    """The answer's JSON, or of a stream the data of its last event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return parse_events(response.text)[-1]["data"]
    return response.json()


def _send(client: TestClient, request: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {"headers": request.get("headers", {})}
    if "json" in request:
        kwargs["content"] = orjson.dumps(request["json"])
        kwargs["headers"] = {"Content-Type": "application/json", **kwargs["headers"]}
    elif "body" in request:
        kwargs["content"] = request["body"].encode()
    elif "file" in request:
        name, text, media_type = request["file"]
        data = png(7) if text == "<png>" else text.encode()
        kwargs["files"] = {"file": (name, data, media_type)}
    return client.request(request["method"], request["path"], **kwargs)
