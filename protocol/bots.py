"""Commands of bots: the first responders of conversations (``knowledge``, ``llm``,
``webhook``), their answers' texts, hand-off rules and limits. Re-exported by
``protocol.commands`` with the others."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from protocol.fields import (
    NOT_BLANK,
    Name,
    Url,
    WebhookSecret,
    blank,
)
from protocol.validation import Invalid

__all__ = [
    "DEFAULT_FALLBACK_ANSWER",
    "DEFAULT_HANDOFF_PHRASES",
    "DEFAULT_UNKNOWN_ANSWER",
    "BotWebhookInput",
    "CreateBot",
    "DeleteBot",
    "GetBot",
    "ListBots",
    "LlmChange",
    "LlmInput",
    "UpdateBot",
]


BotKind = Literal["knowledge", "llm", "webhook"]
#: A text a bot says, or a phrase it listens for: not blank (``_texts_not_blank``; not a
#: ``pattern`` here, which would replace the schema's "no U+0000" one).
BotText = Annotated[str, Meta(min_length=1, max_length=2000)]
Phrase = Annotated[str, Meta(min_length=1, max_length=100)]
Phrases = Annotated[
    tuple[Phrase, ...],
    Meta(
        max_length=50,
        extra_json_schema={"uniqueItems": True, "description": "Each phrase once."},
    ),
]
Confidence = Annotated[float, Meta(ge=0, le=1)]
HandoffAfter = Annotated[int, Meta(ge=0, le=100)]
TimeoutSeconds = Annotated[int, Meta(ge=1, le=300)]
Model = Annotated[str, Meta(min_length=1, max_length=200)]
LlmApiKey = Annotated[str, Meta(min_length=1, max_length=500)]
SystemPrompt = Annotated[str, Meta(min_length=1, max_length=20_000)]

DEFAULT_UNKNOWN_ANSWER = (
    "I'm not sure about that one. Would you like to talk to someone from the team?"
)
DEFAULT_FALLBACK_ANSWER = (
    "Sorry, I can't answer right now. Someone from the team will get back to you here."
)
DEFAULT_HANDOFF_PHRASES = ("human", "agent", "person", "talk to someone")


def _blank_rules(*names: str, items: str | None = None) -> dict[str, Any]:
    """JSON Schema of "these text fields (and the items of ``items``), when sent, are not
    blank", as ``_texts_not_blank`` checks."""
    properties: dict[str, Any] = {name: {"pattern": NOT_BLANK} for name in names}
    if items is not None:
        properties[items] = {"items": {"pattern": NOT_BLANK}}
    return {"properties": properties}


def _texts_not_blank(command: Any, *names: str) -> None:
    for name in names:
        value = getattr(command, name)
        if isinstance(value, str) and blank(value):
            raise Invalid(f"{name} is blank: send some text", at=f".{name}")
    phrases = getattr(command, "handoff_phrases", None)
    if isinstance(phrases, tuple):
        for index, phrase in enumerate(phrases):
            if blank(phrase):
                raise Invalid("a hand-off phrase is blank", at=f".handoff_phrases[{index}]")


_LLM_TEXTS = ("model", "api_key", "system_prompt")
_BOT_TEXTS = ("unknown_answer", "fallback_answer")


@dataclass(frozen=True, slots=True)
class LlmInput:
    """An OpenAI-compatible chat-completions endpoint: ``{base_url}/chat/completions``.
    ``api_key`` is never shown again (reads say ``api_key_set``); without one the gateway's
    ``CHATGATE_LLM_API_KEY`` is used, as its ``CHATGATE_LLM_BASE_URL`` without a
    ``base_url``."""

    model: Model
    #: Without one (or null): the gateway's ``CHATGATE_LLM_BASE_URL``.
    base_url: Url | None = None
    api_key: LlmApiKey | UnsetType = UNSET
    system_prompt: SystemPrompt | None = None

    schema_rules: ClassVar[Mapping[str, Any]] = _blank_rules(*_LLM_TEXTS)

    def __post_init__(self) -> None:
        _texts_not_blank(self, *_LLM_TEXTS)


@dataclass(frozen=True, slots=True)
class LlmChange:
    """What to change of an ``llm`` bot's endpoint; ``null`` clears the URL (the gateway's
    then), the key or the prompt."""

    base_url: Url | None | UnsetType = UNSET
    model: Model | UnsetType = UNSET
    api_key: LlmApiKey | None | UnsetType = UNSET
    system_prompt: SystemPrompt | None | UnsetType = UNSET

    schema_rules: ClassVar[Mapping[str, Any]] = _blank_rules(*_LLM_TEXTS)

    def __post_init__(self) -> None:
        _texts_not_blank(self, *_LLM_TEXTS)


