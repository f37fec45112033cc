"""The ``Store`` contract, files: which conversations a file belongs to, and who sees it.

Mixed into ``StoreContract``; the backend's test class provides the ``store`` fixture.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

from protocol.codes import ErrorCode
from protocol.states import Role
from storage.base import Store
from storage.models import Conversation, NewMessage, StoredFile, now
from tests.contracts.rows import (
    add_conversation,
    add_org,
    contact_row,
    not_found,
    plan_of,
    refuse_with,
)

__all__ = ["Attached", "FileContract", "attach_before_upgrade", "attachment_of", "check_upgraded"]

DATA = b"\x89PNG\r\n\x1a\n" + b"receipt" * 16
SHA = hashlib.sha256(DATA).hexdigest()


def file_row(org_id: str, data: bytes = DATA) -> StoredFile:
    return StoredFile(org_id, hashlib.sha256(data).hexdigest(), "image/png", len(data), now())


def attachment_of(sha256: str) -> dict[str, object]:
    """An attachment as a message stores it."""
    url = f"https://chat.example/v1/files/{sha256}"
    return {"url": url, "mime": "image/png", "size": len(DATA), "sha256": sha256}


async def contact_conversation(store: Store, org_id: str) -> Conversation:
    """A conversation of a new contact of the org."""
    contact = await store.get_or_create_contact(contact_row(org_id))
    return await add_conversation(store, org_id, contact_id=contact.id)


class FileContract:
    """``put_file`` with a conversation, attachments recorded by ``apply``, and lookups by
    contact."""

    async def test_uploaded_file_is_seen_by_its_conversations_contact_only(
        self, store: Store
    ) -> None:
        """A file put into a conversation is found for its contact, not for another contact
        of the org, and for the org without a contact."""
        org = await add_org(store)
        mine, theirs = [await contact_conversation(store, org.id) for _ in range(2)]
        stored = await store.put_file(file_row(org.id), DATA, conversation_id=mine.id)
        assert await store.get_file(org.id, SHA, contact_id=mine.contact_id) == stored
        assert await store.read_file(org.id, SHA, contact_id=mine.contact_id) == (stored, DATA)
        assert await store.get_file(org.id, SHA, contact_id=theirs.contact_id) is None
        assert await store.read_file(org.id, SHA, contact_id=theirs.contact_id) is None
        assert await store.read_file(org.id, SHA) == (stored, DATA)

    async def test_file_without_conversation_is_seen_by_no_contact(self, store: Store) -> None:
        """A file stored outside of any conversation is the org's, but no contact's."""
        org = await add_org(store)
        conversation = await contact_conversation(store, org.id)
        stored = await store.put_file(file_row(org.id), DATA)
        assert await store.get_file(org.id, SHA) == stored
        assert await store.get_file(org.id, SHA, contact_id=conversation.contact_id) is None

    async def test_put_file_into_another_orgs_conversation_is_not_found(self, store: Store) -> None:
        """put_file into a conversation of another org (or none) refuses and stores nothing."""
        org, other = await add_org(store), await add_org(store)
        foreign = await contact_conversation(store, other.id)
        await not_found(store.put_file(file_row(org.id), DATA, conversation_id=foreign.id))
        assert await store.get_file(org.id, SHA) is None
        assert await store.get_file(other.id, SHA) is None

    async def test_same_bytes_put_into_two_conversations_belong_to_both(self, store: Store) -> None:
        """Storing the same bytes into a second conversation keeps one file (the first
        description) that both conversations' contacts see."""
        org = await add_org(store)
        first, second = [await contact_conversation(store, org.id) for _ in range(2)]
        stored = await store.put_file(file_row(org.id), DATA, conversation_id=first.id)
        later = StoredFile(org.id, SHA, "text/plain", len(DATA), now() + timedelta(seconds=5))
        again = await store.put_file(later, DATA, conversation_id=second.id)
        assert again == stored
        for conversation in (first, second):
            assert await store.get_file(org.id, SHA, contact_id=conversation.contact_id) == stored

    async def test_apply_records_the_files_a_message_carries(self, store: Store) -> None:
        """A stored message's attachments become files of its conversation, in apply's
        transaction; a refused plan records nothing."""
        org = await add_org(store)
        mine, theirs = [await contact_conversation(store, org.id) for _ in range(2)]
        stored = await store.put_file(file_row(org.id), DATA)
        message = NewMessage(Role.AGENT, None, "your receipt", attachments=(attachment_of(SHA),))
        await store.apply(org.id, mine.id, plan_of(message))
        assert await store.get_file(org.id, SHA, contact_id=mine.contact_id) == stored
        assert await store.get_file(org.id, SHA, contact_id=theirs.contact_id) is None
        full = await add_org(store, monthly_message_limit=0)
        refused = await contact_conversation(store, full.id)
        await store.put_file(file_row(full.id), DATA)
        error = await refuse_with(store.apply(full.id, refused.id, plan_of(message)))
        assert error.code is ErrorCode.QUOTA_EXCEEDED
        assert await store.get_file(full.id, SHA, contact_id=refused.contact_id) is None

    async def test_apply_ignores_attachments_that_are_not_files_of_the_org(
        self, store: Store
    ) -> None:
        """Attachments without a sha256, or naming a file of another org or none, store the
        message and make nothing visible."""
        org, other = await add_org(store), await add_org(store)
        conversation = await contact_conversation(store, org.id)
        await store.put_file(file_row(other.id), DATA)
        unknown = hashlib.sha256(b"nowhere").hexdigest()
        message = NewMessage(
            Role.VISITOR,
            None,
            "",
            attachments=(
                attachment_of(SHA),
                attachment_of(unknown),
                {"url": "https://cdn.example/a.png", "mime": "image/png", "size": 3},
            ),
        )
        applied = await store.apply(org.id, conversation.id, plan_of(message))
        assert applied.messages[0].attachments == message.attachments
        contact_id = conversation.contact_id
        assert await store.get_file(org.id, SHA, contact_id=contact_id) is None
        assert await store.get_file(org.id, unknown, contact_id=contact_id) is None
        assert await store.get_file(other.id, SHA, contact_id=contact_id) is None

    async def test_contact_lookup_never_crosses_orgs(self, store: Store) -> None:
        """A file of org A, seen by A's contact, is not found in org B for that contact,
        even when B stores the same bytes."""
        org, other = await add_org(store), await add_org(store)
        conversation = await contact_conversation(store, org.id)
        await store.put_file(file_row(org.id), DATA, conversation_id=conversation.id)
        await store.put_file(file_row(other.id), DATA)
        assert await store.get_file(other.id, SHA, contact_id=conversation.contact_id) is None
        assert await store.read_file(other.id, SHA, contact_id=conversation.contact_id) is None


