/** Client frames (ops, their fields and replies) and decoding server frames, single or batched. */

import type {
  AnyEventFrame,
  AttachmentInput,
  Conversation,
  ConversationStatus,
  HelloData,
  Message,
  Metadata,
  PresenceStatus,
  ServerFrame,
} from "./types.js";

/** The gateway's inbound frame limit (`CHATGATE_MAX_FRAME_BYTES`); larger closes with 1009. */
export const MAX_FRAME_BYTES = 65_536;

/** The WebSocket subprotocol the SDK speaks. */
export const SUBPROTOCOL = "chatgate.json";

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
  hello: { token: string; resume?: Record<string, number> };
  subscribe: { conversation_id: string; after_seq?: number } | { inbox: true };
  unsubscribe: { conversation_id: string } | { inbox: true };
  "message.send": SendFields;
  "conversation.update": UpdateFields;
  typing: { conversation_id: string; on: boolean };
  read: { conversation_id: string; seq: number };
  ping: Record<string, never>;
  /** Staff: this agent's presence (the dashboard's heartbeat, every 20 s). */
  presence: { status: PresenceStatus };
  /** Staff: this socket is looking at (`on`) or has left a conversation. */
  viewing: { conversation_id: string; on: boolean };
}

/** Each op's reply `data`. */
export interface OpReplies {
  hello: HelloData;
  subscribe: { conversation_id: string; last_seq: number } | { inbox: true };
  unsubscribe: { conversation_id: string } | { inbox: false };
  "message.send": Message;
  "conversation.update": Conversation;
  typing: Record<string, never>;
  read: { conversation_id: string; seq: number };
  ping: { pong: true };
  presence: Record<string, unknown>;
  viewing: Record<string, unknown>;
}

export type Op = keyof OpFields;

const encoder = new TextEncoder();

/** A client frame as text, and its size in bytes. */
export function encodeFrame(
  op: string,
  ref: number,
  fields: object,
): { text: string; bytes: number } {
  const text = JSON.stringify({ op, ref, ...fields });
  return { text, bytes: encoder.encode(text).length };
}

/**
 * The frames of one WebSocket message: an object, or an array of them (a batch). Returns
 * `null` when the message is not JSON of that shape.
 */
export function decodeFrames(data: unknown): ServerFrame[] | null {
  let text: string;
  if (typeof data === "string") text = data;
  else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data))
    text = new TextDecoder().decode(data);
  else return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (
      typeof item !== "object" ||
      item === null ||
      typeof (item as { op?: unknown }).op !== "string"
    ) {
      return null;
    }
  }
  return items as ServerFrame[];
}

/** A stored message as the `new_message` event that carries it (for backfill and replies). */
export function messageEvent(message: Message): AnyEventFrame {
  return {
    op: "event",
    event: "new_message",
    conversation_id: message.conversation_id,
    seq: message.seq,
    data: message,
  };
}
