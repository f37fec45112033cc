// Test doubles of what the SDK takes by injection: a WebSocket driven by the test (playing
// the gateway), a fetch answering from routes, and a clock moved by hand.

import { Chatgate } from "../client.js";
import type { ChatgateEvents, ChatgateOptions } from "../options.js";
import type { FetchInit, FetchLike, FetchResponse, Timers, WebSocketLike } from "../env.js";
import type { Conversation, Message } from "../types.js";

/** Timers that fire only when the test advances the clock. */
export class FakeClock implements Timers {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  now(): number {
    return this.time;
  }

  /** The delays (from now) of the timers waiting, shortest first. */
  waiting(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }

  /** Moves time on by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= until && (due === undefined || entry[1].at < due[1].at)) due = entry;
      }
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = until;
  }
}

/** A client frame as the gateway would read it. */
export type Sent = { op: string; ref: number; [field: string]: unknown };

/** A WebSocket whose other end is the test. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Sent[] = [];
  closedByClient: { code: number | undefined; reason: string | undefined } | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string | string[] | undefined,
  ) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(data) as Sent);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }

  // -- the gateway's side --

  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** Sends one server frame: an object, or an array of them (a batch). */
  push(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The frames the client sent with this op. */
  frames(op: string): Sent[] {
    return this.sent.filter((f) => f.op === op);
  }

  last(op: string): Sent {
    const frames = this.frames(op);
    const frame = frames[frames.length - 1];
    if (frame === undefined)
      throw new Error(`no ${op} frame sent; sent: ${JSON.stringify(this.sent)}`);
    return frame;
  }

  /** Answers the last frame of `op` with `data`. */
  reply(op: string, data: unknown): void {
    this.push({ op: "reply", ref: this.last(op).ref, ok: true, data });
  }

  replyError(op: string, code: string, message = code, details?: unknown): void {
    this.push({
      op: "reply",
      ref: this.last(op).ref,
      ok: false,
      error: { code, message, details },
    });
  }
}

export interface Call {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
}

export type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
export type Route = (call: Call) => Answer | Promise<Answer>;

/** A fetch answering from the routes given, recording every call. */
export class FakeFetch {
  readonly calls: Call[] = [];
  private readonly routes: Array<[string, RegExp, Route]> = [];

  on(method: string, path: RegExp, route: Route): void {
    this.routes.unshift([method, path, route]);
  }

  readonly fetch: FetchLike = async (url: string, init: FetchInit = {}): Promise<FetchResponse> => {
    const parsed = new URL(url);
    const call: Call = {
      method: init.method ?? "GET",
      url,
      path: parsed.pathname,
      query: parsed.searchParams,
      headers: init.headers ?? {},
      body: typeof init.body === "string" ? JSON.parse(init.body) : init.body,
    };
    this.calls.push(call);
    const route = this.routes.find(([m, p]) => m === call.method && p.test(call.path));
    const answer = route
      ? await route[2](call)
      : { status: 404, body: { error: { code: "not_found", message: "no route" } } };
    const headers = new Map(
      Object.entries(answer.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    return {
      status: answer.status,
      ok: answer.status >= 200 && answer.status < 300,
      headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null },
      json: async () => answer.body,
      text: async () => JSON.stringify(answer.body),
      blob: async () => new Blob([JSON.stringify(answer.body)]),
    };
  };
}

/** Lets promise callbacks and the SDK's async steps run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export const CONV = "8132f376-0000-4000-8000-000000000001";

export function message(seq: number, overrides: Partial<Message> = {}): Message {
  return {
    id: `m-${seq}`,
    conversation_id: CONV,
    seq,
    role: "visitor",
    sender_id: "contact-1",
    content: `message ${seq}`,
    attachments: [],
    metadata: { source: "socket" },
    client_message_id: null,
    created_at: "2026-11-22T04:38:33.543Z",
    ...overrides,
  };
}

export function conversation(overrides: Partial<Conversation> = {}): Conversation {
  return {
    id: CONV,
    org_id: "org-1",
    widget_id: "widget-1",
    contact_id: "contact-1",
    status: "bot_active",
    handler: "bot",
    epoch: 0,
    assignee_id: null,
    created_at: "2026-11-22T04:38:33.526Z",
    updated_at: "2026-11-22T04:38:33.526Z",
    resolved_at: null,
    ended_at: null,
    live_agent_handoff_at: null,
    first_response_at: null,
    last_seq: 0,
    metadata: {},
    channel: "widget",
    ...overrides,
  };
}

/** The event frame of a stored message. */
export function messageFrame(seq: number, overrides: Partial<Message> = {}): object {
  return {
    op: "event",
    event: "new_message",
    conversation_id: CONV,
    seq,
    data: message(seq, overrides),
  };
}

export function updatedFrame(
  seq: number,
  changes: Record<string, [unknown, unknown]>,
  after: Partial<Conversation>,
): object {
  return {
    op: "event",
    event: "conversation.updated",
    conversation_id: CONV,
    seq,
    data: { conversation: conversation({ last_seq: seq, ...after }), changes },
  };
}

export const HELLO = {
  session_id: "s1",
  node: "n1",
  principal: { kind: "visitor", org_id: "org-1", contact_id: "contact-1", widget_id: "widget-1" },
  resume: {},
};

/** A client on fakes, with every event it emits recorded in order. */
export function harness(options: Partial<ChatgateOptions> = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const http = new FakeFetch();
  class Socket extends FakeSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  const client = new Chatgate({
    url: "http://gw.test",
    token: "tok-1",
    WebSocket: Socket,
    fetch: http.fetch,
    timers: clock,
    random: () => 0.5,
    heartbeatMs: 0,
    ...options,
  });
  const seen: Array<{ name: keyof ChatgateEvents; value: unknown }> = [];
  const names: Array<keyof ChatgateEvents> = [
    "state",
    "ready",
    "error",
    "new_message",
    "conversation.updated",
    "conversation.created",
    "typing",
    "read",
    "message.delta",
    "draft",
    "gap",
  ];
  for (const name of names) client.on(name, (value) => seen.push({ name, value }));

  /** The socket the client opened last. */
  const socket = (): FakeSocket => {
    const last = sockets[sockets.length - 1];
    if (last === undefined) throw new Error("no socket opened");
    return last;
  };

  /** Lets the client open its socket, accepts it and answers its hello. */
  const open = async (resume: Record<string, unknown> = {}): Promise<FakeSocket> => {
    await settle();
    const ws = socket();
    ws.accept();
    ws.reply("hello", { ...HELLO, resume });
    await settle();
    return ws;
  };

  /** The seqs of the stored events emitted so far, in order. */
  const seqs = (): number[] =>
    seen
      .filter((e) => e.name === "new_message" || e.name === "conversation.updated")
      .map((e) => (e.value as { seq: number }).seq);

  const errors = (): string[] =>
    seen.filter((e) => e.name === "error").map((e) => (e.value as { code: string }).code);

  return { client, clock, sockets, http, seen, socket, open, seqs, errors };
}
