"""``/v1/bots``: an org's bots through the admin API, and the bot a widget and a
conversation name."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from protocol.bots import DEFAULT_HANDOFF_PHRASES
from tests.support import bearer

LLM = {"base_url": "https://llm.example/v1", "model": "small", "api_key": "sk-very-secret"}


def create(client: TestClient, org: OrgCredentials, **body: object) -> dict[str, object]:
    answer = client.post("/v1/bots", json={"name": "Helper", **body}, headers=bearer(org.api_key))
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_bot_create_get_list_update_delete(client: TestClient, org: OrgCredentials) -> None:
    """A knowledge bot gets the documented defaults; get and list show what create answered;
    PATCH changes only what it is sent; DELETE removes it for good."""
    key = bearer(org.api_key)
    bot = create(client, org)
    assert bot["kind"] == "knowledge"
    assert bot["confidence_threshold"] == 0.3
    assert bot["handoff_after"] == 2
    assert bot["handoff_phrases"] == list(DEFAULT_HANDOFF_PHRASES)
    assert bot["handoff_on_failure"] is True and bot["timeout_seconds"] == 20
    assert bot["unknown_answer"] and bot["fallback_answer"]
    assert bot["llm"] is None and bot["webhook"] is None and bot["secret"] is None
    url = f"/v1/bots/{bot['id']}"
    assert client.get(url, headers=key).json() == bot
    assert client.get("/v1/bots", headers=key).json() == {"data": [bot]}
    changed = client.patch(
        url, json={"handoff_after": 0, "handoff_phrases": ["operator"]}, headers=key
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["handoff_after"] == 0 and after["handoff_phrases"] == ["operator"]
    assert {
        k: v
        for k, v in after.items()
        if k not in ("handoff_after", "handoff_phrases", "updated_at")
    } == {
        k: v for k, v in bot.items() if k not in ("handoff_after", "handoff_phrases", "updated_at")
    }
    deleted = client.delete(url, headers=key)
    assert deleted.status_code == 200 and deleted.json() == {"id": bot["id"], "deleted": True}
    assert client.get(url, headers=key).status_code == 404
    assert client.delete(url, headers=key).status_code == 404


def test_llm_bot_key_is_write_only(client: TestClient, org: OrgCredentials) -> None:
    """An llm bot's API key is never returned: reads say api_key_set; null clears it."""
    key = bearer(org.api_key)
    bot = create(client, org, kind="llm", llm=LLM)
    assert bot["llm"] == {
        "base_url": LLM["base_url"],
        "model": "small",
        "system_prompt": None,
        "api_key_set": True,
    }
    url = f"/v1/bots/{bot['id']}"
    for text in (
        str(bot),
        client.get(url, headers=key).text,
        client.get("/v1/bots", headers=key).text,
    ):
        assert "sk-very-secret" not in text
    changed = client.patch(url, json={"llm": {"model": "large", "api_key": None}}, headers=key)
    assert changed.status_code == 200, changed.text
    assert changed.json()["llm"] == {**bot["llm"], "model": "large", "api_key_set": False}


def test_webhook_bot_secret_is_shown_once(client: TestClient, org: OrgCredentials) -> None:
    """A webhook bot's signing secret is in the answer that created it, never in a read; a
    new url keeps it, a given secret replaces it and is shown in that answer."""
    key = bearer(org.api_key)
    bot = create(client, org, kind="webhook", webhook={"url": "https://bot.example/in"})
    secret = bot["secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_")
    assert bot["webhook"] == {"url": "https://bot.example/in"}
    url = f"/v1/bots/{bot['id']}"
    assert client.get(url, headers=key).json()["secret"] is None
    assert secret not in client.get("/v1/bots", headers=key).text
    moved = client.patch(url, json={"webhook": {"url": "https://bot.example/v2"}}, headers=key)
    assert moved.json()["secret"] is None
    assert moved.json()["webhook"] == {"url": "https://bot.example/v2"}
    given = "whsec_" + "A" * 32
    rotated = client.patch(
        url, json={"webhook": {"url": "https://bot.example/v2", "secret": given}}, headers=key
    )
    assert rotated.json()["secret"] == given


