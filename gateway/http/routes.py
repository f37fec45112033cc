"""The native REST API (``/v1``): the table of its operations, and their routes.

Routes are declared once in ``OPERATIONS``; the same table generates the OpenAPI document.
Each operation's tag decides who may call it (``Operation.role``, docs/dashboard.md "Roles"):
the tags of ``ADMIN_TAGS`` need an API key or an ``admin`` agent, whatever the handler does.
How a request to one is served (credentials, body, command, errors) is ``http.serving``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.routing import Route

from gateway.core.results import (
    AccountView,
    AgentPresence,
    ArticlePage,
    BotView,
    ContactView,
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
)
from gateway.http.serving import endpoint
from protocol import commands as cmd
from storage.models import Agent, ApiKey, Article, Conversation, Message, Widget

__all__ = ["ADMIN_TAGS", "OPERATIONS", "Operation", "rest_routes"]


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
        "/v1/contacts/{contact_id}",
        cmd.GetContact,
        "Get a contact: the visitor's name, email and metadata (staff; a visitor only their own)",
        ContactView,
        tag="contacts",
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
        Route(op.path, partial(endpoint, op), methods=[op.method], name=op.command.__name__)
        for op in OPERATIONS
    ]
