/**
 * One error class for everything the SDK rejects or reports:
 *
 *     ChatgateError
 *       code: an ErrorCode of the gateway (an error reply, a REST error, a close code
 *             4001 -> unauthorized, 4003 -> forbidden, 4400 -> bad_request)
 *             or a ClientErrorCode (disconnected, closed, timeout, network)
 *       details, status (REST: the HTTP status), closeCode (socket), requestId (REST)
 */

import { CloseCode, ErrorCode } from "./codes.js";
import type { ErrorBody } from "./types.js";

export interface ChatgateErrorInit {
  details?: unknown;
  status?: number;
  closeCode?: number;
  requestId?: string;
}

export class ChatgateError extends Error {
  override readonly name = "ChatgateError";
  /** A stable code: the gateway's (`not_found`, `rate_limited`, ...) or the SDK's. */
  readonly code: string;
  /** What the gateway said beyond the message (e.g. `{path: "$.content"}`). */
  readonly details: unknown;
  /** The HTTP status, for REST errors. */
  readonly status: number | undefined;
  /** The WebSocket close code, for errors that closed the socket. */
  readonly closeCode: number | undefined;
  /** The gateway's request id, for REST errors. */
  readonly requestId: string | undefined;

  constructor(code: string, message: string, init: ChatgateErrorInit = {}) {
    super(message);
    this.code = code;
    this.details = init.details;
    this.status = init.status;
    this.closeCode = init.closeCode;
    this.requestId = init.requestId;
  }

  static fromBody(body: ErrorBody, init: ChatgateErrorInit = {}): ChatgateError {
    return new ChatgateError(body.code, body.message, { details: body.details, ...init });
  }

  /** Any thrown value as a ChatgateError (`internal` when it is not one). */
  static from(error: unknown): ChatgateError {
    if (error instanceof ChatgateError) return error;
    return new ChatgateError(
      ErrorCode.INTERNAL,
      error instanceof Error ? error.message : String(error),
    );
  }

  static fromClose(code: number, reason: string): ChatgateError {
    const name =
      code === CloseCode.UNAUTHENTICATED
        ? ErrorCode.UNAUTHORIZED
        : code === CloseCode.FORBIDDEN
          ? ErrorCode.FORBIDDEN
          : code === CloseCode.PROTOCOL_ERROR
            ? ErrorCode.BAD_REQUEST
            : "closed";
    return new ChatgateError(name, reason || `the socket closed with ${code}`, { closeCode: code });
  }
}