def test_bot_kind_and_its_settings_go_together(client: TestClient, org: OrgCredentials) -> None:
    """llm needs llm settings and webhook a url; settings of another kind are refused, with
    the field named; switching kind needs the new kind's settings and drops the old ones."""
    key = bearer(org.api_key)
    cases = [
        ({"kind": "llm"}, "$.llm"),
        ({"kind": "webhook"}, "$.webhook"),
        ({"kind": "knowledge", "llm": LLM}, "$.llm"),
        ({"handoff_phrases": ["human", "human"]}, "$.handoff_phrases[1]"),
        ({"handoff_phrases": ["  "]}, "$.handoff_phrases[0]"),
        ({"confidence_threshold": 1.5}, "$.confidence_threshold"),
        ({"timeout_seconds": 0}, "$.timeout_seconds"),
    ]
    for body, path in cases:
        answer = client.post("/v1/bots", json={"name": "x", **body}, headers=key)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == "validation_error"
        assert answer.json()["error"]["details"]["path"] == path, body
    bot = create(client, org, kind="llm", llm=LLM)
    url = f"/v1/bots/{bot['id']}"
    refused = client.patch(url, json={"kind": "webhook"}, headers=key)
    assert refused.status_code == 422 and refused.json()["error"]["details"]["path"] == "$.webhook"
    switched = client.patch(
        url, json={"kind": "webhook", "webhook": {"url": "https://bot.example/in"}}, headers=key
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["llm"] is None and switched.json()["secret"].startswith("whsec_")
    back = client.patch(url, json={"kind": "llm", "llm": {"model": "m"}}, headers=key)
    assert back.status_code == 422 and back.json()["error"]["details"]["path"] == "$.llm.base_url"


def test_bots_are_per_org_and_need_an_api_key(
    client: TestClient, org: OrgCredentials, other_org: OrgCredentials
) -> None:
    """Another org's bot answers 404 everywhere; a visitor token may not administer bots."""
    bot = create(client, org)
    other = bearer(other_org.api_key)
    url = f"/v1/bots/{bot['id']}"
    assert client.get(url, headers=other).status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=other).status_code == 404
    assert client.delete(url, headers=other).status_code == 404
    assert client.get("/v1/bots", headers=other).json() == {"data": []}
    widget = client.post("/v1/widgets", json={"name": "w"}, headers=bearer(org.api_key)).json()
    session = client.post(f"/v1/widgets/{widget['id']}/sessions", json={}).json()
    visitor = client.get("/v1/bots", headers=bearer(session["token"]))
    assert visitor.status_code == 403


def test_widget_names_a_bot_of_its_org(
    client: TestClient, org: OrgCredentials, other_org: OrgCredentials
) -> None:
    """PATCH /v1/widgets bot_id must name a bot of the widget's org (404 at $.bot_id);
    null takes it off; deleting the bot takes it off too."""
    key = bearer(org.api_key)
    bot = create(client, org)
    foreign = create(client, other_org)
    widget = client.post("/v1/widgets", json={"name": "w"}, headers=key).json()
    assert widget["bot_id"] is None
    url = f"/v1/widgets/{widget['id']}"
    for wrong in (foreign["id"], str(uuid.uuid4())):
        refused = client.patch(url, json={"bot_id": wrong}, headers=key)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["details"] == {"path": "$.bot_id"}
    named = client.patch(url, json={"bot_id": bot["id"]}, headers=key)
    assert named.status_code == 200 and named.json()["bot_id"] == bot["id"]
    assert client.patch(url, json={"bot_id": None}, headers=key).json()["bot_id"] is None
    client.patch(url, json={"bot_id": bot["id"]}, headers=key)
    client.delete(f"/v1/bots/{bot['id']}", headers=key)
    assert client.get(url, headers=key).json()["bot_id"] is None
    created = client.post("/v1/widgets", json={"name": "w2", "bot_id": foreign["id"]}, headers=key)
    assert created.status_code == 404


