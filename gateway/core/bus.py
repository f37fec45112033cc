"""The command bus: one path for REST requests, socket frames and dialect requests.

``dispatch(ctx, command)`` finds the handler registered for the command's type, runs it, and
returns its result or raises ``GatewayError``. Logging and metrics live here, around every
handler. Unexpected exceptions are logged with their traceback and become ``internal``
(no detail reaches the client); storage failures become ``unavailable``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from gateway.core.auth import Principal
from gateway.core.metrics import Metrics
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.errors import StorageError

__all__ = ["CommandBus", "Context", "Handler"]

log = logging.getLogger(__name__)

C = TypeVar("C")
Handler = Callable[["Context", C], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Context:
    """Who asks, and through what.

    ``principal`` is None only for the anonymous widget-session request. ``origin`` is the
    browser ``Origin`` of the request or of the WebSocket upgrade; ``base_url`` the gateway's
    address as the client reached it (``http://host:port``): it recognises absolute URLs of
    the gateway's own files a client sends back, and is never stored;
    ``client_address`` the caller's address (``core.clients``), None when unknown;
    ``sign_in_session`` the id of the sign-in session a cookie-authenticated request comes
    with (``handlers.accounts``) and ``csrf_token`` its CSRF token; ``user_agent`` the HTTP
    ``User-Agent``.
    """

    principal: Principal | None
    #: ``bot``: the gateway's own bot (``gateway.bot``), answering in a turn.
    transport: Literal["http", "ws", "bot"]
    request_id: str
    session_id: str | None = None
    origin: str | None = None
    base_url: str | None = None
    client_address: str | None = None
    sign_in_session: str | None = None
    csrf_token: str | None = None
    user_agent: str | None = None

    def require(self) -> Principal:
        if self.principal is None:
            raise GatewayError(ErrorCode.UNAUTHORIZED, "missing credentials")
        return self.principal


class CommandBus:
    """Maps command types to handlers; ``gateway.handlers.wiring.build_bus`` registers them."""

    def __init__(self, metrics: Metrics) -> None:
        self._handlers: dict[type[Any], Handler[Any]] = {}
        self._metrics = metrics
        # prometheus_client's ``labels()`` takes a lock and builds a key on every call:
        # each (command, transport, outcome) and command's child is looked up once here.
        self._counted: dict[tuple[str, str, str], Any] = {}
        self._timed: dict[str, Any] = {}

    def register(self, command_type: type[C], handler: Handler[C]) -> None:
        if command_type in self._handlers:
            raise RuntimeError(f"a handler for {command_type.__name__} is already registered")
        self._handlers[command_type] = handler

    async def dispatch(self, ctx: Context, command: Any) -> Any:
        """Run the handler of ``command``.

        Raises:
            GatewayError: the handler's refusal, ``unavailable`` for a storage failure, or
                ``internal`` for anything unexpected (logged with its traceback).
        """
        name = type(command).__name__
        handler = self._handlers.get(type(command))
        if handler is None:
            raise RuntimeError(f"no handler registered for {name}")
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await handler(ctx, command)
        except GatewayError as exc:
            outcome = exc.code.value
            raise
        except StorageError:
            outcome = ErrorCode.UNAVAILABLE.value
            log.exception("storage failed in %s (request %s)", name, ctx.request_id)
            raise GatewayError(
                ErrorCode.UNAVAILABLE, "storage is unavailable, retry later", temporary=True
            ) from None
        except Exception:
            outcome = ErrorCode.INTERNAL.value
            log.exception("%s failed (request %s)", name, ctx.request_id)
            raise GatewayError(ErrorCode.INTERNAL, "internal error") from None
        finally:
            elapsed = time.perf_counter() - started
            key = (name, ctx.transport, outcome)
            counter = self._counted.get(key)
            if counter is None:
                counter = self._counted[key] = self._metrics.commands.labels(*key)
            counter.inc()
            timer = self._timed.get(name)
            if timer is None:
                timer = self._timed[name] = self._metrics.command_seconds.labels(name)
            timer.observe(elapsed)
