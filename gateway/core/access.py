"""Access rules shared by handlers: who may administer an org."""

from __future__ import annotations

from gateway.core.bus import Context
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["admin_org"]


def admin_org(ctx: Context) -> str:
    """The org of an API key; other credentials are ``forbidden``."""
    principal = ctx.require()
    if principal.kind != "api_key":
        raise GatewayError(ErrorCode.FORBIDDEN, "org administration needs an API key")
    return principal.org_id
