"""Serving one REST request: credentials, rate limits, body, idempotency, errors, command.

``serve`` is the one path every HTTP route that runs a command takes (the ``/v1`` table of
``routes``, the file routes, the dialects): authenticate, count against the rate limits,
check a visitor route's browser origin, read the body, honour ``Idempotency-Key``, render
errors. ``endpoint`` serves a row of ``routes.OPERATIONS`` on top of it: the row's role, its
command built from the request (``command_of``), the session cookies of sign-in and
sign-out. Request bodies are JSON objects (whatever the Content-Type); a POST or DELETE may
send no body at all (``{}``), a PATCH may not; path parameters override body fields; GET
query parameters are converted to the command's types. No body, query or path parameter may
hold U+0000 (``bad_request``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from gateway.core.access import ADMIN_ONLY
from gateway.core.auth import Principal
from gateway.core.bus import Context
from gateway.core.results import AccountView, SignedOut, render
from gateway.handlers.accounts import NewSession, SignedIn
from gateway.http.cors import CorsGrant
from gateway.http.responses import error_response, json_response, request_id_of
from gateway.http.services import http_services
from gateway.http.sessions import clear_session_cookies, cookie_session, set_session_cookies
from gateway.media.attachments import base_url_of
from protocol.bounds import check_text
from protocol.codes import ErrorCode
from protocol.encoding import JSON
from protocol.errors import GatewayError, ProtocolError
from protocol.validation import parse
from storage.errors import StorageError

__all__ = [
    "Served",
    "bearer_token",
    "command_of",
    "endpoint",
    "json_object",
    "query_of",
    "read_body",
    "serve",
]

log = logging.getLogger(__name__)


class Served(Protocol):
    """What serving needs of an operation (``routes.Operation``)."""

    @property
    def method(self) -> str: ...
    @property
    def command(self) -> type[Any]: ...
    @property
    def status(self) -> int: ...
    @property
    def anonymous(self) -> bool: ...
    @property
    def tag(self) -> str: ...
    @property
    def role(self) -> str: ...


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise GatewayError(ErrorCode.UNAUTHORIZED, "use 'Authorization: Bearer <credential>'")
    return credential.strip()


async def endpoint(op: Served, request: Request) -> Response:
    """One request to a row of ``routes.OPERATIONS``: check its role, build its command,
    dispatch it, render the result (a sign-in or sign-out also sets or clears the cookies)."""

    async def run(ctx: Context, body: bytes) -> Response:
        if op.role == "admin" and not ctx.require().is_admin:
            raise GatewayError(ErrorCode.FORBIDDEN, ADMIN_ONLY)
        gateway = http_services(request)
        result = await gateway.bus.dispatch(ctx, command_of(op, request, body))
        if isinstance(result, NewSession):
            view = AccountView(result.agent, result.csrf_token, result.expires_at)
            response = json_response(render(view), op.status)
            set_session_cookies(response, result, request)
            return response
        response = json_response(render(result), op.status)
        if isinstance(result, SignedOut):
            clear_session_cookies(response, request)
        return response

    return await serve(
        request,
        run,
        anonymous=op.anonymous,
        read=op.method in ("POST", "PATCH"),
        # A sign-in's answer must not be kept and replayed (it opens a session each time).
        idempotent=op.tag != "auth",
    )


async def serve(
    request: Request,
    run: Callable[[Context, bytes], Awaitable[Response]],
    *,
    credential: Callable[[Request], str | None] = bearer_token,
    anonymous: bool = False,
    read: bool = True,
    on_error: Callable[[GatewayError, str], Response] = error_response,
    idempotent: bool = True,
) -> Response:
    """One REST request: authenticate (a bearer credential, else on ``/v1`` the session
    cookie, ``http.sessions``), count it against the caller's rate limits, check the browser
    origin of a visitor route (``http.cors``), read the body, honour ``Idempotency-Key`` on
    POST (unless ``idempotent`` is False), run, and render any ``GatewayError`` with
    ``on_error`` (the native envelope, or a dialect's own). Storage failures outside the bus
    become ``unavailable``. Answers of visitor routes carry their CORS headers."""
    cors = CorsGrant.of(request)
    response = await _serve(
        request, run, credential, anonymous, read and idempotent, read, on_error, cors
    )
    return response if cors is None else cors.apply(response)


async def _serve(
    request: Request,
    run: Callable[[Context, bytes], Awaitable[Response]],
    credential: Callable[[Request], str | None],
    anonymous: bool,
    idempotent: bool,
    read: bool,
    on_error: Callable[[GatewayError, str], Response],
    cors: CorsGrant | None,
) -> Response:
    gateway = http_services(request)
    request_id = request_id_of(request)
    try:
        secret = credential(request)
        principal: Principal | None = None
        signed: SignedIn | None = None
        if secret is None and not anonymous and credential is bearer_token:
            signed = await cookie_session(request, gateway)
        if signed is not None:
            principal = signed.principal
        elif secret is not None or not anonymous:
            principal = await gateway.authenticator.authenticate(secret)
        address = gateway.clients.of(request.scope)
        await gateway.limits.admit(principal, address)
        if cors is not None:
            await cors.admit(principal, gateway.origins)
        ctx = Context(
            principal,
            "http",
            request_id,
            origin=request.headers.get("origin"),
            base_url=base_url_of(request.scope),
            client_address=address,
            sign_in_session=None if signed is None else signed.session.id,
            csrf_token=None if signed is None else signed.csrf_token,
            user_agent=request.headers.get("user-agent"),
        )
        body = b""
        if read:
            body = await read_body(request, gateway.settings.max_body_bytes)

        async def attempt() -> Response:
            try:
                return await run(ctx, body)
            except GatewayError as exc:
                return on_error(exc, request_id)

        key = request.headers.get("idempotency-key")
        if idempotent and request.method == "POST" and key is not None:
            caller = principal.identity if principal is not None else f"anonymous:{ctx.origin}"
            scope = f"{caller} POST {request.url.path}"
            return await gateway.idempotency.run(scope, key, body, attempt)
        return await attempt()
    except GatewayError as exc:
        return on_error(exc, request_id)
    except StorageError:  # idempotency keys live outside the bus
        log.exception(
            "storage failed for %s %s (request %s)", request.method, request.url.path, request_id
        )
        unavailable = GatewayError(
            ErrorCode.UNAVAILABLE, "storage is unavailable, retry later", temporary=True
        )
        return on_error(unavailable, request_id)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> GatewayError:
    return GatewayError(ErrorCode.PAYLOAD_TOO_LARGE, f"request body larger than {limit} bytes")


def json_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object, decoded by ``protocol`` (so within its depth bound).

    Raises:
        ProtocolError: ``bad_request`` for an empty or whitespace-only body, malformed JSON
            or JSON nested too deep; ``validation_error`` for JSON that is not an object.
    """
    if not body.strip():
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the body is empty: send a JSON object")
    payload = JSON.decode(body)
    if not isinstance(payload, dict):
        raise ProtocolError(ErrorCode.VALIDATION_ERROR, "the body must be a JSON object")
    return payload


def query_of(request: Request) -> dict[str, Any]:
    """The query parameters, holding no U+0000, as a body may not (``bad_request``)."""
    return check_text(dict(request.query_params))  # type: ignore[no-any-return]


def command_of(op: Served, request: Request, body: bytes) -> Any:
    """The command of ``op`` from the query (GET) or body, and the path parameters."""
    if op.method == "GET":
        payload: dict[str, Any] = query_of(request)
    elif not body and op.method != "PATCH":
        payload = {}  # no body at all: an action that needs no fields, e.g. POST .../end
    else:
        payload = json_object(body)
    payload.update(check_text(request.path_params))
    # Query strings are text: there "limit=10" may stand for the int 10.
    return parse(op.command, payload, strict=op.method != "GET")
