"""Commands of an org's knowledge base: articles, imported pages, and a test search.
Re-exported by ``protocol.commands`` with the others.

An article's ``title`` and Markdown ``body`` may not be blank; a ``url`` is where a visitor
can read it (the link a bot cites). An imported page is fetched from ``url`` (http or https,
public addresses only) and kept as an article of that url: importing it again updates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from protocol.fields import NOT_BLANK, Cursor, PageSize, Url, blank
from protocol.validation import Invalid

__all__ = [
    "MAX_ARTICLE_CHARS",
    "CreateArticle",
    "DeleteArticle",
    "GetArticle",
    "ImportArticle",
    "ListArticles",
    "SearchKnowledge",
    "UpdateArticle",
]

#: The longest article body sent through the API, in characters (as long as a message may
#: be; an imported page's text may be longer: ``gateway.media.pages``).
MAX_ARTICLE_CHARS: Final = 20_000

Title = Annotated[str, Meta(min_length=1, max_length=300)]
Body = Annotated[str, Meta(min_length=1, max_length=MAX_ARTICLE_CHARS)]

#: ``title`` and ``body``, when sent, are not blank (as ``_not_blank`` checks).
_NOT_BLANK_TEXTS: Final[Mapping[str, Any]] = {
    "properties": {"title": {"pattern": NOT_BLANK}, "body": {"pattern": NOT_BLANK}}
}


def _not_blank(command: Any) -> None:
    for name in ("title", "body"):
        value = getattr(command, name)
        if isinstance(value, str) and blank(value):
            raise Invalid(f"{name} is blank: send some text", at=f".{name}")


@dataclass(frozen=True, slots=True)
class CreateArticle:
    title: Title
    #: Markdown; cut into passages on its headings and paragraphs for the search.
    body: Body
    url: Url | None = None

    schema_rules: ClassVar[Mapping[str, Any]] = _NOT_BLANK_TEXTS

    def __post_init__(self) -> None:
        _not_blank(self)


@dataclass(frozen=True, slots=True)
class ListArticles:
    limit: PageSize = 50
    cursor: Cursor | UnsetType = UNSET


@dataclass(frozen=True, slots=True)
class GetArticle:
    article_id: UUID


@dataclass(frozen=True, slots=True)
class UpdateArticle:
    """What is sent replaces; ``url: null`` removes the link. The passages are indexed
    again."""

    article_id: UUID
    title: Title | UnsetType = UNSET
    body: Body | UnsetType = UNSET
    url: Url | None | UnsetType = UNSET

    schema_rules: ClassVar[Mapping[str, Any]] = _NOT_BLANK_TEXTS

    def __post_init__(self) -> None:
        _not_blank(self)


@dataclass(frozen=True, slots=True)
class DeleteArticle:
    article_id: UUID


@dataclass(frozen=True, slots=True)
class ImportArticle:
    """Fetch the page at ``url`` and keep its main text (navigation, headers, footers left
    out) as an article with the page's title; a url imported before updates that article."""

    url: Url


@dataclass(frozen=True, slots=True)
class SearchKnowledge:
    """The passages a bot would find for ``q``, best first, each with its score (none for an
    empty ``q``)."""

    q: Annotated[str, Meta(max_length=1000)] = ""
    limit: Annotated[int, Meta(ge=1, le=20)] = 3
