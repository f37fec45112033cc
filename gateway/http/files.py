"""File routes: upload into a conversation (multipart) and read a stored file back.

``POST /v1/conversations/{conversation_id}/files`` takes one multipart part named ``file``
(not empty; besides it at most 10 other fields, ignored, and no other file) and answers the
attachment object ``{url, mime, size, sha256, name?}`` to reference in a message's
``attachments``. ``GET /v1/files/{sha256}`` serves the bytes to the staff of the
file's org (an API key, an agent or bot token) and to a visitor whose own conversation the file
belongs to; every other caller gets 404.
"""

from __future__ import annotations

from uuid import UUID

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.core.bus import Context
from gateway.http.responses import json_response
from gateway.http.services import http_services
from gateway.http.serving import serve
from gateway.media.attachments import serving_headers
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.validation import parse

__all__ = ["file_routes", "read_upload"]

#: Room for the multipart framing around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def file_routes() -> list[Route]:
    return [
        Route(
            "/v1/conversations/{conversation_id}/files",
            _upload,
            methods=["POST"],
            name="StoreUpload",
        ),
        Route("/v1/files/{sha256}", _download, methods=["GET"], name="GetFile"),
    ]


async def read_upload(request: Request, conversation_id: UUID) -> cmd.StoreUpload:
    """The ``file`` part of a multipart request, as a ``StoreUpload`` command.

    Raises:
        GatewayError: ``validation_error`` for a body that is not multipart or has no file,
            ``payload_too_large`` for a file over the limit.
    """
    gateway = http_services(request)
    limit = gateway.settings.max_file_bytes
    # Starlette spools file parts without a size limit: bound the whole body up front (the
    # server holds a request to its declared length).
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise GatewayError(ErrorCode.VALIDATION_ERROR, "an upload needs a Content-Length header")
    if int(declared) > limit + MULTIPART_OVERHEAD:
        raise GatewayError(ErrorCode.PAYLOAD_TOO_LARGE, f"files are limited to {limit} bytes")
    try:
        async with request.form(max_files=1, max_fields=10, max_part_size=limit) as form:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise GatewayError(
                    ErrorCode.VALIDATION_ERROR,
                    "send the file as a multipart/form-data part named 'file'",
                    details={"path": "$.file"},
                )
            data = await part.read(limit + 1)
            filename, content_type = part.filename, part.content_type
    except (MultiPartException, HTTPException) as exc:
        # Inside an app Starlette reports a broken or oversized form as HTTPException(400).
        message = exc.message if isinstance(exc, MultiPartException) else exc.detail
        raise GatewayError(ErrorCode.VALIDATION_ERROR, f"bad multipart body: {message}") from None
    if len(data) > limit:
        raise GatewayError(ErrorCode.PAYLOAD_TOO_LARGE, f"files are limited to {limit} bytes")
    return cmd.StoreUpload(conversation_id, data, filename, content_type)


async def _upload(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        # The path's id, checked like any native id (validation_error naming it).
        target = parse(cmd.GetConversation, dict(request.path_params))
        upload = await read_upload(request, target.conversation_id)
        return json_response(await gateway.bus.dispatch(ctx, upload), 201)

    return await serve(request, run, read=False)


async def _download(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        command = parse(cmd.GetFile, dict(request.path_params))
        stored, data = await gateway.bus.dispatch(ctx, command)
        if request.headers.get("if-none-match") == f'"{stored.sha256}"':
            return Response(status_code=304, headers=serving_headers(stored))
        return Response(data, headers=serving_headers(stored), media_type=stored.mime)

    return await serve(request, run, read=False)
