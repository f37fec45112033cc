/**
 * `Chatgate`: one socket to a gateway, kept up, and the conversations it follows.
 *
 * Guarantees (docs/sdk-js.md), for every conversation followed with `subscribe`:
 * - its stored events (`new_message`, `conversation.updated`) are emitted once each, in seq
 *   order, whether they come live, in a batch, replayed by a resume, or by REST backfill;
 * - a drop is followed by a reconnect (backoff with jitter) and a `hello` that resumes every
 *   followed conversation from the last seq emitted;
 * - a gap in seq on a live socket is filled from REST before anything after it is emitted;
 * - a `send` is retried after a drop with its `client_message_id`, so it is stored once.
 * Volatile events (`typing`, `read`, `message.delta`) are emitted as they come, never replayed.
 */

import { Backoff } from "./backoff.js";
import { ClientErrorCode, closeAction, ErrorCode } from "./codes.js";
import { Connection } from "./connection.js";
import { Conversations } from "./conversations.js";
import type { Draft } from "./drafts.js";
import { Emitter } from "./emitter.js";
import {
  type FetchLike,
  globalFetch,
  globalWebSocket,
  randomId,
  realTimers,
  type Timers,
  type WebSocketConstructor,
} from "./env.js";
import { ChatgateError } from "./errors.js";
import {
  encodeFrame,
  MAX_FRAME_BYTES,
  type Op,
  type OpFields,
  type OpReplies,
  type SendFields,
  SUBPROTOCOL,
  type UpdateFields,
} from "./frames.js";
import type {
  ChatgateEvents,
  ChatgateOptions,
  ConnectionState,
  SendOptions,
  SubscribeOptions,
  Subscribed,
} from "./options.js";
import { Outbox, type OutboxEntry, type PendingSend } from "./outbox.js";
import { RestClient } from "./rest.js";
import type { Conversation, HelloData, Message } from "./types.js";

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: ChatgateError): void;
}

/** `resume` holds at most this many conversations (protocol/frames.py MAX_RESUME); the rest
 * are subscribed right after `hello`. */
const MAX_RESUME = 100;

export class Chatgate extends Emitter<ChatgateEvents> {
  /** The REST API, with this client's credential. */
  readonly rest: RestClient;

  private readonly socketUrl: string;
  private readonly WebSocket: WebSocketConstructor | undefined;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly backoff: Backoff;
  private readonly requestTimeoutMs: number;
  private readonly heartbeatMs: number;
  private readonly typingRefreshMs: number;
  private readonly conversations: Conversations;
  private readonly outbox = new Outbox();
  private readonly unsentReads = new Map<string, number>();
  private readonly typingSent = new Map<string, { on: boolean; at: number }>();

  private current: ConnectionState = "idle";
  private conn: Connection | null = null;
  private hello: HelloData | null = null;
  private inbox = false;
  /** Numbers each connection attempt, so that an attempt overtaken by another does nothing. */
  private attempt = 0;
  private everOpen = false;
  private authRefusals = 0;
  private refreshToken = false;
  private token: string | null;
  private tokenCall: Promise<string> | null = null;
  private reconnectTimer: unknown;
  private openTimer: unknown;
  private heartbeatTimer: unknown;
  private connectWaiters: Waiter<HelloData>[] = [];

