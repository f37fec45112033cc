"""Access rules shared by handlers: who may administer an org (docs/dashboard.md, Roles)."""

from __future__ import annotations

from gateway.core.bus import Context
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["ADMIN_ONLY", "admin_org"]

#: The refusal of an administration to any caller but an API key or an ``admin`` agent.
ADMIN_ONLY = "org administration needs an API key or an agent of role admin"


def admin_org(ctx: Context) -> str:
    """The org of an API key or of an ``admin`` agent; other callers are ``forbidden``."""
    principal = ctx.require()
    if not principal.is_admin:
        raise GatewayError(ErrorCode.FORBIDDEN, ADMIN_ONLY)
    return principal.org_id
