"""The agent dashboard (/app) in real chromium, on two gateway processes sharing PostgreSQL and
Redis: an admin and an agent on different nodes, a visitor in the widget on a shop's page.
Elements are found by role, label and text, as people find them; every wait is for something
a person would see (Playwright's expect), never a sleep."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bench.services import RedisServer, free_port
from gateway.handlers.orgs import OrgCredentials
from tests.browser.conftest import DOCS, UPDATE_SCREENSHOTS, PageServer, run_async, until
from tests.browser.test_widget import IDENTIFY, article, open_widget, send, user_hash
from tests.processes import chatgate
from tests.support import bearer, new_org, timeout

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct horse battery staple"


class Node:
    """One ``chatgate serve`` process on a fixed port, which a test can kill and start again."""

    def __init__(self, logs: Path, database_url: str, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        self.args = ["--database-url", database_url, "--redis-url", redis_url]
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=1)
        logs.mkdir(parents=True, exist_ok=True)

    def start(self) -> Node:
        with (
            (self.logs / "stdout.log").open("ab") as out,
            (self.logs / "stderr.log").open("ab") as err,
        ):
            self.process = subprocess.Popen(
                chatgate("serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args),
                stdout=out,
                stderr=err,
                env={**os.environ, "CHATGATE_LOG_LEVEL": "warning"},
            )
        until(self._ready, 30)
        return self

    def _ready(self) -> bool:
        assert self.process is not None and self.process.poll() is None, (
            self.logs / "stderr.log"
        ).read_text()[-3000:]
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL, like a crashed host."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout(10))

    def stop(self) -> None:
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout(30))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def redis_server(redis_binaries: None) -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A database URL whose objects live in a fresh schema, dropped afterwards (the suite's
    fixture of that name calls asyncio.run, which Playwright's running loop forbids here)."""
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:16]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(postgres_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_async(run(f"CREATE SCHEMA {schema}"))
    yield f"{postgres_server}?search_path={schema}"
    run_async(run(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str, redis_server: RedisServer) -> Iterator[list[Node]]:
    """Two gateway processes on one database and one Redis (the first one migrates)."""
    started = [Node(tmp_path / name, postgres_url, redis_server.url) for name in ("one", "two")]
    try:
        for node in started:
            node.start()
        yield started
    finally:
        for node in started:
            node.stop()


@pytest.fixture
def shop(nodes: list[Node]) -> Iterator[PageServer]:
    server = PageServer(nodes[0].url)
    yield server
    server.close()


@pytest.fixture
def org(nodes: list[Node], postgres_url: str, shop: PageServer) -> OrgCredentials:
    return run_async(new_org(postgres_url, "Acme", origins=(shop.origin,)))


@pytest.fixture
def api(nodes: list[Node], org: OrgCredentials) -> Iterator[httpx.Client]:
    """The org's API key, on node one."""
    with httpx.Client(base_url=nodes[0].url, headers=bearer(org.api_key), timeout=timeout(30)) as c:
        yield c


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.request.url, response.status_code, response.text)
    return response.json()


def tab(browser: Browser) -> Page:
    context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 760})
    context.set_default_timeout(timeout(15) * 1000)
    return context.new_page()


def invite(api: httpx.Client, email: str, role: str) -> str:
    """An invitation made with the API key: its token."""
    answer = ok(api.post("/v1/agents/invitations", json={"email": email, "role": role}))
    assert urlsplit(answer["invitation_url"]).path == "/app/invite"
    token: str = answer["token"]
    return token


def join(page: Page, node: Node, token: str, name: str) -> None:
    """Open an invitation link on ``node``, choose a name and password: signed in."""
    page.goto(f"{node.url}/app/invite#token={token}")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password and join").click()
    expect(page.get_by_role("list", name="Inbox")).to_be_visible()
    expect(page.get_by_role("banner").get_by_text(name, exact=True)).to_be_visible()


