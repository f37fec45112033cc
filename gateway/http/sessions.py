"""Sign-in sessions over HTTP: the two cookies, and the cookie credential of ``/v1`` routes.

``chatgate_session`` (HttpOnly) holds the session's token; ``chatgate_csrf`` (readable by
the page's script) its CSRF token. Both are ``SameSite=Lax``, ``Path=/``, and ``Secure`` when
the request came over https (as uvicorn sees it: behind a proxy listed in
``CHATGATE_TRUSTED_PROXIES``, its ``X-Forwarded-Proto``).

A ``/v1`` request without ``Authorization`` but with the session cookie acts as the signed-in
agent. When its method changes something (anything but GET, HEAD, OPTIONS) it must carry
``X-CSRF-Token`` equal to the CSRF cookie (and to the session's CSRF token), and its
``Origin`` (else its ``Referer``), when it has one, must be the gateway's own:
otherwise ``csrf_failed`` (403). A request with ``Authorization`` ignores the cookies.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from gateway.handlers.accounts import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    NewSession,
    SignedIn,
    check_csrf,
)
from gateway.http.services import HttpServices
from gateway.media.attachments import base_url_of
from storage.models import now

__all__ = ["clear_session_cookies", "cookie_session", "request_origin", "set_session_cookies"]


async def cookie_session(request: Request, gateway: HttpServices) -> SignedIn | None:
    """The session of a ``/v1`` request's cookie (None: no cookie), CSRF checked.

    Raises:
        GatewayError: ``unauthorized`` (the session ended), ``forbidden`` (its agent is
            disabled), ``csrf_failed``.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token or not request.url.path.startswith("/v1/"):
        return None
    signed = await gateway.accounts.session(token)
    check_csrf(
        request.method,
        request.headers.get(CSRF_HEADER),
        request.cookies.get(CSRF_COOKIE),
        signed.csrf_token,
        request_origin(request),
        base_url_of(request.scope),
        gateway.settings.public_url,
    )
    return signed


def request_origin(request: Request) -> str | None:
    """The browser origin of a request: its ``Origin``, else the origin of its ``Referer``."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if not parts.scheme or not parts.netloc:
        return "null"
    return f"{parts.scheme}://{parts.netloc}"


def set_session_cookies(response: Response, session: NewSession, request: Request) -> None:
    secure = request.url.scheme in ("https", "wss")
    max_age = max(0, int((session.expires_at - now()).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        session.csrf_token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="lax",
    )


def clear_session_cookies(response: Response, request: Request) -> None:
    secure = request.url.scheme in ("https", "wss")
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=httponly, samesite="lax")
