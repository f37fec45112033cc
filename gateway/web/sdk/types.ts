/**
 * The wire: what the gateway sends and accepts, as types. Mirrors protocol/frames.py,
 * protocol/events.py and the REST shapes of docs/api.md. Field names stay snake_case, as on
 * the wire: a message from an event, a reply and a REST page is the same object.
 */

/** Free-form JSON stored with a message, a conversation or a contact (docs/protocol.md#metadata). */
export type Metadata = Record<string, unknown>;

export type Role = "visitor" | "agent" | "bot" | "live_agent" | "system";

export type ConversationStatus =
  "bot_active" | "agent_requested" | "open" | "resolved" | "closed" | "archived";

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

export type ResumeOutcome = { ok: true; last_seq: number } | { ok: false; error: ErrorBody };

/** The data of a successful `hello` reply. */
export interface HelloData {
  session_id: string;
  node: string;
  principal: Principal;
  resume: Record<string, ResumeOutcome>;
}

// -- events -------------------------------------------------------------------------------

/** The `data` of each event the gateway sends, by event name. */
export interface EventData {
  new_message: Message;
  "conversation.updated": {
    conversation: Conversation;
    /** Each changed field, as `[from, to]`. */
    changes: Record<string, [unknown, unknown]>;
  };
  "conversation.created": { conversation: Conversation };
  /** Staff receive an agent's `agent_id` and `name` too. */
  typing: {
    on: boolean;
    role: Role;
    sender_id: string | null;
    agent_id?: string;
    name?: string;
  };
  read: { seq: number; role: Role; reader_id: string | null };
  /**
   * A chunk of a streamed bot answer: volatile, never stored, no seq. `index` is the chunk's
   * place in the stream (0, 1, 2, ...); the answer is the chunks' text in index order. The
   * final answer is stored once as a `new_message` with the same `id` as `message_id`.
   * `done: true` ends a stream that will not be stored (an abandoned answer).
   */
  "message.delta": { message_id: string; index: number; text: string; done?: boolean };
  /** An agent of the org went online, away or offline (the inbox). */
  presence: { agent_id: string; status: PresenceStatus | "offline" };
  /** Staff only: an agent opened (`on`) or left a conversation. Volatile. */
  viewing: { agent_id: string; name: string; on: boolean };
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
export type AnyEventFrame = { [N in EventName]: EventFrame<N> }[EventName];

export type ReplyFrame =
  | { op: "reply"; ref: string | number | null; ok: true; data: unknown }
  | { op: "reply"; ref: string | number | null; ok: false; error: ErrorBody };

/** A server frame (one object of a frame, which may also be an array of them). */
export type ServerFrame = ReplyFrame | AnyEventFrame;

// -- REST shapes --------------------------------------------------------------------------

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
