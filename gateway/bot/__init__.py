"""Bots: the first responder of a widget's conversations (knowledge, llm, webhook).

- ``answers``: what an answer is made of (``Answerer``, its pieces, ``BotFailure``).
- ``knowledge``, ``llm`` (with ``sse``): the answerers of the gateway's own kinds;
  ``kinds`` picks one for a bot.
- ``turns``: ``BotTurns``, the turns of one process, which other surfaces follow;
  ``turn``: ``Turn`` and ``TurnResult``; ``runner``: one turn, from a visitor message to the
  bot's stored answer (typing, ``message.delta``, hand-off, failure); ``handoff``: the
  hand-off rules.

A bot answers through the command bus with the conversation's ``epoch`` like any other
responder, so this package sits beside the transports: it may import ``gateway.core``,
``gateway.handlers`` and what they may import, and must not import ``gateway.http``,
``gateway.realtime``, ``gateway.dialects``, ``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
