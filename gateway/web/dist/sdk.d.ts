/* chatgate: built from gateway/web by `make web`; do not edit. */
/** Reconnect delays: exponential, capped, with jitter so that clients dropped together do not
 * all come back in the same instant. */
export interface BackoffOptions {
	/** The first delay, before jitter (ms). Default 500. */
	initialMs?: number;
	/** The cap (ms). Default 30000. */
	maxMs?: number;
	/** Each attempt multiplies the delay by this. Default 2. */
	factor?: number;
	/** The share of each delay that is random, 0 to 1: a delay `d` becomes one in
	 * `[d * (1 - jitter), d]`. Default 0.5. */
	jitter?: number;
}
export declare class Backoff {
	private readonly random;
	private attempt;
	private readonly initialMs;
	private readonly maxMs;
	private readonly factor;
	private readonly jitter;
	constructor(options?: BackoffOptions, random?: () => number);
	/** How many delays were taken since the last reset. */
	get attempts(): number;
	/** The next delay (ms); each call grows it until the cap. */
	next(): number;
	/** Back to the first delay (after a successful `hello`). */
	reset(): void;
}
/** What the SDK takes from its environment, injectable so that it runs in browsers, in Node
 * and in tests alike: WebSocket, fetch, timers and randomness. */
/** The part of the WebSocket API the SDK uses (the browser's, undici's, the `ws` package's). */
export interface WebSocketLike {
	readonly readyState: number;
	onopen: ((event: unknown) => void) | null;
	onmessage: ((event: {
		data: unknown;
	}) => void) | null;
	onclose: ((event: {
		code: number;
		reason: string;
	}) => void) | null;
	onerror: ((event: unknown) => void) | null;
	send(data: string): void;
	close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
/** What the SDK passes to fetch. */
export interface FetchInit {
	method?: string;
	headers?: Record<string, string>;
	body?: string | FormData | Blob;
}
/** The part of a fetch Response the SDK reads. */
export interface FetchResponse {
	readonly status: number;
	readonly ok: boolean;
	readonly headers: {
		get(name: string): string | null;
	};
	json(): Promise<unknown>;
	text(): Promise<string>;
	blob(): Promise<Blob>;
}
export type FetchLike = (url: string, init?: FetchInit) => Promise<FetchResponse>;
/** The clock: timers and the time, so that tests can drive time by hand. */
export interface Timers {
	setTimeout(callback: () => void, ms: number): unknown;
	clearTimeout(handle: unknown): void;
	/** Milliseconds, as `Date.now()`. */
	now(): number;
}
/**
 * The wire: what the gateway sends and accepts, as types. Mirrors protocol/frames.py,
 * protocol/events.py and the REST shapes of docs/api.md. Field names stay snake_case, as on
 * the wire: a message from an event, a reply and a REST page is the same object.
 */
/** Free-form JSON stored with a message, a conversation or a contact (docs/protocol.md#metadata). */
export type Metadata = Record<string, unknown>;
export type Role = "visitor" | "agent" | "bot" | "live_agent" | "system";
export type ConversationStatus = "bot_active" | "agent_requested" | "open" | "resolved" | "closed" | "archived";
export type PresenceStatus = "online" | "away";
export type ConversationHandler = "bot" | "agent" | "live_agent";
/** A stored attachment: `url` is the gateway's file URL (`/v1/files/{sha256}` or absolute). */
export interface Attachment {
	url: string;
	mime: string;
	size: number;
	sha256: string;
	name?: string | null;
	source_url?: string | null;
}
/** An attachment to send: an uploaded file's `url`, or an http(s) image URL to fetch. */
export interface AttachmentInput {
	url: string;
	name?: string;
}
/** A stored message: the data of `new_message`, a `message.send` reply, a REST page item. */
export interface Message {
	id: string;
	conversation_id: string;
	/** The conversation's event seq this message took (message seqs may skip numbers). */
	seq: number;
	role: Role;
	sender_id: string | null;
	content: string;
	attachments: Attachment[];
	metadata: Metadata;
	client_message_id: string | null;
	/** RFC 3339, UTC, milliseconds. */
	created_at: string;
	/** A private note: staff only, never delivered to the visitor. */
	private?: boolean;
}
export interface Conversation {
	id: string;
	org_id: string;
	widget_id: string | null;
	contact_id: string | null;
	status: ConversationStatus;
	handler: ConversationHandler;
	epoch: number;
	assignee_id: string | null;
	created_at: string;
	updated_at: string;
	resolved_at: string | null;
	ended_at: string | null;
	live_agent_handoff_at: string | null;
	first_response_at: string | null;
	/** The highest seq of the conversation's event log when this was read. */
	last_seq: number;
	metadata: Metadata;
	channel: "widget" | "api";
}
export interface Contact {
	id: string;
	org_id: string;
	widget_id: string | null;
	external_id: string | null;
	name: string | null;
	email: string | null;
	metadata: Metadata;
	created_at: string;
}
/** Who a socket or token acts as (`hello` reply). */
export interface Principal {
	kind: "visitor" | "agent" | "bot" | "api_key";
	org_id: string;
	agent_id?: string;
	contact_id?: string;
	widget_id?: string;
}
/** An error as the gateway sends it, in a reply or a REST error envelope. */
export interface ErrorBody {
	code: string;
	message: string;
	details?: unknown;
}
export type ResumeOutcome = {
	ok: true;
	last_seq: number;
} | {
	ok: false;
	error: ErrorBody;
};
/** The data of a successful `hello` reply. */
export interface HelloData {
	session_id: string;
	node: string;
	principal: Principal;
	resume: Record<string, ResumeOutcome>;
}
/** The `data` of each event the gateway sends, by event name. */
export interface EventData {
	new_message: Message;
	"conversation.updated": {
		conversation: Conversation;
		/** Each changed field, as `[from, to]`. */
		changes: Record<string, [
			unknown,
			unknown
		]>;
	};
	"conversation.created": {
		conversation: Conversation;
	};
	/** Staff receive an agent's `agent_id` and `name` too. */
	typing: {
		on: boolean;
		role: Role;
		sender_id: string | null;
		agent_id?: string;
		name?: string;
	};
	read: {
		seq: number;
		role: Role;
		reader_id: string | null;
	};
	/**
	 * A chunk of a streamed bot answer: volatile, never stored, no seq. `index` is the chunk's
	 * place in the stream (0, 1, 2, ...); the answer is the chunks' text in index order. The
	 * final answer is stored once as a `new_message` with the same `id` as `message_id`.
	 * `done: true` ends a stream that will not be stored (an abandoned answer).
	 */
	"message.delta": {
		message_id: string;
		index: number;
		text: string;
		done?: boolean;
	};
	/** An agent of the org went online, away or offline (the inbox). */
	presence: {
		agent_id: string;
		status: PresenceStatus | "offline";
	};
	/** Staff only: an agent opened (`on`) or left a conversation. Volatile. */
	viewing: {
		agent_id: string;
		name: string;
		on: boolean;
	};
}
export type EventName = keyof EventData;
/** Events that take the conversation's next seq: stored, ordered, replayed on resume. */
export type SeqEventName = "new_message" | "conversation.updated";
/** One event frame: `{"op": "event", "event": NAME, "conversation_id", "seq", "data"}`. */
export interface EventFrame<N extends EventName = EventName> {
	op: "event";
	event: N;
	conversation_id: string;
	/** A stored event's place in the conversation's log; `0` for `conversation.created`;
	 * `null` for volatile events (typing, read, message.delta). */
	seq: N extends SeqEventName ? number : N extends "conversation.created" ? 0 : null;
	data: EventData[N];
}
/** Any event frame, discriminated on `event`. */
export type AnyEventFrame = {
	[N in EventName]: EventFrame<N>;
}[EventName];
export type ReplyFrame = {
	op: "reply";
	ref: string | number | null;
	ok: true;
	data: unknown;
} | {
	op: "reply";
	ref: string | number | null;
	ok: false;
	error: ErrorBody;
};
/** A server frame (one object of a frame, which may also be an array of them). */
export type ServerFrame = ReplyFrame | AnyEventFrame;
export interface MessagePage {
	data: Message[];
	has_more: boolean;
	next_after_seq: number;
}
export interface ConversationPage {
	data: Conversation[];
	next_cursor: string | null;
}
/** `POST /v1/widgets/{widget_id}/sessions`: a visitor's token and contact. */
export interface WidgetSession {
	token: string;
	expires_at: string;
	widget_id: string;
	contact: Contact;
}
/** An uploaded file (`POST /v1/conversations/{id}/files`). */
export interface UploadedFile {
	url: string;
	mime: string;
	size: number;
	sha256: string;
	name?: string | null;
}
/** A streamed answer as it stands: what the `draft` event carries. */
export interface Draft {
	conversation_id: string;
	message_id: string;
	/** The text of the chunks received in order so far. */
	text: string;
	/** The draft is over: remove it (and show `message`, when there is one). */
	done: boolean;
	/** The stored message that replaces the draft, when that is how it ended. */
	message: Message | null;
}
/** A small typed event emitter: `on` returns the function that removes the listener. */
export type Listener<T> = (value: T) => void;
declare class Emitter<Events extends object> {
	private readonly listeners;
	/** Call `listener` with every `name` event until the returned function is called. */
	on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void;
	off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void;
	protected emit<K extends keyof Events>(name: K, value: Events[K]): void;
}
/** The gateway's inbound frame limit (`CHATGATE_MAX_FRAME_BYTES`); larger closes with 1009. */
export declare const MAX_FRAME_BYTES = 65536;
/** The WebSocket subprotocol the SDK speaks. */
export declare const SUBPROTOCOL = "chatgate.json";
export interface SendFields {
	conversation_id: string;
	content: string;
	attachments?: AttachmentInput[];
	client_message_id?: string;
	metadata?: Metadata;
	/** A responder's epoch (bots): a stale one answers `control_lost`. */
	epoch?: number;
	/** API keys only: who speaks (docs/protocol.md#messagesend). */
	role?: "agent" | "bot" | "visitor" | "live_agent";
	agent_id?: string;
	external_sender_id?: string;
	/** Staff only: a private note, never delivered to the visitor. */
	private?: boolean;
}
export interface UpdateFields {
	conversation_id: string;
	status?: Exclude<ConversationStatus, "bot_active">;
	/** `null` unassigns. */
	assignee_id?: string | null;
	epoch?: number;
}
/** Each op's fields (beside `op` and `ref`). */
export interface OpFields {
	hello: {
		token: string;
		resume?: Record<string, number>;
	};
	subscribe: {
		conversation_id: string;
		after_seq?: number;
	} | {
		inbox: true;
	};
	unsubscribe: {
		conversation_id: string;
	} | {
		inbox: true;
	};
	"message.send": SendFields;
	"conversation.update": UpdateFields;
	typing: {
		conversation_id: string;
		on: boolean;
	};
	read: {
		conversation_id: string;
		seq: number;
	};
	ping: Record<string, never>;
	/** Staff: this agent's presence (the dashboard's heartbeat, every 20 s). */
	presence: {
		status: PresenceStatus;
	};
	/** Staff: this socket is looking at (`on`) or has left a conversation. */
	viewing: {
		conversation_id: string;
		on: boolean;
	};
}
/** Each op's reply `data`. */
export interface OpReplies {
	hello: HelloData;
	subscribe: {
		conversation_id: string;
		last_seq: number;
	} | {
		inbox: true;
	};
	unsubscribe: {
		conversation_id: string;
	} | {
		inbox: false;
	};
	"message.send": Message;
	"conversation.update": Conversation;
	typing: Record<string, never>;
	read: {
		conversation_id: string;
		seq: number;
	};
	ping: {
		pong: true;
	};
	presence: Record<string, unknown>;
	viewing: Record<string, unknown>;
}
export type Op = keyof OpFields;
export interface ChatgateErrorInit {
	details?: unknown;
	status?: number;
	closeCode?: number;
	requestId?: string;
}
export declare class ChatgateError extends Error {
	readonly name = "ChatgateError";
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
	constructor(code: string, message: string, init?: ChatgateErrorInit);
	static fromBody(body: ErrorBody, init?: ChatgateErrorInit): ChatgateError;
	/** Any thrown value as a ChatgateError (`internal` when it is not one). */
	static from(error: unknown): ChatgateError;
	static fromClose(code: number, reason: string): ChatgateError;
}
/** `idle` (never connected), `connecting` (a socket and its hello under way), `open`,
 * `reconnecting` (waiting out a backoff delay), `closed` (by `close()` or a fatal close code). */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
/**
 * Gives the SDK a token: at the first connect, and again with `refresh: true` after the gateway
 * refused the last one (close 4001, HTTP 401). Throw a `ChatgateError` with code `unauthorized`
 * or `forbidden` to stop; any other error is retried with backoff.
 */
export type TokenProvider = (context: {
	refresh: boolean;
}) => string | Promise<string>;
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
	state: {
		state: ConnectionState;
		previous: ConnectionState;
	};
	/** After every successful `hello`; `resumed` is false for the first one. */
	ready: {
		session: HelloData;
		resumed: boolean;
	};
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
	gap: {
		conversation_id: string;
		after_seq: number;
		before_seq: number;
	};
}
/** A message not yet acknowledged, as `Chatgate.pendingSends()` lists it. */
export interface PendingSend {
	readonly clientMessageId: string;
	readonly conversationId: string;
	readonly content: string;
	readonly attachments: readonly AttachmentInput[];
	readonly metadata: Metadata | undefined;
	/** How many times it was sent (0 while waiting for a connection). */
	readonly attempts: number;
}
/** Where the REST client gets its credential: the current one, and a new one after a 401. */
export interface Credentials {
	token(): Promise<string | null>;
	/** A fresh credential after the gateway refused the current one; `null`: none to try. */
	refresh(): Promise<string | null>;
}
export interface RequestOptions {
	query?: Record<string, string | number | boolean | undefined>;
	body?: unknown;
	headers?: Record<string, string>;
}
export interface StartConversationBody {
	widget_id?: string;
	contact_id?: string;
	contact?: {
		external_id?: string;
		name?: string;
		email?: string;
		metadata?: Metadata;
	};
	metadata?: Metadata;
	channel?: "widget" | "api";
}
/** The fields of `POST /v1/widgets/{id}/sessions`; more may be added by the gateway. */
export interface WidgetSessionBody {
	name?: string;
	email?: string;
	metadata?: Metadata;
	[field: string]: unknown;
}
export declare class RestClient {
	private readonly fetch;
	private readonly credentials;
	/** The gateway's base URL, without a trailing slash. */
	readonly baseUrl: string;
	constructor(baseUrl: string, fetch: FetchLike, credentials?: Credentials | null);
	/**
	 * Any `/v1` request: JSON in, JSON out. A 401 is retried once with a refreshed credential.
	 *
	 * Throws:
	 *   ChatgateError: the gateway's error (`code`, `status`, `details`, `requestId`), or
	 *     `network` when no answer came.
	 */
	request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
	startConversation(body?: StartConversationBody): Promise<Conversation>;
	getConversation(conversationId: string): Promise<Conversation>;
	/** Newest first; pass `next_cursor` as `cursor` for the next page. */
	listConversations(query?: {
		status?: ConversationStatus;
		limit?: number;
		cursor?: string;
	}): Promise<ConversationPage>;
	updateConversation(conversationId: string, changes: Omit<UpdateFields, "conversation_id">): Promise<Conversation>;
	endConversation(conversationId: string): Promise<Conversation>;
	/** Messages after `afterSeq` in seq order; pass `next_after_seq` on while `has_more`. */
	listMessages(conversationId: string, page?: {
		afterSeq?: number;
		limit?: number;
	}): Promise<MessagePage>;
	/** Sends over REST; `client_message_id` makes a retry return the stored message. */
	sendMessage(conversationId: string, body: Omit<SendFields, "conversation_id">): Promise<Message>;
	markRead(conversationId: string, seq: number): Promise<{
		conversation_id: string;
		seq: number;
	}>;
	/** Uploads a file into a conversation; send its `url` as an attachment. */
	uploadFile(conversationId: string, file: Blob, filename?: string): Promise<UploadedFile>;
	/**
	 * A file's bytes, with the credential (an `<img src>` cannot send it). Takes an attachment's
	 * `url` or a sha256, and always asks this gateway for `/v1/files/{sha256}`: a stored URL
	 * may name another host, and the credential goes nowhere else.
	 */
	fetchFile(urlOrSha256: string): Promise<Blob>;
	private send;
	private attempt;
}
/**
 * Opens (or, with the visitor's still-valid `token`, renews) a visitor session of a widget:
 * `POST /v1/widgets/{widgetId}/sessions`, checked against the widget's allowed origins.
 * Pass the answer's `token` to `new Chatgate({token})`.
 */