def test_conversation_records_its_bot(client: TestClient, org: OrgCredentials) -> None:
    """A conversation starts with its widget's bot (visitor or API key) or the bot an API
    key names; a visitor cannot name one; an unknown bot is 404 at $.bot_id."""
    key = bearer(org.api_key)
    bot, other = create(client, org), create(client, org, name="Other")
    widget = client.post("/v1/widgets", json={"name": "w", "bot_id": bot["id"]}, headers=key)
    widget_id = widget.json()["id"]
    session = client.post(f"/v1/widgets/{widget_id}/sessions", json={}).json()
    visitor = bearer(session["token"])
    started = client.post("/v1/conversations", json={}, headers=visitor)
    assert started.status_code == 201 and started.json()["bot_id"] == bot["id"]
    refused = client.post("/v1/conversations", json={"bot_id": other["id"]}, headers=visitor)
    assert refused.status_code == 403
    by_key = client.post("/v1/conversations", json={"widget_id": widget_id}, headers=key)
    assert by_key.json()["bot_id"] == bot["id"]
    named = client.post(
        "/v1/conversations", json={"widget_id": widget_id, "bot_id": other["id"]}, headers=key
    )
    assert named.json()["bot_id"] == other["id"]
    alone = client.post("/v1/conversations", json={"bot_id": other["id"]}, headers=key)
    assert alone.json()["bot_id"] == other["id"] and alone.json()["widget_id"] is None
    assert client.post("/v1/conversations", json={}, headers=key).json()["bot_id"] is None
    unknown = client.post("/v1/conversations", json={"bot_id": str(uuid.uuid4())}, headers=key)
    assert unknown.status_code == 404 and unknown.json()["error"]["details"] == {"path": "$.bot_id"}


def test_llm_bot_base_url_defaults_to_the_gateways_and_is_vetted(
    database_url: str, org: OrgCredentials
) -> None:
    """Without CHATGATE_LLM_BASE_URL an llm bot must name its base_url; with it, it may
    leave it out (null: the gateway's). A loopback base_url is refused unless
    CHATGATE_LLM_ALLOWED_HOSTS allows the host."""
    key = bearer(org.api_key)
    local = {"model": "m", "base_url": "http://127.0.0.1:11434/v1"}
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret-key-of-decent-length!",
        llm_base_url="https://models.example/v1",
    )
    with TestClient(create_app(settings)) as client:
        bot = client.post(
            "/v1/bots", json={"name": "AI", "kind": "llm", "llm": {"model": "m"}}, headers=key
        )
        assert bot.status_code == 201, bot.text
        assert bot.json()["llm"]["base_url"] is None
        refused = client.post(
            "/v1/bots", json={"name": "AI", "kind": "llm", "llm": local}, headers=key
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["details"]["path"] == "$.llm.base_url"
    allowing = Settings(
        database_url=database_url,
        secret_key="test-secret-key-of-decent-length!",
        llm_allowed_hosts="127.0.0.1",
    )
    with TestClient(create_app(allowing)) as client:
        alone = client.post(
            "/v1/bots", json={"name": "AI", "kind": "llm", "llm": {"model": "m"}}, headers=key
        )
        assert alone.status_code == 422
        assert alone.json()["error"]["details"]["path"] == "$.llm.base_url"
        ok = client.post("/v1/bots", json={"name": "AI", "kind": "llm", "llm": local}, headers=key)
        assert ok.status_code == 201, ok.text
        assert ok.json()["llm"]["base_url"] == local["base_url"]
