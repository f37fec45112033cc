"""The ``Store`` interface: everything chatgate persists, behind one contract.

Implementations: ``storage.sqlite.SQLiteStore`` (embedded default) and
``storage.postgres.PostgresStore``. Both pass ``tests/contracts/store.py``.

Contract, for every implementation:

- **Tenancy.** Every lookup that takes an ``org_id`` returns ``None`` (or raises
  ``not_found``) for a row of another org, exactly as for a row that does not exist.
- **Sequence.** ``apply`` runs ``decide`` and writes its plan in one transaction, holding the
  conversation so that no other writer (in this process or another) interleaves. Each step
  takes ``last_seq + 1``: per conversation, seqs are 1, 2, 3... with no gap and no duplicate,
  across messages and status changes alike.
- **Group commit.** Concurrent ``apply`` calls may share a transaction (both stores do this).
  Each keeps its own outcome: one refused by ``decide`` or the quota, or one whose rows the
  backend refuses, fails alone and writes nothing; the others are written, and calls on one
  conversation take consecutive seqs, each seeing the conversation as the ones before it left
  it. No call returns before the commit that holds its change.
- **Quota.** When the org has a ``monthly_message_limit``, ``apply`` counts the plan's
  messages (every role but ``system``) against the org's count for the current UTC calendar
  month, in the same transaction, and refuses with ``quota_exceeded`` a plan that would go
  over it. Orgs without a limit are not counted; the count of a month starts from the
  messages already stored in it.
- **Files.** Content-addressed per org: storing the same bytes twice keeps one copy. A file
  belongs to the conversations it was uploaded into (``put_file(..., conversation_id=)``) and
  to those whose stored messages carry it (an attachment's ``sha256``: ``apply`` records it in
  its transaction, for files of the org). Lookups with a ``contact_id`` see only the files of
  that contact's conversations, and answer None for any other, as for an unknown file.
- **Knowledge.** An article's passages (``storage.chunking``) are indexed with the store's own
  full-text search in the transaction that writes the article; an update or a delete replaces
  or removes them in its own. ``search_knowledge`` finds passages of the org only, scored by
  ``storage.relevance`` (the same scores for the same data on every store).
- **Durability.** When a write coroutine returns, the change is committed.
- **Failure.** Backend failures raise ``StorageError``; domain refusals raised by ``decide``
  (``GatewayError``) propagate unchanged and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from protocol.events import ConversationUpdated, MessageCreated
from storage.models import (
    AccountToken,
    Agent,
    AgentLogin,
    AgentSession,
    ApiKey,
    Applied,
    Article,
    Bot,
    Contact,
    Conversation,
    CredentialStanding,
    Delivery,
    DeliveryAttempt,
    DeliveryOutcome,
    IdempotencyRecord,
    Message,
    NodeLease,
    Org,
    OutboxItem,
    Passage,
    Plan,
    SearchHit,
    StoredFile,
    WebhookEndpoint,
    Widget,
)

__all__ = ["Decide", "Store", "StoredEvent"]

#: Decides what a command does to a conversation; may raise ``GatewayError`` to refuse.
#: It runs inside the store's transaction (possibly on a worker thread, possibly more than
#: once, each time on the conversation as it then is): keep it pure.
Decide = Callable[[Conversation], Plan]

StoredEvent = MessageCreated | ConversationUpdated


class Store(Protocol):
    """The system of record. Use as ``async with store:`` or call ``start``/``aclose``."""

    async def start(self) -> None:
        """Connect and migrate the schema to the latest version.

        Raises:
            MigrationError: the schema could not be migrated.
            StorageError: the database could not be reached.
        """
        ...

    async def aclose(self) -> None:
        """Close connections. Idempotent."""
        ...

    async def ping(self) -> None:
        """Round-trip to the database; raises ``StorageError`` when it is not usable."""
        ...

    # -- settings -------------------------------------------------------------------------

    async def get_or_create_setting(self, name: str, value: str) -> str:
        """Return the stored value of ``name``, storing ``value`` first if there is none.

        Concurrent callers all get the same value.
        """
        ...

    # -- gateway nodes --------------------------------------------------------------------

    async def register_node(self, node: NodeLease, live_after: datetime) -> list[NodeLease]:
        """Record ``node`` and return the other nodes seen after ``live_after``.

        Atomic: of two nodes registering at the same time, the second sees the first.
        """
        ...

    async def heartbeat_node(self, node_id: str, at: datetime) -> None: ...

    async def remove_node(self, node_id: str) -> None: ...

    # -- tenancy --------------------------------------------------------------------------

    async def count_orgs(self) -> int: ...

    async def get_org(self, org_id: str) -> Org | None: ...

    async def list_orgs(self) -> list[Org]:
        """Every org, oldest first (``created_at``, then ``id``)."""
        ...

    async def create_org(self, org: Org) -> None: ...

    async def create_api_key(self, key: ApiKey, key_hash: str) -> None: ...

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The unrevoked key with this hash, or None."""
        ...

    async def list_api_keys(self, org_id: str) -> list[ApiKey]: ...

    async def revoke_api_key(self, org_id: str, key_id: str, at: datetime) -> ApiKey | None:
        """Revoke (idempotently); None if no such key in this org."""
        ...

    async def create_widget(self, widget: Widget) -> None: ...

    async def get_widget(self, org_id: str | None, widget_id: str) -> Widget | None:
        """A widget; ``org_id=None`` looks it up in any org (anonymous widget sessions)."""
        ...

    async def update_widget(
        self, org_id: str, widget_id: str, updates: Mapping[str, Any]
    ) -> Widget | None:
        """Change the given fields (``storage.columns.WIDGET_UPDATES``, among them
        ``identity_secret``, which is no field of ``Widget``); None if the org has no such
        widget."""
        ...

    async def list_widgets(self, org_id: str) -> list[Widget]: ...

    async def get_widget_identity_secret(self, org_id: str, widget_id: str) -> str | None:
        """The secret that checks the widget's visitors' ``user_hash``; None when it has none
        or the org has no such widget."""
        ...

    async def create_agent(self, agent: Agent) -> None: ...

    async def get_agent(self, org_id: str, agent_id: str) -> Agent | None:
        """An agent of the org, disabled or not; None once it is deleted."""
        ...

    async def list_agents(self, org_id: str) -> list[Agent]:
        """The org's agents (disabled ones included, deleted ones not), oldest first."""
        ...

    async def update_agent(
        self, org_id: str, agent_id: str, updates: Mapping[str, Any]
    ) -> Agent | None:
        """Change ``name``, ``email``, ``status`` and/or ``role``; None if the org has no such agent
        (deleted ones included)."""
        ...

    async def delete_agent(self, org_id: str, agent_id: str, at: datetime) -> bool:
        """Delete the agent (its messages keep their ``sender_id``); False if the org has no
        such agent, or it is already deleted."""
        ...

    # -- bots -----------------------------------------------------------------------------

    async def create_bot(self, bot: Bot) -> None: ...

    async def get_bot(self, org_id: str, bot_id: str) -> Bot | None: ...

    async def list_bots(self, org_id: str) -> list[Bot]:
        """The org's bots, oldest first."""
        ...

    async def update_bot(
        self, org_id: str, bot_id: str, updates: Mapping[str, Any], at: datetime
    ) -> Bot | None:
        """Change the given fields (``storage.columns.BOT_UPDATES``; ``llm`` and ``webhook``
        are replaced whole) and set ``updated_at``; None if the org has no such bot."""
        ...

    async def delete_bot(self, org_id: str, bot_id: str) -> bool:
        """Delete the bot and, in the same transaction, take it off the org's widgets
        (their ``bot_id`` becomes None); False if the org has no such bot. Conversations
        keep the ``bot_id`` they started with."""
        ...

    async def credential_standing(
        self, api_key_ids: Collection[str], agent_ids: Collection[str]
    ) -> CredentialStanding:
        """Which of these API keys are unrevoked, and the status of each of these agents
        that exists, in one read. Not org-scoped: ids come from the gateway's own signed
        tokens. Ids that name nothing (even ones that are not UUIDs) are simply absent."""
        ...

    # -- accounts (agents' passwords, one-time links, sign-in sessions) ---------------------

    async def create_agent_account(
        self, agent: Agent, login_email: str, password_hash: str
    ) -> bool:
        """Create ``agent`` with a sign-in email (lowercased by the caller) and a password
        hash; False (nothing written) when a live agent of any org already signs in with
        that email."""
        ...

    async def find_agent_login(self, login_email: str) -> AgentLogin | None:
        """The live agent (of any org) that signs in with ``login_email`` (lowercased)."""
        ...

    async def set_agent_password(
        self, org_id: str, agent_id: str, password_hash: str, login_email: str
    ) -> str:
        """Set the password of a live agent of the org and the email it signs in with.

        Returns ``ok``, ``not_found`` (no such live agent) or ``email_taken`` (another live
        agent signs in with ``login_email``; nothing written)."""
        ...

    async def create_account_token(self, token: AccountToken) -> None: ...

    async def take_account_token(
        self, token_hash: str, purpose: str, at: datetime
    ) -> AccountToken | None:
        """Use a one-time link: delete the link of ``purpose`` with this hash and return it
        when it has not expired at ``at``. A second take of the same link answers None, even
        concurrently; expired links are deleted along the way."""
        ...

    async def create_agent_session(self, session: AgentSession) -> None: ...

    async def find_agent_session(
        self, token_hash: str, at: datetime
    ) -> tuple[AgentSession, Agent] | None:
        """The unexpired, unrevoked session with this hash and its live agent (disabled or
        not: the caller decides), marking it seen at ``at`` (at most once a minute)."""
        ...

    async def revoke_agent_session(self, session_id: str, at: datetime) -> bool:
        """Revoke one session; False when it was not live."""
        ...

    async def revoke_agent_sessions(self, agent_id: str, at: datetime) -> int:
        """Revoke every live session of an agent; how many were."""
        ...

    async def purge_agent_sessions(self, at: datetime, limit: int) -> int:
        """Delete up to ``limit`` sessions expired or revoked by ``at``; how many were."""
        ...

    async def get_or_create_contact(self, contact: Contact) -> Contact:
        """Store ``contact``; if it has an ``external_id`` already known in its org, return
        the existing contact instead."""
        ...

    async def get_contact(self, org_id: str, contact_id: str) -> Contact | None: ...

    # -- conversations --------------------------------------------------------------------

    async def create_conversation(self, conversation: Conversation) -> None: ...

    async def get_conversation(self, org_id: str, conversation_id: str) -> Conversation | None: ...

    async def list_conversations(
        self,
        org_id: str,
        *,
        status: str | None = None,
        contact_id: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[Conversation]:
        """Newest first, by ``(created_at, id)``; ``before`` is the last row of a page."""
        ...

    async def apply(
        self,
        org_id: str,
        conversation_id: str,
        decide: Decide,
        *,
        client_message_id: str | None = None,
    ) -> Applied:
        """Change a conversation atomically.

        In one transaction: lock the conversation; if ``client_message_id`` names a message
        already stored in it, return that message as ``replayed`` and change nothing;
        otherwise run ``decide`` on the current row and write its plan, each step taking
        the next seq. Concurrent calls may share that transaction (group commit); each
        still succeeds or fails on its own. The caller publishes ``Applied.events``
        afterwards (persist, then publish).

        Raises:
            GatewayError: ``not_found`` for an unknown conversation or one of another org,
                or whatever ``decide`` raised (nothing is written then).
            StorageError: the backend failed, or refused this call's rows (nothing of this
                call is written then).
        """
        ...

    async def read_events(
        self, conversation_id: str, after_seq: int, limit: int, *, with_private: bool = True
    ) -> list[StoredEvent]:
        """The conversation's stored events with ``seq > after_seq``, in seq order.

        ``with_private=False`` leaves private notes out (what visitors read): their seqs are
        gaps, and ``limit`` counts only the events returned.
        Not org-scoped: callers check access to the conversation first.
        """
        ...

    async def list_messages(
        self, conversation_id: str, after_seq: int, limit: int, *, with_private: bool = True
    ) -> list[Message]:
        """Messages with ``seq > after_seq`` in seq order (``with_private=False``: without
        private notes, as above). Not org-scoped, as above."""
        ...

    async def search_conversations(
        self,
        org_id: str,
        query_words: Sequence[str],
        *,
        before: tuple[datetime, str] | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """The org's conversations whose contact's name or email, or one of whose messages
        (private notes included: search is for staff), holds every word as a prefix
        (``storage.fulltext.words``), on the store's own full-text index. Newest activity
        first, by ``(updated_at, id)``; ``before`` is the last row of a page. A contact match
        wins over a message match; a message match names the latest matching message.
        No words: no hits.
        """
        ...

    async def last_seq(self, conversation_id: str) -> int | None:
        """The conversation's latest seq, or None if it does not exist."""
        ...

    async def mark_read(self, conversation_id: str, reader: str, seq: int, at: datetime) -> int:
        """Move ``reader``'s read position forward to ``seq``; returns the stored position
        (never lower than before)."""
        ...

    # -- files ----------------------------------------------------------------------------

    async def put_file(
        self, file: StoredFile, data: bytes, *, conversation_id: str | None = None
    ) -> StoredFile:
        """Store ``data`` under ``(file.org_id, file.sha256)`` unless it is already there;
        returns the stored file (the first one's ``created_at`` and ``mime``).

        With ``conversation_id``, the file belongs to that conversation from then on (in the
        same transaction), whoever stored the bytes first.

        Raises:
            GatewayError: ``not_found`` when ``conversation_id`` is not a conversation of the
                file's org; nothing is stored then.
        """
        ...

    async def get_file(
        self, org_id: str, sha256: str, *, contact_id: str | None = None
    ) -> StoredFile | None:
        """The org's file (without its bytes), or None.

        With ``contact_id``, only a file that belongs to a conversation of that contact.
        """
        ...

    async def read_file(
        self, org_id: str, sha256: str, *, contact_id: str | None = None
    ) -> tuple[StoredFile, bytes] | None:
        """The org's file and its bytes, or None; ``contact_id`` as for ``get_file``."""
        ...

    async def monthly_messages(self, org_id: str, month: str) -> int | None:
        """The count kept for ``month`` (``YYYY-MM``), or None if none is kept."""
        ...

    # -- webhooks and the outbox ----------------------------------------------------------
    #
    # ``apply`` and ``create_conversation`` write the outbox rows their events call for in
    # their own transaction (``storage.outbox.derive``), plus the plan's own ``outbox``.

    async def create_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    async def get_webhook_endpoint(
        self, org_id: str, endpoint_id: str
    ) -> WebhookEndpoint | None: ...

    async def list_webhook_endpoints(self, org_id: str) -> list[WebhookEndpoint]: ...

    async def update_webhook_endpoint(
        self, org_id: str, endpoint_id: str, updates: Mapping[str, Any], at: datetime
    ) -> WebhookEndpoint | None: ...

    async def delete_webhook_endpoint(self, org_id: str, endpoint_id: str, at: datetime) -> bool:
        """Delete the endpoint and cancel its pending deliveries; False if there is none."""
        ...

    async def enqueue(self, items: Sequence[OutboxItem]) -> None:
        """Add outbox rows outside of any conversation change."""
        ...

    async def claim_deliveries(
        self,
        owner: str,
        at: datetime,
        lease: timedelta,
        limit: int,
        *,
        per_receiver: int | None = None,
        per_org: int | None = None,
    ) -> list[Delivery]:
        """Lease up to ``limit`` due rows to ``owner`` until ``at + lease``, atomically:
        concurrent claimers (in any process) never get the same row while its lease runs.

        Due: ``pending``, ``next_attempt_at <= at``, not leased, its endpoint ``active``, and
        no earlier pending row with the same ``fifo_key``. A lease that runs out makes the
        row claimable again (its owner died mid-attempt).

        Fair (``storage.claims``): rows are taken turn by turn across receivers (a webhook
        endpoint, a widget's live-agent platform), the first due row of each before the
        second of any. With ``per_receiver`` / ``per_org``, a claim leaves a receiver / an
        org with at most that many rows leased at once, counting the leases that still run
        from earlier claims of every owner. Timers count against neither cap. Returned in
        the order they should be sent.
        """
        ...

    async def finish_delivery(
        self, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
    ) -> bool:
        """Record an attempt (numbered over the delivery's life) and what comes next.

        Tracks the endpoint's run of failures; a ``dead`` outcome with a ``pause_reason``
        pauses the endpoint when it has not had one success since that delivery's first
        attempt. False (and nothing written) when the row is no longer pending.
        """
        ...

    async def finish_and_claim_next(
        self,
        delivery: Delivery,
        outcome: DeliveryOutcome,
        at: datetime,
        owner: str,
        lease: timedelta,
    ) -> Delivery | None:
        """``finish_delivery``, then, in the same transaction, when the delivery has left
        its FIFO queue (delivered, dead or cancelled), lease the queue's next row to
        ``owner`` if it is due now (as ``claim_deliveries`` would find it) and return it.

        The next row takes the finished one's place under the caps (same receiver, same
        org), so a queue moves as fast as its receiver answers, with no claim in between.
        """
        ...

    async def next_delivery_due(self, after: datetime) -> datetime | None:
        """The earliest ``next_attempt_at`` later than ``after`` of a pending row (a retry
        or a timer to come), or None."""
        ...

    async def list_deliveries(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        """Newest first; ``after`` is the last delivery id of the previous page."""
        ...

    async def get_delivery(self, org_id: str, delivery_id: str) -> Delivery | None: ...

    async def list_delivery_attempts(
        self, org_id: str, delivery_id: str
    ) -> list[DeliveryAttempt]: ...

    async def replay_deliveries(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        delivery_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: Sequence[str] = ("dead",),
        at: datetime,
    ) -> int:
        """Make matching deliveries pending again, due at ``at``, from the start of the
        retry schedule (same message id). Returns how many."""
        ...

    # -- idempotency ----------------------------------------------------------------------

    async def claim_idempotency_key(
        self, scope: str, key: str, request_hash: str, at: datetime, ttl: timedelta
    ) -> IdempotencyRecord | None:
        """Claim ``(scope, key)`` for a new request, atomically.

        Returns None when the caller now owns the key (it was free, or its record was older
        than ``ttl``) and must later call ``finish_idempotency_key`` or
        ``release_idempotency_key``. Otherwise returns the existing record: finished
        (``status`` set) or still running (``status`` None).
        """
        ...

    async def finish_idempotency_key(
        self, scope: str, key: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> None: ...

    async def get_idempotency_key(self, scope: str, key: str) -> IdempotencyRecord | None: ...

    async def release_idempotency_key(self, scope: str, key: str) -> None:
        """Forget a claimed key whose request failed, so that a retry runs again."""
        ...

    async def purge_idempotency_keys(self, before: datetime, limit: int | None = None) -> int:
        """Delete records created before ``before``, oldest first, at most ``limit`` of
        them (all when None); returns how many."""
        ...

    # -- knowledge base -------------------------------------------------------------------

    async def create_article(self, article: Article) -> None:
        """Store the article and index its passages."""
        ...

    async def save_imported_article(self, article: Article) -> Article:
        """Store an imported article (``source="import"``), or, when the org already has one
        imported from the same ``url``, replace that one's title and body (keeping its id and
        ``created_at``; ``updated_at`` is the new one's). Returns what is stored."""
        ...

    async def get_article(self, org_id: str, article_id: str) -> Article | None: ...

    async def list_articles(
        self, org_id: str, *, before: tuple[datetime, str] | None = None, limit: int = 50
    ) -> list[Article]:
        """Newest first, by ``(created_at, id)``; ``before`` is the last row of a page."""
        ...

    async def update_article(
        self, org_id: str, article_id: str, updates: Mapping[str, Any], at: datetime
    ) -> Article | None:
        """Change ``title``, ``body`` and/or ``url`` and re-index the article's passages;
        None if the org has no such article."""
        ...

    async def delete_article(self, org_id: str, article_id: str) -> bool:
        """Delete the article and its passages; False if the org has no such article."""
        ...

    async def search_knowledge(self, org_id: str, text: str, limit: int) -> list[Passage]:
        """The org's passages that best answer ``text``, best first, at most ``limit``.

        ``text`` is any text (a visitor's question): it is reduced to plain terms
        (``storage.relevance.query_terms``), so it never raises for its syntax; none are
        left (blank, punctuation, only stop words), none are found.
        """
        ...

    # -- retention ------------------------------------------------------------------------

    async def purge_deliveries(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` deliveries that finished (delivered, dead or cancelled)
        before ``before``, oldest first, with their attempts; returns how many."""
        ...

    async def purge_nodes(self, before: datetime) -> int:
        """Forget the gateway nodes last seen before ``before``; returns how many."""
        ...