export declare function openWidgetSession(options: {
	url: string;
	widgetId: string;
	token?: string;
	fetch?: FetchLike;
}, body?: WidgetSessionBody): Promise<WidgetSession>;
export declare class Chatgate extends Emitter<ChatgateEvents> {
	private readonly options;
	/** The REST API, with this client's credential. */
	readonly rest: RestClient;
	private readonly socketUrl;
	private readonly WebSocket;
	private readonly timers;
	private readonly random;
	private readonly backoff;
	private readonly requestTimeoutMs;
	private readonly heartbeatMs;
	private readonly typingRefreshMs;
	private readonly conversations;
	private readonly outbox;
	private readonly unsentReads;
	private readonly typingSent;
	private current;
	private conn;
	private hello;
	private inbox;
	/** Numbers each connection attempt, so that an attempt overtaken by another does nothing. */
	private attempt;
	private everOpen;
	private authRefusals;
	private refreshToken;
	private token;
	private tokenCall;
	private reconnectTimer;
	private openTimer;
	private heartbeatTimer;
	private connectWaiters;
	constructor(options: ChatgateOptions);
	get state(): ConnectionState;
	/** The current session (the last `hello` reply) while open, else `null`. */
	get session(): HelloData | null;
	/**
	 * Connects (or, while waiting to reconnect, reconnects now) and resolves at the next
	 * successful `hello`. Network failures are retried with backoff meanwhile.
	 *
	 * Throws (rejects): ChatgateError `unauthorized`, `forbidden` or `bad_request` when the
	 * gateway closed with 4001 (and no new token helped), 4003 or 4400; `closed` after `close()`.
	 */
	connect(): Promise<HelloData>;
	/**
	 * Closes the socket and stops reconnecting. Pending sends and waiting promises are rejected
	 * with `closed`. Subscriptions are kept: a later `connect()` resumes them.
	 */
	close(): void;
	/**
	 * Follows a conversation: its events after `afterSeq` (default 0: all of them), then live
	 * ones. Kept across reconnects (resumed from the last seq emitted). Subscribing again to a
	 * followed conversation with another `afterSeq` starts it over from there.
	 *
	 * Resolves once the gateway confirmed it (at once when open, else after the next `hello`).
	 * Throws (rejects): the gateway's `not_found` (not yours, or no such conversation), or
	 * `closed`.
	 */
	subscribe(conversationId: string, options?: SubscribeOptions): Promise<Subscribed>;
	/** Stops following a conversation. */
	unsubscribe(conversationId: string): Promise<void>;
	/** Agents: `conversation.created` and `conversation.updated` of the whole org. No replay:
	 * after a `ready` with `resumed: true`, reload the list over REST. */
	subscribeInbox(): Promise<void>;
	unsubscribeInbox(): Promise<void>;
	/** The highest seq emitted, in order, for a followed conversation. */
	lastSeq(conversationId: string): number | undefined;
	/**
	 * Sends a message; resolves with the stored message (with its `seq`). Sent at once when
	 * open, else after the next `hello`; a send cut off by a drop is sent again with the same
	 * `client_message_id`, so it is stored once; `unavailable` is retried with backoff.
	 *
	 * Throws (rejects): the gateway's error (`validation_error`, `invalid_state`,
	 * `rate_limited`, ...); `payload_too_large` for a frame over 64 KiB (not sent); `closed`.
	 */
	send(conversationId: string, content: string, options?: SendOptions): Promise<Message>;
	/** The sends not yet acknowledged, oldest first. */
	pendingSends(conversationId?: string): PendingSend[];
	/** Changes a conversation's status or assignee (visitors: only `agent_requested`). */
	updateConversation(conversationId: string, changes: Omit<UpdateFields, "conversation_id">): Promise<Conversation>;
	/**
	 * Says whether you are typing. Volatile: sent only while open, and only when it changes or,
	 * while typing, once per `typingRefreshMs`; call it on every keystroke.
	 */
	typing(conversationId: string, on: boolean): void;
	/** Marks a conversation read up to `seq` (sent after the next `hello` when not open, or
	 * when a drop cuts it off). */
	markRead(conversationId: string, seq: number): Promise<void>;
	/** The streamed answers in progress in a conversation. */
	drafts(conversationId: string): Draft[];
	/**
	 * Sends any op but `hello` and resolves with its reply's data (a low-level door; the methods
	 * above are built on it).
	 *
	 * Throws (rejects): the gateway's error reply; `disconnected` when not open or when the
	 * socket drops before the reply; `timeout`.
	 */
	request<O extends Exclude<Op, "hello">>(op: O, fields: OpFields[O]): Promise<OpReplies[O]>;
	private open;
	private sendHello;
	private onHello;
	private onClosed;
	private retry;
	/** Stops (until `connect()`): everything waiting is rejected with `error`. */
	private halt;
	private beat;
	private getToken;
	private setState;
	private transmit;
	private report;
}
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
export declare const CloseCode: {
	readonly NORMAL: 1000;
	readonly GOING_AWAY: 1001;
	readonly ABNORMAL: 1006;
	readonly MESSAGE_TOO_BIG: 1009;
	readonly INTERNAL_ERROR: 1011;
	readonly SERVICE_RESTART: 1012;
	readonly UNAUTHENTICATED: 4001;
	readonly FORBIDDEN: 4003;
	readonly SLOW_CONSUMER: 4008;
	readonly PROTOCOL_ERROR: 4400;
};
/** Error codes of replies and REST errors (protocol/codes.py `ErrorCode`). */
export declare const ErrorCode: {
	readonly BAD_REQUEST: "bad_request";
	readonly VALIDATION_ERROR: "validation_error";
	readonly UNKNOWN_OP: "unknown_op";
	readonly UNAUTHORIZED: "unauthorized";
	readonly FORBIDDEN: "forbidden";
	readonly NOT_FOUND: "not_found";
	readonly METHOD_NOT_ALLOWED: "method_not_allowed";
	readonly INVALID_STATE: "invalid_state";
	readonly CONTROL_LOST: "control_lost";
	readonly IDEMPOTENCY_CONFLICT: "idempotency_conflict";
	readonly PAYLOAD_TOO_LARGE: "payload_too_large";
	readonly REQUEST_TIMEOUT: "request_timeout";
	readonly RATE_LIMITED: "rate_limited";
	readonly QUOTA_EXCEEDED: "quota_exceeded";
	readonly ATTACHMENT_REJECTED: "attachment_rejected";
	readonly INTERNAL: "internal";
	readonly UNAVAILABLE: "unavailable";
};
/** Codes the SDK itself raises, beside the gateway's. */
export declare const ClientErrorCode: {
	/** The socket dropped before the reply came (the request may or may not have run). */
	readonly DISCONNECTED: "disconnected";
	/** `close()` was called, or the client stopped for good after a fatal close code. */
	readonly CLOSED: "closed";
	/** No reply within `requestTimeoutMs`; the SDK also restarts the connection. */
	readonly TIMEOUT: "timeout";
	/** fetch failed: no answer from the gateway. */
	readonly NETWORK: "network";
};
/** What the SDK does after a close code. */
export type CloseAction = "reconnect" | "reauthenticate" | "stop";
export declare function closeAction(code: number): CloseAction;

export {};
