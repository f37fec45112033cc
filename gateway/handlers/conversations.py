"""Conversation and message handlers: start, read, update, end, send, typing, read positions.

Handlers have the shape ``async (ctx, command) -> result``; they never see a Request or a
WebSocket. Access rule for every conversation: it must belong to the caller's org, and a
visitor only ever reaches the conversations of their own contact. Files follow their
conversations: staff read every file of the org, a visitor only the files of their own
conversations. Anything else answers ``not_found``, exactly like an id that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from msgspec import UNSET

from gateway.core.auth import Principal, is_staff
from gateway.core.bus import Context
from gateway.core.lifecycle import new_conversation, plan_end, plan_message, plan_update
from gateway.core.publishing import EventPublisher
from gateway.core.results import ConversationPage, MessagePage, ReadPosition, Sent
from gateway.handlers.bots import bot_of_org
from gateway.handlers.cursors import decode_cursor, encode_cursor
from gateway.limits.policy import Limits
from gateway.media.attachments import Attachments
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.events import ConversationCreated, ReadMarked, TypingChanged
from protocol.states import Handler, Role, Status
from storage.base import Decide, Store, StoredEvent
from storage.models import (
    Applied,
    Contact,
    Conversation,
    Message,
    NewMessage,
    Plan,
    StoredFile,
    now,
    to_wire,
)

__all__ = ["ConversationHandlers"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Roles an API key may send as (``system`` is the gateway's own).
API_KEY_ROLES = frozenset({Role.AGENT, Role.BOT, Role.VISITOR, Role.LIVE_AGENT})
PRINCIPAL_ROLE = {"agent": Role.AGENT, "bot": Role.BOT, "visitor": Role.VISITOR}
BOT_STATUSES = frozenset({Status.AGENT_REQUESTED, Status.RESOLVED, Status.CLOSED})
#: How far a message's own time (``created_at`` of a live agent's message) may lie outside
#: its conversation's life so far: clocks of two hosts differ, by seconds, not minutes.
CLOCK_SKEW = timedelta(minutes=5)


class ConversationHandlers:
    """Conversations, messages, typing and read positions."""

    def __init__(
        self, store: Store, publisher: EventPublisher, attachments: Attachments, limits: Limits
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._attachments = attachments
        self._limits = limits
        self._inflight: set[asyncio.Task[Any]] = set()
        #: Awaited with each newly stored visitor message (not a replay), once published and
        #: before the send answers (the bot's turn starts there).
        self.on_visitor_message: list[Callable[[Conversation, Message], Awaitable[None]]] = []
        #: Called with the conversation after every stored change, once published (the turn
        #: runner sees a takeover there and stops streaming).
        self.on_change: list[Callable[[Conversation], None]] = []

    async def drain(self) -> None:
        """Wait for writes whose caller went away to finish publishing (shutdown)."""
        await asyncio.gather(*self._inflight, return_exceptions=True)

    # -- access ---------------------------------------------------------------------------

    async def _conversation(self, ctx: Context, conversation_id: uuid.UUID) -> Conversation:
        principal = ctx.require()
        conversation = await self._store.get_conversation(principal.org_id, str(conversation_id))
        if conversation is None or not _visible(principal, conversation):
            raise GatewayError.not_found("conversation")
        return conversation

    async def _commit(
        self,
        principal: Principal,
        conversation_id: uuid.UUID,
        decide: Decide,
        *,
        client_message_id: str | None = None,
        then: Callable[[Applied], Awaitable[None]] | None = None,
    ) -> Applied:
        """Apply ``decide`` and publish, then run ``then`` (unless the command was a replay):
        all of it even if the caller is cancelled meanwhile."""

        def guarded(conversation: Conversation) -> Plan:
            if not _visible(principal, conversation):
                raise GatewayError.not_found("conversation")
            return decide(conversation)

        async def apply_and_publish() -> Applied:
            applied = await self._store.apply(
                principal.org_id,
                str(conversation_id),
                guarded,
                client_message_id=client_message_id,
            )
            await self._publisher.publish(principal.org_id, applied.events, outbox=applied.outbox)
            if applied.events:
                for hook in self.on_change:
                    _quietly(hook, applied.conversation)
            if then is not None and applied.replayed is None:
                await then(applied)
            return applied

        # Persist, then publish, even if the caller is cancelled in between (a socket that
        # closes mid-command): the write may already be committed, and its event must go out.
        return await self._shielded(apply_and_publish())

    async def _shielded(self, coro: Coroutine[Any, Any, T]) -> T:
        task = asyncio.create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    # -- conversations --------------------------------------------------------------------

    async def start_conversation(self, ctx: Context, c: cmd.StartConversation) -> Conversation:
        principal = ctx.require()
        org_id = principal.org_id
        if principal.is_visitor:
            if c.contact is not UNSET or c.contact_id not in (UNSET, _uuid(principal.contact_id)):
                raise GatewayError(
                    ErrorCode.FORBIDDEN, "visitors start conversations as themselves"
                )
            if c.widget_id not in (UNSET, _uuid(principal.widget_id)):
                raise GatewayError(ErrorCode.FORBIDDEN, "a visitor token belongs to one widget")
            if c.bot_id is not UNSET:
                raise GatewayError(
                    ErrorCode.FORBIDDEN, "a visitor's conversation has its widget's bot"
                )
            widget_id, contact_id = principal.widget_id, principal.contact_id
            bot_id = await self._widget_bot(org_id, widget_id)
        else:
            widget_id = contact_id = bot_id = None
            if c.widget_id is not UNSET:
                widget = await self._store.get_widget(org_id, str(c.widget_id))
                if widget is None:
                    raise GatewayError.not_found("widget", "$.widget_id")
                widget_id, bot_id = widget.id, widget.bot_id
            if c.bot_id is not UNSET:
                bot_id = (await bot_of_org(self._store, org_id, c.bot_id, "$.bot_id")).id
            if c.contact_id is not UNSET:
                if await self._store.get_contact(org_id, str(c.contact_id)) is None:
                    raise GatewayError.not_found("contact", "$.contact_id")
                contact_id = str(c.contact_id)
            elif c.contact is not UNSET:
                contact = await self._store.get_or_create_contact(
                    _new_contact(org_id, widget_id, c.contact)
                )
                contact_id = contact.id
        conversation = new_conversation(
            org_id=org_id,
            widget_id=widget_id,
            contact_id=contact_id,
            metadata=c.metadata,
            at=now(),
            channel=c.channel,
            bot_id=bot_id,
        )

        async def create_and_publish() -> None:
            await self._store.create_conversation(conversation)
            created = ConversationCreated(conversation.id, to_wire(conversation))
            await self._publisher.publish(org_id, (created,))

        await self._shielded(create_and_publish())
        return conversation

    async def _widget_bot(self, org_id: str, widget_id: str | None) -> str | None:
        if widget_id is None:
            return None
        widget = await self._store.get_widget(org_id, widget_id)
        return None if widget is None else widget.bot_id

    async def get_conversation(self, ctx: Context, c: cmd.GetConversation) -> Conversation:
        return await self._conversation(ctx, c.conversation_id)

    async def watch_conversation(self, ctx: Context, c: cmd.WatchConversation) -> Conversation:
        return await self._conversation(ctx, c.conversation_id)

    async def list_conversations(self, ctx: Context, c: cmd.ListConversations) -> ConversationPage:
        principal = ctx.require()
        before = None if c.cursor is UNSET else decode_cursor(c.cursor)
        rows = await self._store.list_conversations(
            principal.org_id,
            status=None if c.status is UNSET else c.status.value,
            contact_id=principal.contact_id,
            before=before,
            limit=c.limit + 1,
        )
        page, more = rows[: c.limit], len(rows) > c.limit
        cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
        return ConversationPage(page, cursor)

    async def update_conversation(self, ctx: Context, c: cmd.UpdateConversation) -> Conversation:
        principal = ctx.require()
        status = None if c.status is UNSET else c.status
        if principal.kind == "visitor" and (
            status is not Status.AGENT_REQUESTED or c.assignee_id is not UNSET
        ):
            raise GatewayError(
                ErrorCode.FORBIDDEN, "a visitor can only ask for a human (status agent_requested)"
            )
        if principal.kind == "bot" and (status not in BOT_STATUSES or c.assignee_id is not UNSET):
            raise GatewayError(
                ErrorCode.FORBIDDEN, "the bot can only set status agent_requested, resolved, closed"
            )
        assignee: tuple[str | None] | None = None
        if c.assignee_id is not UNSET:
            if c.assignee_id is not None and (
                await self._store.get_agent(principal.org_id, str(c.assignee_id)) is None
            ):
                raise GatewayError.not_found("agent", "$.assignee_id")
            assignee = (None if c.assignee_id is None else str(c.assignee_id),)
        epoch = None if c.epoch is UNSET else c.epoch
        at = now()

        def decide(conversation: Conversation) -> Plan:
            if principal.kind == "bot" and conversation.handler is not Handler.BOT:
                raise GatewayError(
                    ErrorCode.CONTROL_LOST, "a human has taken over; the bot can no longer act"
                )
            return plan_update(
                conversation,
                status=status,
                assignee=assignee,
                epoch=epoch,
                actor_agent_id=principal.agent_id,
                at=at,
            )

        applied = await self._commit(principal, c.conversation_id, decide)
        return applied.conversation

    # -- messages -------------------------------------------------------------------------

    async def send_message(self, ctx: Context, c: cmd.SendMessage) -> Sent:
        principal = ctx.require()
        role = _sending_role(principal, c)
        if c.private:
            _check_note(principal, role)
        sender_id = principal.agent_id if role is Role.AGENT else None
        if c.external_sender_id is not UNSET:
            if role is not Role.LIVE_AGENT:
                raise GatewayError(
                    ErrorCode.VALIDATION_ERROR,
                    "external_sender_id goes with role live_agent",
                    details={"path": "$.external_sender_id"},
                )
            sender_id = c.external_sender_id
        sent_at = None if c.created_at is UNSET else _millis(c.created_at)
        if sent_at is not None and role is not Role.LIVE_AGENT:
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR,
                "created_at goes with role live_agent",
                details={"path": "$.created_at"},
            )
        if principal.kind == "api_key" and c.agent_id is not UNSET:
            if role not in (Role.AGENT, Role.LIVE_AGENT):
                raise GatewayError(
                    ErrorCode.VALIDATION_ERROR,
                    "agent_id goes with role agent",
                    details={"path": "$.agent_id"},
                )
            if await self._store.get_agent(principal.org_id, str(c.agent_id)) is None:
                raise GatewayError.not_found("agent", "$.agent_id")
            sender_id = str(c.agent_id)
        if principal.is_visitor and principal.widget_id is not None:
            widget = await self._store.get_widget(principal.org_id, principal.widget_id)
            if widget is not None:
                await self._limits.visitor_message(widget.id, widget.messages_per_minute)
        client_message_id = None if c.client_message_id is UNSET else c.client_message_id
        epoch = None if c.epoch is UNSET else c.epoch
        attachments: tuple[dict[str, Any], ...] = ()
        if c.attachments:
            # Check access before fetching anything on the caller's behalf.
            await self._conversation(ctx, c.conversation_id)
            attachments = await self._attachments.resolve(
                principal.org_id, ctx.base_url, c.attachments, contact_id=principal.contact_id
            )
        metadata = {**c.metadata, "source": "api" if ctx.transport == "http" else "socket"}
        at = now()

        def decide(conversation: Conversation) -> Plan:
            if sent_at is not None:
                _check_sent_at(sent_at, conversation, at)
            message = NewMessage(
                role=role,
                sender_id=conversation.contact_id if role is Role.VISITOR else sender_id,
                content=c.content,
                attachments=attachments,
                metadata=metadata,
                client_message_id=client_message_id,
                created_at=sent_at,
                private=c.private,
            )
            return plan_message(conversation, message, epoch=epoch, at=at)

        applied = await self._commit(
            principal,
            c.conversation_id,
            decide,
            client_message_id=client_message_id,
            then=self._heard if role is Role.VISITOR else None,
        )
        if applied.replayed is not None:
            if applied.replayed.private and not is_staff(principal):
                # Another sender's private note under this client_message_id: never shown.
                raise GatewayError(
                    ErrorCode.IDEMPOTENCY_CONFLICT,
                    "client_message_id is already used in this conversation",
                    details={"path": "$.client_message_id"},
                )
            return Sent(applied.replayed, applied.conversation, replayed=True)
        # A plan for a message always ends with that message (after any takeover steps).
        return Sent(applied.messages[-1], applied.conversation, replayed=False)

    async def _heard(self, applied: Applied) -> None:
        """Tell the hooks of a visitor message just stored (a failing hook is logged)."""
        message = applied.messages[-1]
        for hook in self.on_visitor_message:
            try:
                await hook(applied.conversation, message)
            except Exception:
                log.exception("a hook failed on visitor message %s", message.id)

    async def post_bot_answer(self, ctx: Context, c: cmd.PostBotAnswer) -> Sent:
        """Store a bot's (streamed) answer under its announced id, fenced by ``epoch``."""
        principal = ctx.require()
        if principal.kind != "bot":
            raise GatewayError(ErrorCode.FORBIDDEN, "only the bot posts bot answers")
        at = now()

        def decide(conversation: Conversation) -> Plan:
            message = NewMessage(
                role=Role.BOT,
                sender_id=c.bot_id,
                content=c.content,
                metadata=c.metadata,
                id=str(c.message_id),
            )
            return plan_message(conversation, message, epoch=c.epoch, at=at)

        applied = await self._commit(principal, c.conversation_id, decide)
        return Sent(applied.messages[-1], applied.conversation, replayed=False)

    async def end_conversation(self, ctx: Context, c: cmd.EndConversation) -> Conversation:
        principal = ctx.require()
        at = now()

        def decide(conversation: Conversation) -> Plan:
            if principal.kind == "bot" and conversation.handler is not Handler.BOT:
                raise GatewayError(
                    ErrorCode.CONTROL_LOST, "a human has taken over; the bot can no longer act"
                )
            return plan_end(conversation, at=at)

        applied = await self._commit(principal, c.conversation_id, decide)
        return applied.conversation

    async def list_messages(self, ctx: Context, c: cmd.ListMessages) -> MessagePage:
        conversation = await self._conversation(ctx, c.conversation_id)
        rows = await self._store.list_messages(
            conversation.id, c.after_seq, c.limit + 1, with_private=is_staff(ctx.require())
        )
        page, more = rows[: c.limit], len(rows) > c.limit
        return MessagePage(page, more, page[-1].seq if page else c.after_seq)

    async def read_events(self, ctx: Context, c: cmd.ReadEvents) -> list[StoredEvent]:
        conversation = await self._conversation(ctx, c.conversation_id)
        return list(
            await self._store.read_events(
                conversation.id, c.after_seq, c.limit, with_private=is_staff(ctx.require())
            )
        )

    # -- files ----------------------------------------------------------------------------

    async def store_upload(self, ctx: Context, c: cmd.StoreUpload) -> dict[str, Any]:
        conversation = await self._conversation(ctx, c.conversation_id)
        return await self._attachments.upload(
            conversation.org_id, conversation.id, c.data, c.filename, c.content_type
        )

    async def get_file(self, ctx: Context, c: cmd.GetFile) -> tuple[StoredFile, bytes]:
        # Staff read any file of their org; a visitor only those of their own conversations
        # (the same rule as for the conversations themselves), else not_found.
        principal = ctx.require()
        return await self._attachments.read(
            principal.org_id, c.sha256, contact_id=principal.contact_id
        )

    # -- presence -------------------------------------------------------------------------

    async def set_typing(self, ctx: Context, c: cmd.SetTyping) -> None:
        principal = ctx.require()
        conversation = await self._conversation(ctx, c.conversation_id)
        event = TypingChanged(conversation.id, c.on, _actor_role(principal), _actor_id(principal))
        if principal.agent_id is not None:
            # Staff see who (collision warnings); visitors get the event without these.
            agent = await self._store.get_agent(principal.org_id, principal.agent_id)
            name = None if agent is None else agent.name
            event = replace(event, agent_id=principal.agent_id, agent_name=name)
        await self._publisher.publish(principal.org_id, (event,))

    async def mark_read(self, ctx: Context, c: cmd.MarkRead) -> ReadPosition:
        principal = ctx.require()
        conversation = await self._conversation(ctx, c.conversation_id)
        seq = min(c.seq, conversation.last_seq)
        stored = await self._store.mark_read(conversation.id, principal.identity, seq, now())
        event = ReadMarked(conversation.id, stored, _actor_role(principal), _actor_id(principal))
        await self._publisher.publish(principal.org_id, (event,))
        return ReadPosition(conversation.id, stored)