# -- upgrades (used by each backend's migration test) -------------------------------------


@dataclasses.dataclass(frozen=True)
class Attached:
    """Files and conversations written as a store before ``conversation_files`` kept them."""

    org_id: str
    #: The conversation whose message carries ``sha``, and one whose messages carry none.
    carrying: Conversation
    other: Conversation
    #: Attached by a message; uploaded but never attached.
    sha: str
    unattached: str


async def attach_before_upgrade(store: Store) -> Attached:
    """Files and messages as an older gateway wrote them: files stored without a
    conversation, then messages that carry them."""
    org = await add_org(store)
    carrying, other = [await contact_conversation(store, org.id) for _ in range(2)]
    stored = await store.put_file(file_row(org.id), DATA)
    loose = await store.put_file(file_row(org.id, b"loose"), b"loose")
    carried = NewMessage(Role.VISITOR, None, "", attachments=(attachment_of(stored.sha256),))
    await store.apply(org.id, carrying.id, plan_of(carried))
    await store.apply(org.id, carrying.id, plan_of(carried))
    plain = NewMessage(
        Role.VISITOR,
        None,
        "",
        attachments=({"url": "https://cdn.example/a.png", "mime": "image/png", "size": 3},),
    )
    await store.apply(org.id, other.id, plan_of(plain))
    return Attached(org.id, carrying, other, stored.sha256, loose.sha256)


async def check_upgraded(store: Store, attached: Attached) -> None:
    """After the upgrade, the carrying conversation's contact reads its file, and no contact
    reads anything else."""
    org_id, sha = attached.org_id, attached.sha
    assert await store.get_file(org_id, sha, contact_id=attached.carrying.contact_id) is not None
    assert await store.get_file(org_id, sha, contact_id=attached.other.contact_id) is None
    for conversation in (attached.carrying, attached.other):
        contact_id = conversation.contact_id
        assert await store.get_file(org_id, attached.unattached, contact_id=contact_id) is None
    assert await store.get_file(org_id, attached.unattached) is not None
