"""The chat widget as a visitor uses it, in real chromium, on a page of another origin than the
gateway's. Elements are found only by role and accessible name (docs: the widget contract),
never by CSS class; the widget renders in an open Shadow DOM, which role locators pierce."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import statistics
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import BrowserContext, Dialog, Locator, Page, expect

from gateway.handlers.orgs import OrgCredentials
from tests.browser.conftest import (
    REPORT,
    Gateway,
    NetworkLink,
    PageServer,
    Screenshots,
    Staff,
    until,
)
from tests.support import timeout

pytestmark = pytest.mark.browser

#: The bundle's budget: what a customer's visitors download, gzipped (35 KB, read strictly).
WIDGET_BUDGET_BYTES = 35_000


def launcher(page: Page) -> Locator:
    return page.get_by_role("button", name="Open chat", exact=True)


def messages(page: Page) -> Locator:
    return page.get_by_role("log", name="Messages")


def article(page: Page, text: str, sender: str | None = None) -> Locator:
    """The message that contains ``text`` (from ``sender``, by its accessible name)."""
    found = messages(page).get_by_role("article", name=sender, exact=True) if sender else None
    return (found or messages(page).get_by_role("article")).filter(has_text=text)


def open_widget(page: Page) -> None:
    """Open the panel (unless it is already open, as after a reload it may be)."""
    dialog = page.get_by_role("dialog", name="Chat with us")
    expect(launcher(page).or_(dialog).first).to_be_visible()
    if not dialog.is_visible():
        launcher(page).click()
    expect(dialog).to_be_visible()


def send(page: Page, text: str) -> None:
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def visit(page: Page, pages: PageServer, org: OrgCredentials) -> None:
    page.goto(pages.url(org.widget_id))


def start_conversation(page: Page, staff: Staff, text: str) -> dict[str, Any]:
    """Open the widget, write ``text``, and return the conversation it started."""
    open_widget(page)
    send(page, text)
    expect(article(page, text, "You")).to_have_count(1)
    conversation = staff.the_conversation()
    until(lambda: staff.messages(conversation["id"]), 15)
    return conversation


def test_widget_visitor_bot_and_agent_conversation(
    page: Page,
    shop_pages: PageServer,
    org: OrgCredentials,
    staff: Staff,
    screenshots: Screenshots,
) -> None:
    """The visitor writes, the bot answers, the visitor asks for a person, and an agent's REST
    reply appears. There is no bot yet (issue 15): its answer is posted through REST with the
    API key as role "bot", so only the final message is checked, not its streaming."""
    visit(page, shop_pages, org)
    expect(launcher(page)).to_be_visible()
    screenshots.save(page, "closed")
    open_widget(page)
    screenshots.save(page, "open")

    conversation = start_conversation(page, staff, "Hello, where is my order?")
    staff.say(conversation["id"], "It left the warehouse **yesterday**.", role="bot")
    answer = article(page, "It left the warehouse yesterday.", "Bot")
    expect(answer).to_be_visible()
    expect(answer.get_by_text("yesterday", exact=True)).to_be_visible()
    screenshots.save(page, "streaming")

    page.get_by_role("button", name="Talk to a person").click()
    until(
        lambda: (
            staff.call("GET", f"/v1/conversations/{conversation['id']}")["status"]
            == "agent_requested"
        ),
        15,
    )
    staff.say(conversation["id"], "Hi, I am Sam from the shop: let me check.")
    agent = staff.call("GET", f"/v1/agents/{org.agent_id}")["name"]
    sender = re.compile(f"^(Agent|{re.escape(agent)})$")
    reply = messages(page).get_by_role("article", name=sender)
    expect(reply.filter(has_text="Hi, I am Sam from the shop: let me check.")).to_have_count(1)
    expect(article(page, "A team member has joined the conversation.", "System")).to_be_visible()


def test_widget_catches_up_after_going_offline(
    context: BrowserContext,
    page: Page,
    network: NetworkLink,
    shop_pages: PageServer,
    org: OrgCredentials,
    staff: Staff,
    screenshots: Screenshots,
) -> None:
    """Offline while the agent sends 5 messages: once back, all 5 show once, in order, and the
    message typed while offline is sent once. The page reaches the gateway through a link the
    test cuts, as well as going offline in the browser, since chromium's offline emulation
    leaves open sockets running."""
    page.goto(shop_pages.url(org.widget_id, gateway=network.url))
    conversation = start_conversation(page, staff, "Are you there?")
    staff.hand_to_agents(conversation["id"])
    # Live before the cut: the widget's socket is up.
    staff.say(conversation["id"], "An agent is here")
    expect(article(page, "An agent is here")).to_be_visible()

    context.set_offline(True)
    network.cut()
    expect(
        page.get_by_role("status").filter(has_text=re.compile(r"^You are offline"))
    ).to_be_visible()
    for n in range(1, 6):
        staff.say(conversation["id"], f"Agent message {n} of 5")
    send(page, "Typed while offline")
    expect(article(page, "Typed while offline", "You")).to_be_visible()
    screenshots.save(page, "offline")

    network.restore()
    context.set_offline(False)
    replies = messages(page).get_by_role("article").filter(has_text=re.compile(r"Agent message"))
    expect(replies).to_have_count(5)
    texts = [re.search(r"Agent message \d of 5", t).group(0) for t in replies.all_inner_texts()]  # type: ignore[union-attr]
    assert texts == [f"Agent message {n} of 5" for n in range(1, 6)]

    def sent_offline() -> list[dict[str, Any]]:
        return [
            m for m in staff.messages(conversation["id"]) if m["content"] == "Typed while offline"
        ]

    until(sent_offline, 15)
    # Another message after it: by the time it has arrived, a duplicate send would have too.
    send(page, "Back online")
    until(
        lambda: any(m["content"] == "Back online" for m in staff.messages(conversation["id"])), 15
    )
    assert len(sent_offline()) == 1
    expect(article(page, "Typed while offline", "You")).to_have_count(1)
    expect(replies).to_have_count(5)


def test_widget_keeps_conversation_across_reload_and_tabs(
    context: BrowserContext,
    page: Page,
    shop_pages: PageServer,
    org: OrgCredentials,
    staff: Staff,
) -> None:
    """A reload keeps the conversation, and a second tab shows the same messages as the first."""
    visit(page, shop_pages, org)
    conversation = start_conversation(page, staff, "First visit")
    staff.hand_to_agents(conversation["id"])
    staff.say(conversation["id"], "Welcome back anytime")
    expect(article(page, "Welcome back anytime")).to_be_visible()

    page.reload()
    open_widget(page)
    expect(article(page, "First visit", "You")).to_have_count(1)
    expect(article(page, "Welcome back anytime")).to_have_count(1)

    other = context.new_page()
    visit(other, shop_pages, org)
    open_widget(other)
    expect(article(other, "First visit", "You")).to_have_count(1)
    staff.say(conversation["id"], "Seen in both tabs")
    send(other, "Sent from the second tab")
    for tab in (page, other):
        expect(article(tab, "Seen in both tabs")).to_have_count(1)
        expect(article(tab, "Sent from the second tab", "You")).to_have_count(1)
    assert len(staff.conversations()) == 1


#: Each payload sets ``window.__pwned`` and opens a dialog if it ever runs.
XSS_PAYLOADS = [
    "img payload <img src=x onerror=\"window.__pwned='img';alert('img')\"> end",
    "link payload [x](javascript:window.__pwned='link';alert('link')) end",
    "script payload <script>window.__pwned='script';alert('script')</script> end",
]


def test_widget_renders_xss_payloads_inert(
    page: Page, shop_pages: PageServer, org: OrgCredentials, staff: Staff
) -> None:
    """Markup in messages, the agent's or the visitor's own, renders inert: no script runs, no
    dialog opens, and the text is shown."""
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    visit(page, shop_pages, org)
    conversation = start_conversation(page, staff, XSS_PAYLOADS[0])
    staff.hand_to_agents(conversation["id"])
    for payload in XSS_PAYLOADS:
        staff.say(conversation["id"], payload)
    staff.say(conversation["id"], "A safe link: [help](https://shop.example/help)")
    safe = messages(page).get_by_role("link", name="help", exact=True)
    expect(safe).to_have_attribute("href", "https://shop.example/help")
    expect(safe).to_have_attribute("target", "_blank")
    expect(safe).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    for kind in ("img", "link", "script"):
        expect(
            article(page, f"{kind} payload", "You" if kind == "img" else None).first
        ).to_be_visible()
    expect(messages(page).get_by_role("article").filter(has_text="payload")).to_have_count(4)

    links = messages(page).get_by_role("link", name="x", exact=True)
    for index in range(links.count()):
        href = links.nth(index).get_attribute("href") or ""
        assert not href.strip().lower().startswith("javascript:"), href
        links.nth(index).click()
    # Let a failed image's error event and any click handler run before looking.
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 300))")
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []


def show_alert(page: Page) -> None:
    """Open the widget if its alert is not in sight already (it may show on the panel only)."""
    alert = page.get_by_role("alert")
    expect(launcher(page).or_(alert).first).to_be_visible()
    if not alert.is_visible():
        launcher(page).click()


def test_widget_refuses_a_disallowed_origin(
    page: Page, stranger_pages: PageServer, org: OrgCredentials, staff: Staff
) -> None:
    """On a page whose origin the widget does not allow, no visitor token is stored and the
    widget shows its error."""
    visit(page, stranger_pages, org)
    show_alert(page)
    expect(page.get_by_role("alert")).to_have_text("This chat is not available here.")
    stored = page.evaluate("(key) => window.localStorage.getItem(key)", f"chatgate:{org.widget_id}")
    assert stored is None or "token" not in stored
    assert staff.conversations() == []


def user_hash(secret: str, external_id: str) -> str:
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


IDENTIFY = """async (who) => {
  try { await window.Chatgate.identify(who); return "identified"; }
  catch (error) { return "refused: " + error; }
}"""


def test_widget_identify_refuses_a_wrong_hash_and_links_a_right_one(
    page: Page, shop_pages: PageServer, org: OrgCredentials, staff: Staff
) -> None:
    """identify() with a wrong user_hash is refused with the error shown; with the right one,
    the visitor's conversation belongs to the identified contact."""
    secret = staff.call("POST", f"/v1/widgets/{org.widget_id}/identity-secret")["identity_secret"]
    visit(page, shop_pages, org)
    page.wait_for_function("() => window.Chatgate && typeof window.Chatgate.version === 'string'")

    wrong = {"external_id": "user-42", "name": "Lee", "user_hash": user_hash(secret, "user-41")}
    assert page.evaluate(IDENTIFY, wrong).startswith("refused")
    show_alert(page)
    expect(page.get_by_role("alert")).to_have_text("This chat is not available here.")

    right = {**wrong, "user_hash": user_hash(secret, "user-42")}
    assert page.evaluate(IDENTIFY, right) == "identified"
    conversation = start_conversation(page, staff, "Signed in and asking")
    known = staff.call("POST", "/v1/conversations", json={"contact": {"external_id": "user-42"}})
    assert conversation["contact_id"] == known["contact_id"]


