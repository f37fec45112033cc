"""Bots: the first responder of a widget's conversations (knowledge, llm, webhook).

Empty for now; the bots issue lands here. A bot answers through the command bus with the
conversation's ``epoch`` like any other responder, so this package sits beside the
transports: it may import ``gateway.core``, ``gateway.handlers`` and what they may import,
and must not import ``gateway.http``, ``gateway.realtime``, ``gateway.dialects``,
``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
