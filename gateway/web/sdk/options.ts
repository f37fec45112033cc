/** The types of `Chatgate`'s options, arguments and events. */

import type { BackoffOptions } from "./backoff.js";
import type { Draft } from "./drafts.js";
import type { FetchLike, Timers, WebSocketConstructor } from "./env.js";
import type { ChatgateError } from "./errors.js";
import type { AnyEventFrame, AttachmentInput, EventFrame, HelloData, Metadata } from "./types.js";

/** `idle` (never connected), `connecting` (a socket and its hello under way), `open`,
 * `reconnecting` (waiting out a backoff delay), `closed` (by `close()` or a fatal close code). */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/**
 * Gives the SDK a token: at the first connect, and again with `refresh: true` after the gateway
 * refused the last one (close 4001, HTTP 401). Throw a `ChatgateError` with code `unauthorized`
 * or `forbidden` to stop; any other error is retried with backoff.
 */
export type TokenProvider = (context: { refresh: boolean }) => string | Promise<string>;

export interface ChatgateOptions {
  /** The gateway's base URL, e.g. `https://chat.example.com` (relative in a browser: resolved
   * against the page). REST goes to `{url}/v1/...`, the socket to `{url}/ws` (ws/wss). */
  url: string;
  /** A visitor, agent or bot token (or an API key, server side), or a provider of one. */
  token: string | TokenProvider;
  /** The socket's URL, when it is not `{url}/ws`. */
  socketUrl?: string;
  /** A WebSocket implementation (default: the global one; in Node 20, e.g. the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /** A fetch implementation (default: the global one). */
  fetch?: FetchLike;
  /** Reconnect delays (default: 500 ms doubling to 30 s, half of each random). */
  backoff?: BackoffOptions;
  /** How long a reply may take before the socket is given up and reconnected. Default 10000. */
  requestTimeoutMs?: number;
  /** A `ping` this often while open, to find a dead socket (0: never). Default 25000. */
  heartbeatMs?: number;
  /** `typing(id, true)` repeated sooner than this sends nothing. Default 3000. */
  typingRefreshMs?: number;
  /** A streamed draft with no chunk for this long is dropped (0: never). Default 60000. */
  draftTimeoutMs?: number;
  /** The clock (tests). */
  timers?: Timers;
  /** Randomness for jitter, in [0, 1) (tests). */
  random?: () => number;
}

export interface SubscribeOptions {
  /** The highest seq you already have: the gateway sends every event after it, then live
   * ones. Default 0: the whole conversation. */
  afterSeq?: number;
}

export interface Subscribed {
  conversation_id: string;
  /** The conversation's last seq when the gateway confirmed the subscription. */
  last_seq: number;
}

export interface SendOptions {
  /** Your id for this message (unique per conversation, up to 128 characters); sending the
   * same id again returns the same promise, or the stored message. Default: a random UUID. */
  clientMessageId?: string;
  attachments?: AttachmentInput[];
  metadata?: Metadata;
  /** For responders (bots): the conversation's epoch they were given. */
  epoch?: number;
  /** Staff only: a private note, never delivered to the visitor. */
  private?: boolean;
}

/** Everything `Chatgate.on` can listen to. */
export interface ChatgateEvents {
  state: { state: ConnectionState; previous: ConnectionState };
  /** After every successful `hello`; `resumed` is false for the first one. */
  ready: { session: HelloData; resumed: boolean };
  /** Something failed that no promise reports: a fatal close code (then state is `closed`),
   * a backfill that will be retried, a subscription the gateway dropped on resume. */
  error: ChatgateError;
  /** Every event emitted below, after ordering. */
  event: AnyEventFrame;
  new_message: EventFrame<"new_message">;
  "conversation.updated": EventFrame<"conversation.updated">;
  "conversation.created": EventFrame<"conversation.created">;
  typing: EventFrame<"typing">;
  read: EventFrame<"read">;
  "message.delta": EventFrame<"message.delta">;
  presence: EventFrame<"presence">;
  viewing: EventFrame<"viewing">;
  /** A streamed answer grew, or ended (`done`). */
  draft: Draft;
  /** A gap in seq was seen; REST backfill starts. */
  gap: { conversation_id: string; after_seq: number; before_seq: number };
}