def test_widget_counts_unread_messages_while_closed(
    page: Page, shop_pages: PageServer, org: OrgCredentials, staff: Staff
) -> None:
    """With the panel closed, the launcher shows how many messages are unread; opening the
    panel clears the count."""
    visit(page, shop_pages, org)
    conversation = start_conversation(page, staff, "I will wait")
    staff.hand_to_agents(conversation["id"])
    staff.say(conversation["id"], "First answer")
    expect(article(page, "First answer")).to_be_visible()
    page.get_by_role("button", name="Close chat").click()
    expect(launcher(page)).to_be_visible()
    staff.say(conversation["id"], "Are you still there?")
    staff.say(conversation["id"], "Here is the tracking link")
    expect(page.get_by_role("status", name=re.compile(r"^2 unread messages$"))).to_be_visible()
    expect(launcher(page)).to_be_visible()
    launcher(page).click()
    expect(article(page, "Here is the tracking link")).to_be_visible()
    expect(page.get_by_role("status", name=re.compile(r"unread messages?$"))).to_have_count(0)


def test_widget_shows_when_the_agent_has_read(
    page: Page, shop_pages: PageServer, org: OrgCredentials, staff: Staff
) -> None:
    """Once the agent has read the visitor's message, the message says "Read"."""
    visit(page, shop_pages, org)
    conversation = start_conversation(page, staff, "Please read me")
    sent = article(page, "Please read me", "You")
    expect(sent).not_to_contain_text("Read")
    seq = staff.messages(conversation["id"])[-1]["seq"]
    staff.call("POST", f"/v1/conversations/{conversation['id']}/read", json={"seq": seq})
    expect(sent).to_contain_text("Read")


