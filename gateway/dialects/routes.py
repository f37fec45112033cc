"""Every dialect's routes, in the order the app mounts them."""

from __future__ import annotations

from starlette.routing import Route

from gateway.dialects import awardee, bland, livechatai, pingback

__all__ = ["dialect_routes"]


def dialect_routes() -> list[Route]:
    return [*bland.routes(), *pingback.routes(), *awardee.routes(), *livechatai.routes()]
