/**
 * The chatgate JavaScript SDK: the socket protocol (docs/protocol.md) with resume by seq,
 * gap backfill over REST, retried sends by `client_message_id`, reconnects with backoff, and
 * the REST calls a chat client needs. Documented in docs/sdk-js.md.
 */

export { Backoff, type BackoffOptions } from "./backoff.js";
export { Chatgate } from "./client.js";
export type {
  ChatgateEvents,
  ChatgateOptions,
  ConnectionState,
  SendOptions,
  SubscribeOptions,
  Subscribed,
  TokenProvider,
} from "./options.js";
export { type CloseAction, ClientErrorCode, CloseCode, closeAction, ErrorCode } from "./codes.js";
export type { Draft } from "./drafts.js";
export type { Listener } from "./emitter.js";
export type {
  FetchInit,
  FetchLike,
  FetchResponse,
  Timers,
  WebSocketConstructor,
  WebSocketLike,
} from "./env.js";
export { ChatgateError, type ChatgateErrorInit } from "./errors.js";
export {
  MAX_FRAME_BYTES,
  type Op,
  type OpFields,
  type OpReplies,
  type SendFields,
  SUBPROTOCOL,
  type UpdateFields,
} from "./frames.js";
export type { PendingSend } from "./outbox.js";
export {
  type Credentials,
  openWidgetSession,
  type RequestOptions,
  RestClient,
  type StartConversationBody,
  type WidgetSessionBody,
} from "./rest.js";
export type * from "./types.js";
