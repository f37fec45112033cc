"""The native REST API (``/v1``): each route builds a command, dispatches it, encodes the result.

Routes are declared once in ``OPERATIONS``; the same table generates the OpenAPI document.
Each operation's tag decides who may call it (``Operation.role``, docs/dashboard.md "Roles"):
the tags of ``ADMIN_TAGS`` need an API key or an ``admin`` agent, whatever the handler does.
Request bodies are JSON objects (whatever the Content-Type); a POST or DELETE may send no
body at all (``{}``), a PATCH may not; path parameters override body fields; GET query
parameters are converted to the command's types. No body, query or path parameter may hold
U+0000 (``bad_request``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.core.access import ADMIN_ONLY
from gateway.core.auth import Principal
from gateway.core.bus import Context
from gateway.core.results import (
    AccountView,
    AgentPresence,
    ArticlePage,
    BotView,
    ConversationPage,
    CreatedApiKey,
    Deleted,
    DeliveryDetail,
    DeliveryPage,
    IdentitySecret,
    Invitation,
    IssuedToken,
    KnowledgeMatches,
    MessagePage,
    ReadPosition,
    Replayed,
    ResetLink,
    SearchPage,
    SignedOut,
    Viewer,
    WebhookView,
    WidgetConfig,
    WidgetSession,
    render,
)
from gateway.handlers.accounts import NewSession, SignedIn
from gateway.http.cors import CorsGrant
from gateway.http.responses import error_response, json_response, request_id_of
from gateway.http.services import http_services
from gateway.http.sessions import clear_session_cookies, cookie_session, set_session_cookies
from gateway.media.attachments import base_url_of
from protocol import commands as cmd
from protocol.bounds import check_text
from protocol.codes import ErrorCode
from protocol.encoding import JSON
from protocol.errors import GatewayError, ProtocolError
from protocol.validation import parse
from storage.errors import StorageError
from storage.models import Agent, ApiKey, Article, Conversation, Message, Widget

__all__ = [
    "ADMIN_TAGS",
    "OPERATIONS",
    "Operation",
    "bearer_token",
    "read_body",
    "json_object",
    "query_of",
    "rest_routes",
    "serve",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Operation:
    """One REST operation: method + path -> command -> rendered result."""

    method: str
    path: str
    command: type[Any]
    summary: str
    result: Any
    status: int = 200
    #: Credentials optional (the widget session endpoint, signing in).
    anonymous: bool = False
    tag: str = "conversations"

    @property
    def role(self) -> str:
        """Who may call it: ``admin`` (an API key or an admin agent), ``agent`` (any
        credential the handler accepts) or ``anyone`` (no credential needed)."""
        if self.anonymous:
            return "anyone"
        return "admin" if self.tag in ADMIN_TAGS else "agent"


#: Tags whose operations administer the org: API keys and ``admin`` agents only.
ADMIN_TAGS = frozenset({"admin", "webhooks", "bots", "knowledge"})


def _listing(of: type[Any]) -> Any:
    return dict[str, list[of]]  # type: ignore[valid-type]


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/v1/conversations",
        cmd.StartConversation,
        "Start a conversation",
        Conversation,
        201,
    ),
    Operation(
        "GET",
        "/v1/conversations",
        cmd.ListConversations,
        "List conversations, newest first",
        ConversationPage,
    ),
    Operation(
        "GET",
        "/v1/conversations/{conversation_id}",
        cmd.GetConversation,
        "Get a conversation",
        Conversation,
    ),
    Operation(
        "PATCH",
        "/v1/conversations/{conversation_id}",
        cmd.UpdateConversation,
        "Change status or assignee",
        Conversation,
    ),
    Operation(
        "POST",
        "/v1/conversations/{conversation_id}/messages",
        cmd.SendMessage,
        "Send a message",
        Message,
        201,
    ),
    Operation(
        "POST",
        "/v1/conversations/{conversation_id}/end",
        cmd.EndConversation,
        "End a conversation (status closed, ended_at stamped)",
        Conversation,
    ),
    Operation(
        "GET",
        "/v1/conversations/{conversation_id}/messages",
        cmd.ListMessages,
        "Message history in seq order",
        MessagePage,
    ),
    Operation(
        "POST",
        "/v1/conversations/{conversation_id}/read",
        cmd.MarkRead,
        "Mark the conversation read up to a seq",
        ReadPosition,
    ),
    Operation(
        "POST",
        "/v1/widgets/{widget_id}/sessions",
        cmd.OpenWidgetSession,
        "Open a visitor session (checked against the widget's allowed origins)",
        WidgetSession,
        201,
        anonymous=True,
        tag="sessions",
    ),
    Operation(
        "GET",
        "/v1/widgets/{widget_id}/config",
        cmd.GetWidgetConfig,
        "A widget's look, texts and identity rule, for its script (no credential; checked"
        " against the widget's allowed origins)",
        WidgetConfig,
        anonymous=True,
        tag="sessions",
    ),
    Operation(
        "POST",
        "/v1/tokens",
        cmd.IssueToken,
        "Issue a short-lived socket token for an agent or the bot",
        IssuedToken,
        201,
        tag="sessions",
    ),
    Operation("POST", "/v1/widgets", cmd.CreateWidget, "Create a widget", Widget, 201, tag="admin"),
    Operation("GET", "/v1/widgets", cmd.ListWidgets, "List widgets", _listing(Widget), tag="admin"),
    Operation("GET", "/v1/widgets/{widget_id}", cmd.GetWidget, "Get a widget", Widget, tag="admin"),
    Operation(
        "PATCH", "/v1/widgets/{widget_id}", cmd.UpdateWidget, "Update a widget", Widget, tag="admin"
    ),
    Operation(
        "POST",
        "/v1/widgets/{widget_id}/identity-secret",
        cmd.RotateWidgetIdentitySecret,
        "New identity secret for visitors' user_hash, replacing any at once (shown this once)",
        IdentitySecret,
        tag="admin",
    ),
    Operation(
        "GET",
        "/v1/search",
        cmd.SearchConversations,
        "Search conversations by contact name or email and message text, newest activity"
        " first (staff)",
        SearchPage,
        tag="search",
    ),
    Operation(
        "GET",
        "/v1/agents/presence",
        cmd.ListPresence,
        "Every agent with its presence: online, away or offline (staff)",
        _listing(AgentPresence),
        tag="presence",
    ),
    Operation(
        "GET",
        "/v1/conversations/{conversation_id}/viewers",
        cmd.ListViewers,
        "The agents that have the conversation open now (staff)",
        _listing(Viewer),
        tag="presence",
    ),
    Operation("POST", "/v1/agents", cmd.CreateAgent, "Create an agent", Agent, 201, tag="admin"),
    Operation(
        "POST",
        "/v1/agents/invitations",
        cmd.CreateInvitation,
        "Invite an agent: a one-time link (/app/invite#token=...) to set a password",
        Invitation,
        201,
        tag="admin",
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/password-reset",
        cmd.IssuePasswordReset,
        "A one-time link (/app/reset#token=...) for the agent to set a new password",
        ResetLink,
        201,
        tag="admin",
    ),
    Operation("GET", "/v1/agents", cmd.ListAgents, "List agents", _listing(Agent), tag="admin"),
    Operation("GET", "/v1/agents/{agent_id}", cmd.GetAgent, "Get an agent", Agent, tag="admin"),
    Operation(
        "PATCH",
        "/v1/agents/{agent_id}",
        cmd.UpdateAgent,
        "Change an agent; status disabled refuses its tokens and closes its sockets",
        Agent,
        tag="admin",
    ),
    Operation(
        "DELETE",
        "/v1/agents/{agent_id}",
        cmd.DeleteAgent,
        "Delete an agent (its tokens are refused, its messages stay)",
        Deleted,
        tag="admin",
    ),
    Operation(
        "POST",
        "/v1/api-keys",
        cmd.CreateApiKey,
        "Create an API key (its secret is shown once)",
        CreatedApiKey,
        201,
        tag="admin",
    ),
    Operation(
        "GET", "/v1/api-keys", cmd.ListApiKeys, "List API keys", _listing(ApiKey), tag="admin"
    ),
    Operation(
        "DELETE",
        "/v1/api-keys/{api_key_id}",
        cmd.RevokeApiKey,
        "Revoke an API key",
        ApiKey,
        tag="admin",
    ),
    Operation(
        "POST",
        "/v1/auth/accept-invitation",
        cmd.AcceptInvitation,
        "Accept an invitation: the new agent's name and password (then sign in)",
        Agent,
        201,
        anonymous=True,
        tag="auth",
    ),
    Operation(
        "POST",
        "/v1/auth/reset-password",
        cmd.ResetPassword,
        "Set a new password with a reset link's token (every session of the agent ends)",
        Agent,
        anonymous=True,
        tag="auth",
    ),
    Operation(
        "POST",
        "/v1/auth/sign-in",
        cmd.SignIn,
        "Sign in: sets the chatgate_session (HttpOnly) and chatgate_csrf cookies",
        AccountView,
        anonymous=True,
        tag="auth",
    ),
    Operation(
        "POST",
        "/v1/auth/sign-out",
        cmd.SignOut,
        "Sign out of this session, or (all) of every session of the agent",
        SignedOut,
        tag="auth",
    ),
    Operation(
        "GET",
        "/v1/auth/me",
        cmd.GetMe,
        "The signed-in agent and the CSRF token its changes send (X-CSRF-Token)",
        AccountView,
        tag="auth",
    ),
    Operation(
        "POST",
        "/v1/auth/socket-token",
        cmd.IssueSessionToken,
        "A socket token for the signed-in agent (with its role)",
        IssuedToken,
        201,
        tag="auth",
    ),
    Operation(
        "POST",
        "/v1/webhooks",
        cmd.CreateWebhook,
        "Create a webhook endpoint (its secret is in this answer)",
        WebhookView,
        201,
        tag="webhooks",
    ),
    Operation(
        "GET",
        "/v1/webhooks",
        cmd.ListWebhooks,
        "List webhook endpoints",
        _listing(WebhookView),
        tag="webhooks",
    ),
    Operation(
        "GET",
        "/v1/webhooks/{webhook_id}",
        cmd.GetWebhook,
        "Get a webhook endpoint",
        WebhookView,
        tag="webhooks",
    ),
    Operation(
        "PATCH",
        "/v1/webhooks/{webhook_id}",
        cmd.UpdateWebhook,
        "Change an endpoint; status active resumes a paused one",
        WebhookView,
        tag="webhooks",
    ),
    Operation(
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        cmd.DeleteWebhook,
        "Delete an endpoint (what waits for it is cancelled)",
        Deleted,
        tag="webhooks",
    ),
    Operation(
        "POST",
        "/v1/webhooks/{webhook_id}/rotate-secret",
        cmd.RotateWebhookSecret,
        "New secret; the old one also signs for grace_seconds",
        WebhookView,
        tag="webhooks",
    ),
    Operation(
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        cmd.ListWebhookDeliveries,
        "Deliveries to the endpoint, newest first",
        DeliveryPage,
        tag="webhooks",
    ),
    Operation(
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
        cmd.GetWebhookDelivery,
        "A delivery with its attempts",
        DeliveryDetail,
        tag="webhooks",
    ),
    Operation(
        "POST",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
        cmd.ReplayWebhookDelivery,
        "Send a dead or delivered delivery again (same webhook-id)",
        Replayed,
        tag="webhooks",
    ),
    Operation(
        "POST",
        "/v1/webhooks/{webhook_id}/replay",
        cmd.ReplayWebhookDeliveries,
        "Send again the dead (or all) deliveries created in [since, until)",
        Replayed,
        tag="webhooks",
    ),
    Operation(
        "POST",
        "/v1/bots",
        cmd.CreateBot,
        "Create a bot (a webhook bot's signing secret is in this answer, and never again)",
        BotView,
        201,
        tag="bots",
    ),
    Operation("GET", "/v1/bots", cmd.ListBots, "List bots", _listing(BotView), tag="bots"),
    Operation("GET", "/v1/bots/{bot_id}", cmd.GetBot, "Get a bot", BotView, tag="bots"),
    Operation(
        "PATCH",
        "/v1/bots/{bot_id}",
        cmd.UpdateBot,
        "Change a bot; what is not sent stays (a new webhook secret is in this answer)",
        BotView,
        tag="bots",
    ),
    Operation(
        "DELETE",
        "/v1/bots/{bot_id}",
        cmd.DeleteBot,
        "Delete a bot (the widgets naming it have no bot from then on)",
        Deleted,
        tag="bots",
    ),
    Operation(
        "POST",
        "/v1/knowledge/articles",
        cmd.CreateArticle,
        "Add an article (Markdown) to the knowledge base",
        Article,
        201,
        tag="knowledge",
    ),
    Operation(
        "GET",
        "/v1/knowledge/articles",
        cmd.ListArticles,
        "List the knowledge base's articles, newest first",
        ArticlePage,
        tag="knowledge",
    ),
    Operation(
        "GET",
        "/v1/knowledge/articles/{article_id}",
        cmd.GetArticle,
        "Get an article",
        Article,
        tag="knowledge",
    ),
    Operation(
        "PATCH",
        "/v1/knowledge/articles/{article_id}",
        cmd.UpdateArticle,
        "Change an article (its passages are indexed again)",
        Article,
        tag="knowledge",
    ),
    Operation(
        "DELETE",
        "/v1/knowledge/articles/{article_id}",
        cmd.DeleteArticle,
        "Delete an article and its passages",
        Deleted,
        tag="knowledge",
    ),
    Operation(
        "POST",
        "/v1/knowledge/imports",
        cmd.ImportArticle,
        "Import a web page's main text as an article (again: update it)",
        Article,
        tag="knowledge",
    ),
    Operation(
        "GET",
        "/v1/knowledge/search",
        cmd.SearchKnowledge,
        "The passages a bot would answer a question with, with their scores",
        KnowledgeMatches,
        tag="knowledge",
    ),
)


def rest_routes() -> list[Route]:
    return [
        Route(op.path, partial(_endpoint, op), methods=[op.method], name=op.command.__name__)
        for op in OPERATIONS
    ]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise GatewayError(ErrorCode.UNAUTHORIZED, "use 'Authorization: Bearer <credential>'")
    return credential.strip()


async def _endpoint(op: Operation, request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        if op.role == "admin" and not ctx.require().is_admin:
            raise GatewayError(ErrorCode.FORBIDDEN, ADMIN_ONLY)
        gateway = http_services(request)
        result = await gateway.bus.dispatch(ctx, _command(op, request, body))
        if isinstance(result, NewSession):
            view = AccountView(result.agent, result.csrf_token, result.expires_at)
            response = json_response(render(view), op.status)
            set_session_cookies(response, result, request)
            return response
        response = json_response(render(result), op.status)
        if isinstance(result, SignedOut):
            clear_session_cookies(response, request)
        return response

    return await serve(
        request,
        run,
        anonymous=op.anonymous,
        read=op.method in ("POST", "PATCH"),
        # A sign-in's answer must not be kept and replayed (it opens a session each time).
        idempotent=op.tag != "auth",
    )


async def serve(
    request: Request,
    run: Callable[[Context, bytes], Awaitable[Response]],
    *,
    credential: Callable[[Request], str | None] = bearer_token,
    anonymous: bool = False,
    read: bool = True,
    on_error: Callable[[GatewayError, str], Response] = error_response,
    idempotent: bool = True,
) -> Response:
    """One REST request: authenticate (a bearer credential, else on ``/v1`` the session
    cookie, ``http.sessions``), count it against the caller's rate limits, check the browser
    origin of a visitor route (``http.cors``), read the body, honour ``Idempotency-Key`` on
    POST (unless ``idempotent`` is False), run, and render any ``GatewayError`` with
    ``on_error`` (the native envelope, or a dialect's own). Storage failures outside the bus
    become ``unavailable``. Answers of visitor routes carry their CORS headers."""
    cors = CorsGrant.of(request)
    response = await _serve(
        request, run, credential, anonymous, read and idempotent, read, on_error, cors
    )
    return response if cors is None else cors.apply(response)


async def _serve(
    request: Request,
    run: Callable[[Context, bytes], Awaitable[Response]],
    credential: Callable[[Request], str | None],
    anonymous: bool,
    idempotent: bool,
    read: bool,
    on_error: Callable[[GatewayError, str], Response],
    cors: CorsGrant | None,
) -> Response:
    gateway = http_services(request)
    request_id = request_id_of(request)
    try:
        secret = credential(request)
        principal: Principal | None = None
        signed: SignedIn | None = None
        if secret is None and not anonymous and credential is bearer_token:
            signed = await cookie_session(request, gateway)
        if signed is not None:
            principal = signed.principal
        elif secret is not None or not anonymous:
            principal = await gateway.authenticator.authenticate(secret)
        address = gateway.clients.of(request.scope)
        await gateway.limits.admit(principal, address)
        if cors is not None:
            await cors.admit(principal, gateway.origins)
        ctx = Context(
            principal,
            "http",
            request_id,
            origin=request.headers.get("origin"),
            base_url=base_url_of(request.scope),
            client_address=address,
            sign_in_session=None if signed is None else signed.session.id,
            csrf_token=None if signed is None else signed.csrf_token,
            user_agent=request.headers.get("user-agent"),
        )
        body = b""
        if read:
            body = await read_body(request, gateway.settings.max_body_bytes)

        async def attempt() -> Response:
            try:
                return await run(ctx, body)
            except GatewayError as exc:
                return on_error(exc, request_id)

        key = request.headers.get("idempotency-key")
        if idempotent and request.method == "POST" and key is not None:
            caller = principal.identity if principal is not None else f"anonymous:{ctx.origin}"
            scope = f"{caller} POST {request.url.path}"
            return await gateway.idempotency.run(scope, key, body, attempt)
        return await attempt()
    except GatewayError as exc:
        return on_error(exc, request_id)
    except StorageError:  # idempotency keys live outside the bus
        log.exception(
            "storage failed for %s %s (request %s)", request.method, request.url.path, request_id
        )
        unavailable = GatewayError(
            ErrorCode.UNAVAILABLE, "storage is unavailable, retry later", temporary=True
        )
        return on_error(unavailable, request_id)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (declared or streamed)."""
    too_large = GatewayError(ErrorCode.PAYLOAD_TOO_LARGE, f"request body larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object, decoded by ``protocol`` (so within its depth bound).

    Raises:
        ProtocolError: ``bad_request`` for an empty or whitespace-only body, malformed JSON
            or JSON nested too deep; ``validation_error`` for JSON that is not an object.
    """
    if not body.strip():
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the body is empty: send a JSON object")
    payload = JSON.decode(body)
    if not isinstance(payload, dict):
        raise ProtocolError(ErrorCode.VALIDATION_ERROR, "the body must be a JSON object")
    return payload


def query_of(request: Request) -> dict[str, Any]:
    """The query parameters, holding no U+0000, as a body may not (``bad_request``)."""
    return check_text(dict(request.query_params))  # type: ignore[no-any-return]


def _command(op: Operation, request: Request, body: bytes) -> Any:
    if op.method == "GET":
        payload: dict[str, Any] = query_of(request)
    elif not body and op.method != "PATCH":
        payload = {}  # no body at all: an action that needs no fields, e.g. POST .../end
    else:
        payload = json_object(body)
    payload.update(check_text(request.path_params))
    # Query strings are text: there "limit=10" may stand for the int 10.
    return parse(op.command, payload, strict=op.method != "GET")
