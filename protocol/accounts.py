"""Commands of agent accounts: invitations, password resets, sign-in sessions
(docs/dashboard.md). Re-exported by ``protocol.commands`` with the others.

Passwords are bounded here only loosely (a request cannot carry a huge one); the policy
(``weak_password``) is the gateway's, so that its refusal has its own stable code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from msgspec import Meta

from protocol.fields import AgentRole, Name

__all__ = [
    "AcceptInvitation",
    "CreateInvitation",
    "Email",
    "GetMe",
    "IssuePasswordReset",
    "IssueSessionToken",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "ResetPassword",
    "SignIn",
    "SignOut",
]

#: An email address, loosely: something@somewhere, no spaces or control characters (the
#: ranges are spelled out: ``\s`` differs between Python's and JSON Schema's regexes).
Email = Annotated[
    str, Meta(min_length=3, max_length=254, pattern=r"^[^@\x00-\x20]+@[^@\x00-\x20]+$")
]
#: Shortest and longest password, in characters (the longest bounds the work of hashing).
MIN_PASSWORD = 10
MAX_PASSWORD = 256
#: A password as sent. Its bounds are documented in the schema but checked by the gateway,
#: so that a refusal is ``weak_password`` rather than a bare ``validation_error``.
Password = Annotated[
    str,
    Meta(extra_json_schema={"minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}),
]
#: The token of a one-time link.
LinkToken = Annotated[str, Meta(min_length=1, max_length=256)]


@dataclass(frozen=True, slots=True)
class CreateInvitation:
    """A one-time link that lets ``email`` set a password and join the org as ``role``."""

    email: Email
    role: AgentRole = "agent"
    name: Name | None = None


@dataclass(frozen=True, slots=True)
class IssuePasswordReset:
    """A one-time link that lets an agent set a new password."""

    agent_id: UUID


@dataclass(frozen=True, slots=True)
class AcceptInvitation:
    token: LinkToken
    name: Name
    password: Password


@dataclass(frozen=True, slots=True)
class ResetPassword:
    token: LinkToken
    password: Password


@dataclass(frozen=True, slots=True)
class SignIn:
    email: Email
    password: Password


@dataclass(frozen=True, slots=True)
class SignOut:
    """End this sign-in session, or (``all``) every session of the agent."""

    all: bool = False


@dataclass(frozen=True, slots=True)
class GetMe:
    pass


@dataclass(frozen=True, slots=True)
class IssueSessionToken:
    """A socket token for the signed-in agent."""