  constructor(private readonly options: ChatgateOptions) {
    super();
    const page = (globalThis as { location?: { href: string } }).location?.href;
    const baseUrl = new URL(options.url, page).href.replace(/[?#].*$/, "").replace(/\/+$/, "");
    this.socketUrl = options.socketUrl ?? `${baseUrl.replace(/^http/, "ws")}/ws`;
    this.WebSocket = options.WebSocket ?? globalWebSocket();
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.backoff = new Backoff(options.backoff, this.random);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? 25_000;
    this.typingRefreshMs = options.typingRefreshMs ?? 3_000;
    this.token = typeof options.token === "string" ? options.token : null;
    const fetch: FetchLike =
      options.fetch ??
      globalFetch() ??
      (() => Promise.reject(new TypeError("no global fetch: pass options.fetch")));
    this.rest = new RestClient(baseUrl, fetch, {
      token: () => this.getToken(false),
      refresh: async () => (typeof options.token === "function" ? this.getToken(true) : null),
    });
    this.conversations = new Conversations({
      rest: this.rest,
      timers: this.timers,
      backoff: options.backoff,
      random: this.random,
      draftTimeoutMs: options.draftTimeoutMs ?? 60_000,
      isOpen: () => this.current === "open",
      subscribe: (fields) => this.request("subscribe", fields),
      emit: (name, value) => this.emit(name, value),
    });
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The current session (the last `hello` reply) while open, else `null`. */
  get session(): HelloData | null {
    return this.hello;
  }

  /**
   * Connects (or, while waiting to reconnect, reconnects now) and resolves at the next
   * successful `hello`. Network failures are retried with backoff meanwhile.
   *
   * Throws (rejects): ChatgateError `unauthorized`, `forbidden` or `bad_request` when the
   * gateway closed with 4001 (and no new token helped), 4003 or 4400; `closed` after `close()`.
   */
  connect(): Promise<HelloData> {
    if (this.current === "open" && this.hello !== null) return Promise.resolve(this.hello);
    const ready = new Promise<HelloData>((resolve, reject) =>
      this.connectWaiters.push({ resolve, reject }),
    );
    if (this.current === "idle" || this.current === "closed") {
      this.authRefusals = 0;
      this.backoff.reset();
      void this.open();
    } else if (this.current === "reconnecting") {
      this.timers.clearTimeout(this.reconnectTimer);
      void this.open();
    }
    return ready;
  }

  /**
   * Closes the socket and stops reconnecting. Pending sends and waiting promises are rejected
   * with `closed`. Subscriptions are kept: a later `connect()` resumes them.
   */
  close(): void {
    this.halt(new ChatgateError(ClientErrorCode.CLOSED, "the client was closed"));
  }

  /**
   * Follows a conversation: its events after `afterSeq` (default 0: all of them), then live
   * ones. Kept across reconnects (resumed from the last seq emitted). Subscribing again to a
   * followed conversation with another `afterSeq` starts it over from there.
   *
   * Resolves once the gateway confirmed it (at once when open, else after the next `hello`).
   * Throws (rejects): the gateway's `not_found` (not yours, or no such conversation), or
   * `closed`.
   */
  subscribe(conversationId: string, options: SubscribeOptions = {}): Promise<Subscribed> {
    return this.conversations.subscribe(conversationId, options.afterSeq);
  }

  /** Stops following a conversation. */
  async unsubscribe(conversationId: string): Promise<void> {
    if (this.conversations.unsubscribe(conversationId) && this.current === "open") {
      await this.request("unsubscribe", { conversation_id: conversationId }).catch(() => undefined);
    }
  }

  /** Agents: `conversation.created` and `conversation.updated` of the whole org. No replay:
   * after a `ready` with `resumed: true`, reload the list over REST. */
  async subscribeInbox(): Promise<void> {
    this.inbox = true;
    if (this.current === "open") await this.request("subscribe", { inbox: true });
  }

  async unsubscribeInbox(): Promise<void> {
    this.inbox = false;
    if (this.current === "open") await this.request("unsubscribe", { inbox: true });
  }

  /** The highest seq emitted, in order, for a followed conversation. */
  lastSeq(conversationId: string): number | undefined {
    return this.conversations.lastSeq(conversationId);
  }

  /**
   * Sends a message; resolves with the stored message (with its `seq`). Sent at once when
   * open, else after the next `hello`; a send cut off by a drop is sent again with the same
   * `client_message_id`, so it is stored once; `unavailable` is retried with backoff.
   *
   * Throws (rejects): the gateway's error (`validation_error`, `invalid_state`,
   * `rate_limited`, ...); `payload_too_large` for a frame over 64 KiB (not sent); `closed`.
   */
  send(conversationId: string, content: string, options: SendOptions = {}): Promise<Message> {
    const clientMessageId = options.clientMessageId ?? randomId();
    const pending = this.outbox.get(clientMessageId);
    if (pending !== undefined) return pending.promise;
    if (this.current === "closed") {
      return Promise.reject(
        new ChatgateError(ClientErrorCode.CLOSED, "the client is closed: connect() first"),
      );
    }
    const fields: SendFields & { client_message_id: string } = {
      conversation_id: conversationId,
      content,
      client_message_id: clientMessageId,
    };
    if (options.attachments !== undefined) fields.attachments = options.attachments;
    if (options.metadata !== undefined) fields.metadata = options.metadata;
    if (options.epoch !== undefined) fields.epoch = options.epoch;
    if (options.private === true) fields.private = true;
    const { bytes } = encodeFrame("message.send", Number.MAX_SAFE_INTEGER, fields);
    if (bytes > MAX_FRAME_BYTES) {
      const message = `the message's frame is ${bytes} bytes, over 64 KiB`;
      const details = { max_bytes: MAX_FRAME_BYTES };
      return Promise.reject(new ChatgateError(ErrorCode.PAYLOAD_TOO_LARGE, message, { details }));
    }
    const entry = this.outbox.add(fields);
    if (this.current === "open") this.transmit(entry);
    return entry.promise;
  }

  /** The sends not yet acknowledged, oldest first. */
  pendingSends(conversationId?: string): PendingSend[] {
    return this.outbox.list(conversationId).map((e) => ({
      clientMessageId: e.clientMessageId,
      conversationId: e.conversationId,
      content: e.content,
      attachments: e.attachments,
      metadata: e.metadata,
      attempts: e.attempts,
    }));
  }

  /** Changes a conversation's status or assignee (visitors: only `agent_requested`). */
  updateConversation(
    conversationId: string,
    changes: Omit<UpdateFields, "conversation_id">,
  ): Promise<Conversation> {
    return this.request("conversation.update", { conversation_id: conversationId, ...changes });
  }

  /**
   * Says whether you are typing. Volatile: sent only while open, and only when it changes or,
   * while typing, once per `typingRefreshMs`; call it on every keystroke.
   */
  typing(conversationId: string, on: boolean): void {
    if (this.current !== "open") return;
    const now = this.timers.now();
    const last = this.typingSent.get(conversationId);
    const unchanged =
      last === undefined ? !on : last.on === on && (!on || now - last.at < this.typingRefreshMs);
    if (unchanged) return;
    this.typingSent.set(conversationId, { on, at: now });
    this.request("typing", { conversation_id: conversationId, on }).catch(() => undefined);
  }

  /** Marks a conversation read up to `seq` (sent after the next `hello` when not open, or
   * when a drop cuts it off). */
  markRead(conversationId: string, seq: number): Promise<void> {
    const later = (): void => {
      this.unsentReads.set(
        conversationId,
        Math.max(this.unsentReads.get(conversationId) ?? 0, seq),
      );
    };
    if (this.current !== "open") {
      later();
      return Promise.resolve();
    }
    return this.request("read", { conversation_id: conversationId, seq }).then(
      () => undefined,
      (error: ChatgateError) => {
        if (error.code !== ClientErrorCode.DISCONNECTED && error.code !== ClientErrorCode.TIMEOUT)
          throw error;
        later();
      },
    );
  }

  /** The streamed answers in progress in a conversation. */
  drafts(conversationId: string): Draft[] {
    return this.conversations.drafts.list(conversationId);
  }

  /**
   * Sends any op but `hello` and resolves with its reply's data (a low-level door; the methods
   * above are built on it).
   *
   * Throws (rejects): the gateway's error reply; `disconnected` when not open or when the
   * socket drops before the reply; `timeout`.
   */
  request<O extends Exclude<Op, "hello">>(op: O, fields: OpFields[O]): Promise<OpReplies[O]> {
    if (this.current !== "open" || this.conn === null) {
      const error = new ChatgateError(
        ClientErrorCode.DISCONNECTED,
        `not connected (${this.current})`,
      );
      return Promise.reject(error);
    }
    return this.conn.request(op, fields);
  }

  // -- connecting -------------------------------------------------------------------------

  private async open(): Promise<void> {
    const attempt = ++this.attempt;
    this.setState("connecting");
    let token: string;
    try {
      token = await this.getToken(this.refreshToken);
    } catch (thrown) {
      if (attempt !== this.attempt) return;
      const error = ChatgateError.from(thrown);
      if (error.code === ErrorCode.UNAUTHORIZED || error.code === ErrorCode.FORBIDDEN) {
        this.halt(error);
      } else {
        this.emit("error", error);
        this.retry(this.backoff.next());
      }
      return;
    }
    if (attempt !== this.attempt) return;
    this.refreshToken = false;
    if (this.WebSocket === undefined) {
      this.halt(
        new ChatgateError(ClientErrorCode.CLOSED, "no global WebSocket: pass options.WebSocket"),
      );
      return;
    }
    let ws;
    try {
      ws = new this.WebSocket(this.socketUrl, [SUBPROTOCOL]);
    } catch (thrown) {
      this.emit("error", ChatgateError.from(thrown));
      this.retry(this.backoff.next());
      return;
    }
    const conn: Connection = new Connection(
      ws,
      {
        open: () => this.sendHello(conn, token),
        event: (frame) => this.conversations.receive(frame),
        problem: (error) => this.emit("error", error),
        closed: (code, reason) => this.onClosed(conn, code, reason),
      },
      this.timers,
      this.requestTimeoutMs,
    );
    this.conn = conn;
    this.openTimer = this.timers.setTimeout(
      () => conn.abort("the socket did not open in time"),
      this.requestTimeoutMs,
    );
  }

  private sendHello(conn: Connection, token: string): void {
    this.timers.clearTimeout(this.openTimer);
    const resume = this.conversations.resume(MAX_RESUME);
    const fields = Object.keys(resume).length > 0 ? { token, resume } : { token };
    // A callback rather than a promise: the client is open before it reads the events the
    // gateway replays right after the reply (often in the same batched frame).
    conn.call("hello", fields, (error, data) => {
      // The gateway closes on a refused hello; an error reply is a broken socket to give up.
      if (error === null) this.onHello(conn, data as HelloData, resume);
      else conn.abort("hello failed");
    });
  }

  private onHello(conn: Connection, hello: HelloData, resumed: Record<string, number>): void {
    if (conn !== this.conn) return;
    this.hello = hello;
    this.backoff.reset();
    this.authRefusals = 0;
    const again = this.everOpen;
    this.everOpen = true;
    this.setState("open");
    this.conversations.opened(hello.resume ?? {}, resumed);
    if (this.inbox)
      this.request("subscribe", { inbox: true }).catch((e: unknown) => this.report(e));
    for (const [id, seq] of this.unsentReads) {
      this.unsentReads.delete(id);
      this.markRead(id, seq).catch((e: unknown) => this.report(e));
    }
    for (const entry of this.outbox.list()) {
      if (!entry.inFlight) this.transmit(entry);
    }
    this.beat(conn);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.resolve(hello);
    this.emit("ready", { session: hello, resumed: again });
  }

  private onClosed(conn: Connection, code: number, reason: string): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.hello = null;
    this.timers.clearTimeout(this.openTimer);
    this.timers.clearTimeout(this.heartbeatTimer);
    this.typingSent.clear();
    for (const entry of this.outbox.list()) entry.inFlight = false;
    if (this.current === "closed") return;
    const action = closeAction(code);
    if (action === "reconnect") {
      this.retry(this.backoff.next());
    } else if (
      action === "reauthenticate" &&
      typeof this.options.token === "function" &&
      this.authRefusals === 0
    ) {
      // Once: a provider whose fresh token is refused too would loop.
      this.authRefusals += 1;
      this.refreshToken = true;
      this.retry(0);
    } else {
      this.halt(ChatgateError.fromClose(code, reason));
    }
  }

  private retry(delayMs: number): void {
    this.setState("reconnecting");
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.timers.setTimeout(() => void this.open(), delayMs);
  }

  /** Stops (until `connect()`): everything waiting is rejected with `error`. */
  private halt(error: ChatgateError): void {
    this.attempt += 1;
    this.timers.clearTimeout(this.reconnectTimer);
    this.timers.clearTimeout(this.openTimer);
    this.timers.clearTimeout(this.heartbeatTimer);
    this.setState("closed");
    const conn = this.conn;
    this.conn = null;
    this.hello = null;
    conn?.close();
    for (const entry of this.outbox.list()) {
      this.timers.clearTimeout(entry.retryTimer);
      this.outbox.reject(entry, error);
    }
    this.conversations.halted(error);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
    if (error.code !== ClientErrorCode.CLOSED) this.emit("error", error);
  }

  private beat(conn: Connection): void {
    if (this.heartbeatMs <= 0) return;
    this.heartbeatTimer = this.timers.setTimeout(() => {
      if (conn !== this.conn) return;
      // No reply in time makes the connection give the socket up, and we reconnect.
      conn.request("ping", {}).then(
        () => this.beat(conn),
        () => undefined,
      );
    }, this.heartbeatMs);
  }

  private getToken(refresh: boolean): Promise<string> {
    const source = this.options.token;
    if (typeof source === "string") return Promise.resolve(source);
    if (this.token !== null && !refresh) return Promise.resolve(this.token);
    // One call at a time: the socket and REST may both find the token refused at once.
    this.tokenCall ??= Promise.resolve()
      .then(() => source({ refresh }))
      .then(
        (token) => {
          this.tokenCall = null;
          this.token = token;
          return token;
        },
        (error: unknown) => {
          this.tokenCall = null;
          throw error;
        },
      );
    return this.tokenCall;
  }

  private setState(state: ConnectionState): void {
    const previous = this.current;
    if (previous === state) return;
    this.current = state;
    this.emit("state", { state, previous });
  }

  // -- sending ----------------------------------------------------------------------------

  private transmit(entry: OutboxEntry): void {
    const conn = this.conn;
    if (conn === null || this.current !== "open") return;
    this.timers.clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
    entry.inFlight = true;
    entry.attempts += 1;
    const flight = ++entry.flight;
    conn.request("message.send", entry.fields).then(
      (message) => {
        this.outbox.resolve(entry, message);
        this.conversations.replied(message);
      },
      (error: ChatgateError) => {
        if (entry.flight !== flight || this.outbox.get(entry.clientMessageId) !== entry) return;
        entry.inFlight = false;
        // Cut off by a drop: sent again after the next hello, with the same id.
        if (error.code === ClientErrorCode.DISCONNECTED || error.code === ClientErrorCode.TIMEOUT)
          return;
        if (error.code === ErrorCode.UNAVAILABLE) {
          entry.retries ??= new Backoff(this.options.backoff, this.random);
          entry.retryTimer = this.timers.setTimeout(
            () => this.transmit(entry),
            entry.retries.next(),
          );
          return;
        }
        this.outbox.reject(entry, error);
      },
    );
  }

  private report(error: unknown): void {
    this.emit("error", ChatgateError.from(error));
  }
}