def test_widget_sends_an_image(
    page: Page, shop_pages: PageServer, org: OrgCredentials, staff: Staff
) -> None:
    """The visitor attaches an image: the widget shows its preview, and the agent gets the
    message with the file attached."""
    visit(page, shop_pages, org)
    conversation = start_conversation(page, staff, "Here is a picture of the parcel")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach an image").click()
    chooser.value.set_files(str(Path(__file__).resolve().parents[2] / "docs/widget-open.png"))
    expect(messages(page).get_by_role("img", name="widget-open.png")).to_be_visible()

    def attached() -> list[dict[str, Any]]:
        return [m for m in staff.messages(conversation["id"]) if m.get("attachments")]

    [message] = until(attached, 15)
    assert message["role"] == "visitor"
    assert message["attachments"][0]["name"] == "widget-open.png"


def test_widget_speaks_french_when_asked(
    page: Page, shop_pages: PageServer, org: OrgCredentials
) -> None:
    """With data-language="fr", the widget's own words are French."""
    page.goto(shop_pages.url(org.widget_id, language="fr"))
    page.get_by_role("button", name="Ouvrir la discussion", exact=True).click()
    expect(page.get_by_role("dialog", name="Discutons")).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    expect(page.get_by_role("button", name="Envoyer", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Parler à une personne")).to_be_visible()
    expect(page.get_by_role("button", name="Fermer la discussion")).to_be_visible()


def test_widget_launcher_shows_soon_after_the_script_loads(
    page: Page, shop_pages: PageServer, org: OrgCredentials
) -> None:
    """The launcher shows once the script has loaded; how long after is measured and reported
    (the goal is 100 ms on a local page), not asserted."""
    delays = []
    for _ in range(5):
        visit(page, shop_pages, org)
        expect(launcher(page)).to_be_visible()
        marks = page.wait_for_function(
            "() => window.__marks.launcherShown !== undefined && window.__marks"
        ).json_value()
        delays.append(marks["launcherShown"] - marks["scriptLoaded"])
    REPORT["launcher shown after widget.js loaded"] = (
        f"median {statistics.median(delays):.0f} ms of 5 page loads"
        f" ({', '.join(f'{d:.0f}' for d in delays)}; goal: 100 ms; not asserted)"
    )


def test_widget_script_within_size_budget(gateway: Gateway) -> None:
    """widget.js, as the gateway serves it, is at most 35 KB gzipped."""
    script = httpx.get(f"{gateway.url}/widget.js", timeout=timeout(30))
    assert script.status_code == 200, script.status_code
    size = len(gzip.compress(script.content, compresslevel=9))
    REPORT["widget.js"] = f"{len(script.content)} bytes, {size} bytes gzipped (budget 35 KB)"
    assert size <= WIDGET_BUDGET_BYTES