def sign_in(page: Page, node: Node, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{node.url}/app")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def inbox_item(page: Page, text: str) -> Any:
    return page.get_by_role("list", name="Inbox").get_by_role("link").filter(has_text=text)


def history(page: Page) -> Any:
    return page.get_by_role("region", name="Messages")


def shown_seqs(page: Page) -> list[int]:
    values = (
        history(page)
        .locator("li[data-seq]")
        .evaluate_all("items => items.map(item => Number(item.dataset.seq))")
    )
    return [int(v) for v in values]


def screenshot(page: Page, name: str, directory: Path) -> None:
    path = directory / f"dashboard-{name}.png"
    page.screenshot(path=path)
    if UPDATE_SCREENSHOTS:
        shutil.copyfile(path, DOCS / path.name)


@pytest.mark.timeout(timeout(300))
def test_dashboard_two_agents_on_two_nodes(
    browser: Browser,
    nodes: list[Node],
    org: OrgCredentials,
    api: httpx.Client,
    shop: PageServer,
    tmp_path: Path,
) -> None:
    """An admin joins and invites an agent on the other node; a visitor's conversation reaches
    both inboxes live; the agent sees the admin viewing and typing; the admin takes over,
    replies, writes a private note (which only staff see), and resolves with the keyboard;
    the agent's tab rides out a crash of its node and misses nothing."""
    one, two = nodes
    ana, bo, visitor = tab(browser), tab(browser), tab(browser)

    join(ana, one, invite(api, "ana@example.com", "admin"), "Ana")
    ana.get_by_role("link", name="Admin").click()
    ana.get_by_role("navigation", name="Admin").get_by_role("link", name="Agents").click()
    ana.get_by_label("Email").fill("bo@example.com")
    ana.get_by_role("button", name="Invite", exact=True).click()
    link = ana.get_by_test_id("invitation-url")
    expect(link).to_contain_text("/app/invite#token=")
    screenshot(ana, "admin", tmp_path)
    token = urlsplit(link.inner_text()).fragment.removeprefix("token=")
    join(bo, two, token, "Bo")  # on the other node
    ana.get_by_role("link", name="Inbox").click()

    # The shop knows who is signed in: the agents see her name (GET /v1/contacts/{id}).
    secret = ok(api.post(f"/v1/widgets/{org.widget_id}/identity-secret"))["identity_secret"]
    visitor.goto(shop.url(org.widget_id))
    visitor.wait_for_function(
        "() => window.Chatgate && typeof window.Chatgate.version === 'string'"
    )
    who = {"external_id": "u-7", "name": "Grace Hopper", "user_hash": user_hash(secret, "u-7")}
    assert visitor.evaluate(IDENTIFY, who) == "identified"
    open_widget(visitor)
    send(visitor, "Hello, where is my order?")
    for page in (ana, bo):
        expect(inbox_item(page, "Hello, where is my order?")).to_be_visible()
    cid = inbox_item(bo, "Hello, where is my order?").get_attribute("data-conversation")
    assert cid
    expect(bo).to_have_title("(1) chatgate")  # the unread count, in the tab's title
    visitor.get_by_role("button", name="Talk to a person").click()
    for page in (ana, bo):
        expect(page.locator(f"[data-conversation='{cid}']")).to_contain_text("Waiting")

    expect(bo.locator(f"[data-conversation='{cid}']")).to_contain_text("Grace Hopper")
    bo.locator(f"[data-conversation='{cid}']").click()
    expect(bo.get_by_role("heading", name="Grace Hopper", level=1)).to_be_visible()
    ana.locator(f"[data-conversation='{cid}']").click()
    expect(bo.get_by_role("main").get_by_text("Ana is viewing")).to_be_visible()
    expect(bo).to_have_title("chatgate")
    ana.get_by_label("Reply").press_sequentially("Hi, I am")
    expect(bo.get_by_role("main").get_by_text("Ana is typing…")).to_be_visible()
    ana.get_by_role("button", name="Take over").click()
    expect(ana.get_by_test_id("status")).to_have_text("Open")
    ana.get_by_label("Reply").fill("Hi, I am Ana: it left yesterday.")
    ana.get_by_label("Reply").press("Enter")
    expect(article(visitor, "Hi, I am Ana: it left yesterday.")).to_be_visible()
    expect(history(bo).get_by_text("Hi, I am Ana: it left yesterday.")).to_be_visible()
    expect(bo.get_by_role("main").get_by_text("Ana is typing…")).to_have_count(0)

    # A private note: Bo sees it; the visitor never does (widget, socket, REST).
    ana.get_by_label("Private note").check()
    ana.get_by_label("Note", exact=True).fill("VIP customer, be nice")
    ana.get_by_role("button", name="Add note").click()
    expect(history(bo).get_by_text("VIP customer, be nice")).to_be_visible()
    expect(history(ana).get_by_text("Private note", exact=True)).to_be_visible()
    ana.get_by_label("Private note").uncheck()
    ana.get_by_label("Reply").fill("Anything else?")
    ana.get_by_label("Reply").press("Enter")
    expect(article(visitor, "Anything else?")).to_be_visible()
    expect(visitor.get_by_text("VIP customer")).to_have_count(0)
    stored = visitor.evaluate(f"localStorage.getItem('chatgate:{org.widget_id}')")
    visitor_token = orjson.loads(stored)["token"]
    as_visitor = ok(
        httpx.get(
            f"{one.url}/v1/conversations/{cid}/messages",
            headers=bearer(visitor_token),
            params={"limit": 200},
        )
    )["data"]
    assert "Anything else?" in [m["content"] for m in as_visitor]
    assert not any("VIP" in m["content"] or m.get("private") for m in as_visitor)
    screenshot(ana, "conversation", tmp_path)

    # An attachment, uploaded into the conversation and sent with a reply.
    ana.get_by_label("Attach file").set_input_files(str(DOCS / "widget-open.png"))
    expect(ana.get_by_role("list", name="Attachments")).to_contain_text("widget-open.png")
    ana.get_by_label("Reply").fill("This is the parcel's label")
    ana.get_by_role("button", name="Send", exact=True).click()
    expect(history(bo).get_by_role("img", name="widget-open.png")).to_be_visible()
    expect(
        visitor.get_by_role("log", name="Messages").get_by_role("img", name="widget-open.png")
    ).to_be_visible()

    # Bo's node crashes: his tab says so, and catches up once the node is back.
    two.kill()
    expect(bo.get_by_text(re.compile("^Reconnecting"))).to_be_visible()
    ana.get_by_label("Reply").fill("Are you still there?")
    ana.get_by_label("Reply").press("Enter")
    expect(article(visitor, "Are you still there?")).to_be_visible()
    send(visitor, "Yes, still here")
    expect(history(ana).get_by_text("Yes, still here")).to_be_visible()
    two.start()
    expect(bo.get_by_text(re.compile("^Reconnecting"))).to_have_count(0, timeout=timeout(45) * 1000)
    expect(history(bo).get_by_text("Yes, still here")).to_be_visible()
    messages = ok(api.get(f"/v1/conversations/{cid}/messages", params={"limit": 200}))["data"]
    until(lambda: shown_seqs(bo) == [m["seq"] for m in messages], 15)

    # e resolves the open conversation (focus outside the reply box).
    ana.get_by_label("Reply").press("Escape")
    ana.keyboard.press("e")
    expect(ana.get_by_test_id("status")).to_have_text("Resolved")
    expect(bo.get_by_test_id("status")).to_have_text("Resolved")
    assert ok(api.get(f"/v1/conversations/{cid}"))["status"] == "resolved"
    ana.get_by_label("Status", exact=True).select_option("all")
    screenshot(ana, "inbox", tmp_path)


@pytest.mark.timeout(timeout(180))
def test_dashboard_agents_roles_lockout_and_csrf(
    browser: Browser, nodes: list[Node], org: OrgCredentials, api: httpx.Client
) -> None:
    """An agent gets no admin page and no admin route (403); wrong passwords lock the account;
    a form posted from another origin with the admin's session cookie is refused."""
    one, two = nodes
    bo = tab(browser)
    join(bo, two, invite(api, "bo@example.com", "agent"), "Bo")
    expect(bo.get_by_role("link", name="Admin")).to_have_count(0)
    bo.goto(f"{two.url}/app/admin/agents")
    expect(bo.get_by_role("heading", name="Not allowed")).to_be_visible()
    for path in ("/v1/agents", "/v1/api-keys", "/v1/widgets", "/v1/webhooks"):
        status = bo.evaluate(f"fetch('{path}').then(r => r.status)")
        assert status == 403, path
    created = bo.evaluate(
        """() => fetch('/v1/api-keys', {method: 'POST', headers: {'Content-Type':
        'application/json', 'X-CSRF-Token': document.cookie.match(/chatgate_csrf=([^;]+)/)[1]},
        body: JSON.stringify({name: 'mine'})}).then(r => r.status)"""
    )
    assert created == 403
    assert bo.evaluate("fetch('/v1/conversations').then(r => r.status)") == 200

    # The admin's session cookie goes along with a form from another origin: refused.
    ana = tab(browser)
    join(ana, one, invite(api, "ana@example.com", "admin"), "Ana")
    evil = f"http://127.0.0.1:{free_port()}/prize"  # another origin (its page is made up below)
    form = (
        f"<form method=post action='{one.url}/v1/api-keys'>"
        "<input name=name value=evil><button>Win a prize</button></form>"
    )
    ana.route(evil, lambda route: route.fulfill(body=form, content_type="text/html"))
    ana.goto(evil)
    ana.get_by_role("button", name="Win a prize").click()
    expect(ana.get_by_text("csrf_failed")).to_be_visible()
    names = [key.get("name") for key in ok(api.get("/v1/api-keys"))["data"]]
    assert "evil" not in names

    # Wrong passwords, then the right one: locked.
    locked = None
    for _ in range(30):
        answer = httpx.post(
            f"{one.url}/v1/auth/sign-in", json={"email": "bo@example.com", "password": "guess"}
        )
        assert answer.status_code in (401, 429), answer.text
        if answer.status_code == 429:
            locked = answer.json()["error"]["code"]
            break
    assert locked == "sign_in_locked"
    stranger = tab(browser)
    sign_in(stranger, two, "bo@example.com")
    expect(stranger.get_by_role("alert")).to_contain_text("locked")
    expect(stranger.get_by_role("list", name="Inbox")).to_have_count(0)
