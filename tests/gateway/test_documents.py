"""The documents the gateway serves: /openapi.json covers every route, a 405 lists every method
of its path, /docs works offline, and /asyncapi.json is valid AsyncAPI 3.0 that real frames
match. (tests/gateway/test_openapi_fuzz.py holds the server to the OpenAPI document.)"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx2 as httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.http.asyncapi import CLOSE_CODES
from gateway.http.docs import ASSETS
from gateway.settings import Settings
from protocol.codes import CloseCode
from protocol.events import EventName
from protocol.frames import OPS
from tests.support import SocketClient, bearer, live_server, new_org

ASYNCAPI_SCHEMA = Path(__file__).parent / "asyncapi" / "asyncapi-3.0.0.schema.json"
METHODS = ("get", "post", "patch", "delete", "put")
#: A value for each path parameter that the routes accept.
PARAMETERS = {"sha256": "0" * 64, "name": "init.js"}


def _filled(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: PARAMETERS.get(m[1], str(uuid.uuid4())), path)


def test_documents_openapi_describes_every_route(settings: Settings) -> None:
    """Every HTTP route of the app is in /openapi.json with its methods, and nothing else is."""
    app = create_app(settings)
    routed = {
        (re.sub(r"{(\w+):\w+}", r"{\1}", route.path), method.lower())  # OpenAPI has no converters
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == routed
    assert document["openapi"] == "3.1.0"


def test_documents_405_lists_every_method_of_the_path(client: TestClient) -> None:
    """A method a path lacks answers 405 with Allow naming each method it has (and HEAD)."""
    document = client.get("/openapi.json").json()
    for path, item in document["paths"].items():
        documented = {method.upper() for method in item}
        missing = next(m.upper() for m in METHODS if m not in item)
        response = client.request(missing, _filled(path))
        assert response.status_code == 405, (path, response.text)
        assert response.json()["error"]["code"] == "method_not_allowed"
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == documented | ({"HEAD"} if "GET" in documented else set()), path


def test_documents_405_on_a_literal_path_that_a_parameter_also_matches(
    client: TestClient,
) -> None:
    """``/v1/agents/presence`` answers every method it lacks itself (405, Allow: its own),
    never as the agent id of ``/v1/agents/{agent_id}``."""
    for method in ("PATCH", "DELETE", "PUT", "POST", "OPTIONS"):
        response = client.request(method, "/v1/agents/presence")
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "GET, HEAD"


def test_documents_dialects_under_their_vendors(client: TestClient) -> None:
    """Each dialect route is tagged with its vendor, with the vendor's credentials and errors."""
    document = client.get("/openapi.json").json()
    operations = {
        (path, method): spec
        for path, item in document["paths"].items()
        for method, spec in item.items()
    }
    bland = operations[("/v1/widget/{widget_id}/threads/{thread_id}/webhook", "post")]
    assert bland["tags"] == ["Bland"] and bland["security"] == [{"blandApiKey": []}]
    scheme = document["components"]["securitySchemes"]["blandApiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "authorization"}
    assert "THREAD_ENDED" in json.dumps(document["components"]["schemas"]["BlandError"])
    for path, vendor in (
        ("/api/v1/conversations/{conversation_id}/messages", "Pingback"),
        ("/api/v1/conversations/{conversation_id}/upload", "Pingback"),
        ("/conversations/{conversation_id}/messages", "Awardee"),
        ("/conversations/{conversation_id}", "Awardee"),
    ):
        for method, spec in document["paths"][path].items():
            assert spec["tags"] == [vendor], (method, path)
            errors = [s for s in spec["responses"] if s >= "400" and s != "408"]
            assert errors and all(
                spec["responses"][s]["content"]["application/json"]["schema"]["$ref"].endswith(
                    f"{vendor}Error"
                )
                for s in errors
            )
    assert {tag["name"] for tag in document["tags"]} >= {"Bland", "Pingback", "Awardee"}


def test_documents_openapi_declares_what_validation_enforces(client: TestClient) -> None:
    """The rules a schema cannot infer from types are in it: keys, ids, text, counts."""
    document = client.get("/openapi.json").json()
    send = document["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    key = next(p for p in send["parameters"] if p["name"] == "Idempotency-Key")
    assert re.fullmatch(key["schema"]["pattern"], "abc-123_~") and not re.fullmatch(
        key["schema"]["pattern"], "with space"
    )
    assert send["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    body = send["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["content"]["pattern"] == "^[^\\x00]*$"
    assert body["allOf"][0]["anyOf"][1]["properties"]["attachments"] == {"minItems": 1}
    upload = document["paths"]["/v1/conversations/{conversation_id}/files"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"]["minLength"] == 1 and form["maxProperties"] == 11
    assert {"400", "401", "403", "404", "409", "413", "422", "429", "503"} <= set(send["responses"])


def test_documents_docs_page_loads_only_from_the_gateway(client: TestClient) -> None:
    """/docs and every file it references come from the gateway: no other host is named."""
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references and not [r for r in references if "//" in r or ":" in r]
    for reference in references:
        url = urljoin("http://testserver/docs", reference)
        response = client.get(url)
        assert response.status_code == 200, reference
        assert response.content, reference
    assets = {r.rsplit("/", 1)[-1] for r in references if r.startswith("docs/assets/")}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "init.js"} <= assets <= set(ASSETS)
    init = client.get("/docs/assets/init.js").text
    assert "validatorUrl: null" in init and 'url: "openapi.json"' in init
    assert client.get("/docs/assets/nope.js").status_code == 404


def test_documents_asyncapi_is_valid_asyncapi_3(client: TestClient) -> None:
    """/asyncapi.json validates against the official AsyncAPI 3.0.0 JSON Schema."""
    document = client.get("/asyncapi.json").json()
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(document)
    assert document["asyncapi"] == "3.0.0"
    for ref in re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(document)):
        node: Any = document
        for part in ref.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]


def test_documents_asyncapi_covers_the_protocol(client: TestClient) -> None:
    """Every op, event and close code of protocol/ is in /asyncapi.json."""
    document = client.get("/asyncapi.json").json()
    channel = document["channels"]["socket"]
    assert channel["address"] == "/ws"
    assert set(OPS) <= set(document["operations"])
    assert {f"event.{e.value}" for e in EventName} <= set(channel["messages"])
    assert set(CLOSE_CODES) == set(CloseCode)
    assert set(channel["x-close-codes"]) == {str(c.value) for c in CloseCode}


async def test_documents_asyncapi_matches_real_frames(tmp_path: Path) -> None:
    """Frames of a real socket session, both ways, match their messages in /asyncapi.json."""
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    org: OrgCredentials = await new_org(database_url, "Docs")
    with live_server(create_app(Settings(database_url=database_url))) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            document = (await http.get("/asyncapi.json")).json()
            conversation = (
                await http.post("/v1/conversations", json={}, headers=bearer(org.api_key))
            ).json()
        check = _validator(document)
        socket = await SocketClient.open(url)
        try:
            cid = conversation["id"]
            sent = [
                ("hello", {"token": org.api_key}),
                ("subscribe", {"conversation_id": cid}),
                ("message.send", {"conversation_id": cid, "content": "hi", "role": "bot"}),
                ("typing", {"conversation_id": cid, "on": True}),
                ("read", {"conversation_id": cid, "seq": 1.0}),
                ("ping", {}),
                ("subscribe", {"inbox": True}),
                ("unsubscribe", {"inbox": True}),
            ]
            for op, fields in sent:
                frame = {"op": op, "ref": op, **fields}
                check(op, frame)
                reply = await socket.request(op, **fields)
                assert reply["ok"], reply
                check(f"{op}.reply", reply)
            refused = await socket.request("message.send", conversation_id=cid, content="")
            check("error", refused)
            with pytest.raises(jsonschema.ValidationError):
                check("message.send", {"op": "message.send", "conversation_id": cid})
            events = await socket.wait_events(1, name="new_message")
            for event in socket.events:
                check(f"event.{event['event']}", event)
            assert events[0]["data"]["content"] == "hi"
        finally:
            await socket.aclose()


def _validator(document: dict[str, Any]) -> Any:
    """``check(name, frame)``: validate ``frame`` against the payload of message ``name``."""
    resource = Resource.from_contents(document, default_specification=DRAFT7)
    registry = Registry().with_resource("urn:asyncapi", resource)
    messages = document["channels"]["socket"]["messages"]

    def check(name: str, frame: dict[str, Any]) -> None:
        payload = {"$ref": f"urn:asyncapi#/channels/socket/messages/{_escape(name)}/payload"}
        jsonschema.Draft7Validator(payload, registry=registry).validate(frame)
        assert name in messages

    return check


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
