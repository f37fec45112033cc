"""``build_bus``: every command type with its handler, registered explicitly in one place."""

from __future__ import annotations

from gateway.core.bus import CommandBus
from gateway.core.metrics import Metrics
from gateway.core.publishing import EventPublisher
from gateway.delivery.webhooks import WebhookHandlers
from gateway.handlers.admin import AdminHandlers
from gateway.handlers.agents import AgentHandlers
from gateway.handlers.auth import AccountHandlers
from gateway.handlers.bots import BotHandlers
from gateway.handlers.contacts import ContactHandlers
from gateway.handlers.conversations import ConversationHandlers
from gateway.handlers.knowledge import KnowledgeHandlers
from gateway.handlers.presence import PresenceHandlers
from gateway.handlers.search import SearchHandlers
from gateway.limits.policy import Limits
from gateway.media.attachments import Attachments
from gateway.presence.tracker import Presence
from protocol import commands as cmd
from storage.base import Store

__all__ = ["build_bus"]


def build_bus(
    store: Store,
    publisher: EventPublisher,
    admin: AdminHandlers,
    agents: AgentHandlers,
    accounts: AccountHandlers,
    webhooks: WebhookHandlers,
    bots: BotHandlers,
    knowledge: KnowledgeHandlers,
    attachments: Attachments,
    limits: Limits,
    metrics: Metrics,
    presence: Presence,
) -> tuple[CommandBus, ConversationHandlers]:
    """Every command type with its handler, in one place."""
    conversations = ConversationHandlers(store, publisher, attachments, limits)
    present = PresenceHandlers(store, presence)
    bus = CommandBus(metrics)
    bus.register(cmd.StartConversation, conversations.start_conversation)
    bus.register(cmd.GetConversation, conversations.get_conversation)
    bus.register(cmd.ListConversations, conversations.list_conversations)
    bus.register(cmd.UpdateConversation, conversations.update_conversation)
    bus.register(cmd.SendMessage, conversations.send_message)
    bus.register(cmd.EndConversation, conversations.end_conversation)
    bus.register(cmd.PostBotAnswer, conversations.post_bot_answer)
    bus.register(cmd.ListMessages, conversations.list_messages)
    bus.register(cmd.StoreUpload, conversations.store_upload)
    bus.register(cmd.GetFile, conversations.get_file)
    bus.register(cmd.ReadEvents, conversations.read_events)
    bus.register(cmd.WatchConversation, conversations.watch_conversation)
    bus.register(cmd.WatchInbox, admin.watch_inbox)
    bus.register(cmd.SetTyping, conversations.set_typing)
    bus.register(cmd.MarkRead, conversations.mark_read)
    bus.register(cmd.SetPresence, present.set_presence)
    bus.register(cmd.SetViewing, present.set_viewing)
    bus.register(cmd.ListPresence, present.list_presence)
    bus.register(cmd.ListViewers, present.list_viewers)
    bus.register(cmd.SearchConversations, SearchHandlers(store).search)
    bus.register(cmd.GetContact, ContactHandlers(store).get_contact)
    bus.register(cmd.OpenWidgetSession, admin.open_widget_session)
    bus.register(cmd.IssueToken, admin.issue_token)
    bus.register(cmd.CreateWidget, admin.create_widget)
    bus.register(cmd.UpdateWidget, admin.update_widget)
    bus.register(cmd.GetWidget, admin.get_widget)
    bus.register(cmd.GetWidgetConfig, admin.get_widget_config)
    bus.register(cmd.RotateWidgetIdentitySecret, admin.rotate_widget_identity_secret)
    bus.register(cmd.ListWidgets, admin.list_widgets)
    bus.register(cmd.CreateAgent, admin.create_agent)
    bus.register(cmd.ListAgents, admin.list_agents)
    bus.register(cmd.GetAgent, agents.get_agent)
    bus.register(cmd.UpdateAgent, agents.update_agent)
    bus.register(cmd.DeleteAgent, agents.delete_agent)
    bus.register(cmd.CreateInvitation, accounts.create_invitation)
    bus.register(cmd.IssuePasswordReset, accounts.issue_password_reset)
    bus.register(cmd.AcceptInvitation, accounts.accept_invitation)
    bus.register(cmd.ResetPassword, accounts.reset_password)
    bus.register(cmd.SignIn, accounts.sign_in)
    bus.register(cmd.SignOut, accounts.sign_out)
    bus.register(cmd.GetMe, accounts.get_me)
    bus.register(cmd.IssueSessionToken, accounts.issue_session_token)
    bus.register(cmd.CreateApiKey, admin.create_api_key)
    bus.register(cmd.ListApiKeys, admin.list_api_keys)
    bus.register(cmd.RevokeApiKey, admin.revoke_api_key)
    bus.register(cmd.CreateWebhook, webhooks.create)
    bus.register(cmd.ListWebhooks, webhooks.list_all)
    bus.register(cmd.GetWebhook, webhooks.get)
    bus.register(cmd.UpdateWebhook, webhooks.update)
    bus.register(cmd.DeleteWebhook, webhooks.delete)
    bus.register(cmd.RotateWebhookSecret, webhooks.rotate_secret)
    bus.register(cmd.ListWebhookDeliveries, webhooks.list_deliveries)
    bus.register(cmd.GetWebhookDelivery, webhooks.get_delivery)
    bus.register(cmd.ReplayWebhookDelivery, webhooks.replay_delivery)
    bus.register(cmd.ReplayWebhookDeliveries, webhooks.replay_range)
    bus.register(cmd.CreateBot, bots.create)
    bus.register(cmd.ListBots, bots.list_all)
    bus.register(cmd.GetBot, bots.get)
    bus.register(cmd.UpdateBot, bots.update)
    bus.register(cmd.DeleteBot, bots.delete)
    bus.register(cmd.CreateArticle, knowledge.create)
    bus.register(cmd.ListArticles, knowledge.list_page)
    bus.register(cmd.GetArticle, knowledge.get)
    bus.register(cmd.UpdateArticle, knowledge.update)
    bus.register(cmd.DeleteArticle, knowledge.delete)
    bus.register(cmd.ImportArticle, knowledge.import_page)
    bus.register(cmd.SearchKnowledge, knowledge.search)
    return bus, conversations