# -- helpers ------------------------------------------------------------------------------


def _visible(principal: Principal, conversation: Conversation) -> bool:
    if conversation.org_id != principal.org_id:
        return False
    return not principal.is_visitor or conversation.contact_id == principal.contact_id


def _check_note(principal: Principal, role: Role) -> None:
    if not is_staff(principal):
        raise GatewayError(ErrorCode.FORBIDDEN, "only agents and API keys write private notes")
    if role is not Role.AGENT:
        raise GatewayError(
            ErrorCode.VALIDATION_ERROR,
            f"a private note is written as role agent, not {role}",
            details={"path": "$.role"},
        )


def _sending_role(principal: Principal, c: cmd.SendMessage) -> Role:
    if principal.kind == "api_key":
        role = Role.AGENT if c.role is UNSET else c.role
        if role not in API_KEY_ROLES:
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR,
                f"an API key cannot send as {role}",
                details={"path": "$.role"},
            )
        return role
    own = PRINCIPAL_ROLE[principal.kind]
    if c.role is not UNSET and c.role is not own:
        raise GatewayError(ErrorCode.FORBIDDEN, f"this token sends as {own}, not {c.role}")
    return own


def _actor_role(principal: Principal) -> str:
    return PRINCIPAL_ROLE.get(principal.kind, Role.AGENT).value


