"""Vendor dialects: the "send a message into a conversation" APIs of hosted chat products,
spoken exactly, as thin translators over the native command bus.

Each dialect turns a vendor request into the same command a native request would be, dispatches
it, and renders the result and every ``GatewayError`` in the vendor's shapes, from one table of
codes per dialect. No dialect decides anything the native API does not. See docs/dialects.md.


Lives here: what the dialects share (``common``), one module per vendor (``bland``,
``pingback``, ``awardee``, ``livechatai`` with its answers and streams in
``livechatai_answers`` and its plain-text answers in ``plaintext``), their OpenAPI sections
(``openapi``), and their routes together (``routes``).

May import: ``gateway.http`` (route helpers, responses, files), ``gateway.bot`` (the turns
LiveChatAI follows), ``gateway.core`` and below.
Must not import ``gateway.realtime``, ``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
