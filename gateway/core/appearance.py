"""A widget's look and texts as its script shows them: what its org chose, defaults for the
rest. The default texts follow the widget's language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_COLOR", "DEFAULT_TEXTS", "Look", "look_of"]

DEFAULT_COLOR = "#2563eb"
DEFAULT_POSITION = "right"
DEFAULT_LANGUAGE = "en"

#: The default ``title``, ``greeting`` and ``launcher_text`` of each language.
DEFAULT_TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Chat with us",
        "greeting": "Hi! How can we help you today?",
        "launcher_text": "Chat",
    },
    "fr": {
        "title": "Discutons",
        "greeting": "Bonjour ! Comment pouvons-nous vous aider ?",
        "launcher_text": "Discuter",
    },
}


@dataclass(frozen=True, slots=True)
class Look:
    """Every field filled: what the widget shows."""

    color: str
    position: str
    language: str
    title: str
    greeting: str
    launcher_text: str


def look_of(chosen: Mapping[str, Any]) -> Look:
    """The look of a widget whose org chose ``chosen`` (``Widget.appearance``)."""
    language = chosen.get("language") or DEFAULT_LANGUAGE
    texts = DEFAULT_TEXTS.get(language, DEFAULT_TEXTS[DEFAULT_LANGUAGE])
    return Look(
        color=chosen.get("color") or DEFAULT_COLOR,
        position=chosen.get("position") or DEFAULT_POSITION,
        language=language,
        title=chosen.get("title") or texts["title"],
        greeting=chosen.get("greeting") or texts["greeting"],
        launcher_text=chosen.get("launcher_text") or texts["launcher_text"],
    )