def _actor_id(principal: Principal) -> str | None:
    return principal.contact_id or principal.agent_id


def _millis(at: datetime) -> datetime:
    """``at`` in UTC, truncated to milliseconds (what every stamped time keeps)."""
    utc = at.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _check_sent_at(sent_at: datetime, conversation: Conversation, at: datetime) -> None:
    """A message's own time must fall within its conversation's life so far, give or take
    ``CLOCK_SKEW`` (the sender's clock and ours differ a little; years do not)."""
    if sent_at > at + CLOCK_SKEW:
        problem = "is in the future"
    elif sent_at < conversation.created_at - CLOCK_SKEW:
        problem = "is before the conversation started"
    else:
        return
    raise GatewayError(
        ErrorCode.VALIDATION_ERROR,
        f"created_at {problem} (more than {CLOCK_SKEW.seconds // 60} minutes of clock skew)",
        details={"path": "$.created_at"},
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def _new_contact(org_id: str, widget_id: str | None, contact: cmd.ContactInput) -> Contact:
    return Contact(
        id=str(uuid.uuid4()),
        org_id=org_id,
        widget_id=widget_id,
        external_id=contact.external_id,
        name=contact.name,
        email=contact.email,
        metadata=contact.metadata,
        created_at=now(),
    )


def _quietly(hook: Callable[[Conversation], None], conversation: Conversation) -> None:
    try:
        hook(conversation)
    except Exception:
        log.exception("a change hook failed on conversation %s", conversation.id)


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
