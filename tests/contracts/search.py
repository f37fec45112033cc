"""The ``Store`` contract, search: conversations found by contact and message text on the
store's own full-text index, the same on every backend.

Mixed into ``StoreContract``; the backend's test class provides the ``store`` fixture.
"""

from __future__ import annotations

from protocol.states import Role
from storage.base import Store
from storage.fulltext import words
from storage.models import NewMessage
from tests.contracts.rows import add_conversation, add_org, contact_row, plan_of, visitor_says

__all__ = ["SearchContract"]

#: What people type into a search box, FTS operators and all; none may raise.
HOSTILE = [
    '"',
    "*",
    "ana*",
    "NEAR(a b)",
    "a OR b",
    "NOT x",
    "-x",
    "x:*",
    "a & b | !c",
    "(((",
    "'; DROP TABLE messages; --",
    "^start",
    "a <-> b",
    "col:value",
    "\u00e9\u00e8 \u4e2d\u6587",
    "",
    "   ",
]


class SearchContract:
    async def test_search_finds_messages_and_contacts_newest_activity_first(
        self, store: Store
    ) -> None:
        """A word prefix finds a conversation by message text or by its contact's name or
        email; hits say why, newest activity first; other orgs never show."""
        org = await add_org(store)
        other = await add_org(store)
        ana = await store.get_or_create_contact(
            contact_row(org.id, name="Ana Lima", email="ana@example.com")
        )
        by_contact = await add_conversation(store, org.id, contact_id=ana.id)
        by_message = await add_conversation(store, org.id)
        await store.apply(org.id, by_message.id, plan_of(visitor_says("my parcel is lost")))
        await store.apply(org.id, by_message.id, plan_of(visitor_says("the parcel came")))
        elsewhere = await add_conversation(store, other.id)
        await store.apply(other.id, elsewhere.id, plan_of(visitor_says("parcel parcel")))

        (found,) = await store.search_conversations(org.id, words("PARC"))
        assert found.conversation.id == by_message.id
        assert (found.kind, found.text, found.seq, found.private) == (
            "message",
            "the parcel came",
            2,
            False,
        )
        (person,) = await store.search_conversations(org.id, words("lima an"))
        assert (person.conversation.id, person.kind) == (by_contact.id, "contact")
        assert person.text == "Ana Lima ana@example.com"
        (mail,) = await store.search_conversations(org.id, words("ana@example"))
        assert mail.conversation.id == by_contact.id
        assert await store.search_conversations(org.id, words("example.org")) == []

        # Newest activity first, paged by (updated_at, id).
        await store.apply(org.id, by_contact.id, plan_of(visitor_says("about my parcel")))
        hits = await store.search_conversations(org.id, words("parcel"))
        assert [h.conversation.id for h in hits] == [by_contact.id, by_message.id]
        assert hits[0].kind == "message"
        last = hits[0].conversation
        rest = await store.search_conversations(
            org.id, words("parcel"), before=(last.updated_at, last.id), limit=5
        )
        assert [h.conversation.id for h in rest] == [by_message.id]

    async def test_search_finds_private_notes_marked_private(self, store: Store) -> None:
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        note = NewMessage(role=Role.AGENT, sender_id=None, content="refund approved", private=True)
        await store.apply(org.id, conversation.id, plan_of(note))
        (hit,) = await store.search_conversations(org.id, words("refund"))
        assert (hit.kind, hit.seq, hit.private) == ("message", 1, True)

    async def test_search_never_raises_on_operator_characters(self, store: Store) -> None:
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says("a b c x start value")))
        for query in HOSTILE:
            await store.search_conversations(org.id, words(query))
        (hit,) = await store.search_conversations(org.id, words('"start" (value)* -'))
        assert hit.conversation.id == conversation.id
