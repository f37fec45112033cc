/**
 * Stable codes, as protocol/codes.py defines them, and what the SDK does on each close code.
 *
 * | close | meaning                                          | the SDK                            |
 * | ----- | ------------------------------------------------ | ---------------------------------- |
 * | 1000  | normal close (by the server: reconnect)          | reconnects, resumes                |
 * | 1001  | the server is going away                         | reconnects, resumes                |
 * | 1006  | the connection dropped (no close frame)          | reconnects, resumes                |
 * | 1009  | a frame over 64 KiB                              | reconnects, resumes                |
 * | 1011  | unexpected server error                          | reconnects, resumes                |
 * | 1012  | the server is restarting                         | reconnects, resumes                |
 * | 4001  | no/invalid/expired token, or its API key revoked | asks the token provider for a new token once, else stops |
 * | 4003  | token not allowed here, or its agent disabled    | stops: `error` with code `forbidden` |
 * | 4008  | slow consumer                                    | reconnects, resumes                |
 * | 4400  | the first frame could not be decoded             | stops: `error` with code `bad_request` |
 */

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  UNAUTHENTICATED: 4001,
  FORBIDDEN: 4003,
  SLOW_CONSUMER: 4008,
  PROTOCOL_ERROR: 4400,
} as const;

/** Error codes of replies and REST errors (protocol/codes.py `ErrorCode`). */
export const ErrorCode = {
  BAD_REQUEST: "bad_request",
  VALIDATION_ERROR: "validation_error",
  UNKNOWN_OP: "unknown_op",
  UNAUTHORIZED: "unauthorized",
  FORBIDDEN: "forbidden",
  NOT_FOUND: "not_found",
  METHOD_NOT_ALLOWED: "method_not_allowed",
  INVALID_STATE: "invalid_state",
  CONTROL_LOST: "control_lost",
  IDEMPOTENCY_CONFLICT: "idempotency_conflict",
  PAYLOAD_TOO_LARGE: "payload_too_large",
  REQUEST_TIMEOUT: "request_timeout",
  RATE_LIMITED: "rate_limited",
  QUOTA_EXCEEDED: "quota_exceeded",
  ATTACHMENT_REJECTED: "attachment_rejected",
  INTERNAL: "internal",
  UNAVAILABLE: "unavailable",
} as const;

/** Codes the SDK itself raises, beside the gateway's. */
export const ClientErrorCode = {
  /** The socket dropped before the reply came (the request may or may not have run). */
  DISCONNECTED: "disconnected",
  /** `close()` was called, or the client stopped for good after a fatal close code. */
  CLOSED: "closed",
  /** No reply within `requestTimeoutMs`; the SDK also restarts the connection. */
  TIMEOUT: "timeout",
  /** fetch failed: no answer from the gateway. */
  NETWORK: "network",
} as const;

/** What the SDK does after a close code. */
export type CloseAction = "reconnect" | "reauthenticate" | "stop";

export function closeAction(code: number): CloseAction {
  switch (code) {
    case CloseCode.UNAUTHENTICATED:
      return "reauthenticate";
    case CloseCode.FORBIDDEN:
    case CloseCode.PROTOCOL_ERROR:
      return "stop";
    default:
      return "reconnect";
  }
}