@dataclass(frozen=True, slots=True)
class BotWebhookInput:
    """Where a ``webhook`` bot hears of visitor messages. ``secret`` (``whsec_...``) signs
    them; generated unless given, and shown once."""

    url: Url
    secret: WebhookSecret | UnsetType = UNSET


#: ``llm`` goes with kind ``llm`` and ``webhook`` with kind ``webhook``, and only there.
_KIND_SETTINGS: Final = {"llm": "llm", "webhook": "webhook"}


def _phrases_once(phrases: tuple[str, ...] | UnsetType) -> None:
    """Refuse a phrase listed twice (as JSON Schema's ``uniqueItems`` says: exact copies;
    matching ignores case anyway)."""
    if isinstance(phrases, UnsetType):
        return
    seen: set[str] = set()
    for index, phrase in enumerate(phrases):
        if phrase in seen:
            raise Invalid(f"{phrase!r} is listed twice", at=f".handoff_phrases[{index}]")
        seen.add(phrase)


@dataclass(frozen=True, slots=True)
class CreateBot:
    """A bot of the org. Kind ``knowledge`` answers from the org's knowledge base, ``llm``
    from an OpenAI-compatible endpoint (``llm`` required), ``webhook`` through an outside
    service (``webhook`` required). See docs/bots.md."""

    name: Name
    kind: BotKind = "knowledge"
    confidence_threshold: Confidence = 0.3
    unknown_answer: BotText = DEFAULT_UNKNOWN_ANSWER
    handoff_after: HandoffAfter = 2
    handoff_phrases: Phrases = DEFAULT_HANDOFF_PHRASES
    fallback_answer: BotText = DEFAULT_FALLBACK_ANSWER
    handoff_on_failure: bool = True
    timeout_seconds: TimeoutSeconds = 20
    llm: LlmInput | UnsetType = UNSET
    webhook: BotWebhookInput | UnsetType = UNSET

    schema_rules: ClassVar[Mapping[str, Any]] = {
        **_blank_rules(*_BOT_TEXTS, items="handoff_phrases"),
        "allOf": [
            {
                "if": {"required": ["kind"], "properties": {"kind": {"const": kind}}},
                "then": {"required": [settings]},
                "else": {"not": {"required": [settings]}},
            }
            for kind, settings in _KIND_SETTINGS.items()
        ],
    }

    def __post_init__(self) -> None:
        _texts_not_blank(self, *_BOT_TEXTS)
        _phrases_once(self.handoff_phrases)
        for kind, settings in _KIND_SETTINGS.items():
            given = getattr(self, settings) is not UNSET
            if self.kind == kind and not given:
                raise Invalid(f"kind {kind} needs {settings}", at=f".{settings}")
            if self.kind != kind and given:
                raise Invalid(f"{settings} goes with kind {kind}", at=f".{settings}")


@dataclass(frozen=True, slots=True)
class ListBots:
    pass


@dataclass(frozen=True, slots=True)
class GetBot:
    bot_id: UUID


@dataclass(frozen=True, slots=True)
class UpdateBot:
    """Change a bot; what is not sent stays. A new ``kind`` needs its settings (stored or
    sent: ``llm`` for ``llm``, ``webhook`` for ``webhook``); the other kind's are dropped."""

    bot_id: UUID
    name: Name | UnsetType = UNSET
    kind: BotKind | UnsetType = UNSET
    confidence_threshold: Confidence | UnsetType = UNSET
    unknown_answer: BotText | UnsetType = UNSET
    handoff_after: HandoffAfter | UnsetType = UNSET
    handoff_phrases: Phrases | UnsetType = UNSET
    fallback_answer: BotText | UnsetType = UNSET
    handoff_on_failure: bool | UnsetType = UNSET
    timeout_seconds: TimeoutSeconds | UnsetType = UNSET
    llm: LlmChange | UnsetType = UNSET
    webhook: BotWebhookInput | UnsetType = UNSET

    schema_rules: ClassVar[Mapping[str, Any]] = _blank_rules(*_BOT_TEXTS, items="handoff_phrases")

    def __post_init__(self) -> None:
        _texts_not_blank(self, *_BOT_TEXTS)
        _phrases_once(self.handoff_phrases)


@dataclass(frozen=True, slots=True)
class DeleteBot:
    """Delete a bot: widgets naming it have no bot from then on."""

    bot_id: UUID
