/**
 * Messages on their way: each keyed by its `client_message_id`, kept until the gateway answers
 * with the stored message or refuses it. A send that a drop interrupted is sent again after the
 * next `hello` with the same id; the gateway stores a `client_message_id` once per
 * conversation and answers a repeat with the original message, so a retry never duplicates.
 */

import type { Backoff } from "./backoff.js";
import type { ChatgateError } from "./errors.js";
import type { SendFields } from "./frames.js";
import type { AttachmentInput, Message, Metadata } from "./types.js";

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

export interface OutboxEntry extends PendingSend {
  readonly fields: SendFields;
  readonly promise: Promise<Message>;
  attempts: number;
  /** On the current socket, waiting for its reply. */
  inFlight: boolean;
  /** Numbers each attempt, so that a late answer to an old one changes nothing. */
  flight: number;
  /** A timer before the next attempt (after an `unavailable` reply), and its delays. */
  retryTimer: unknown;
  retries: Backoff | null;
}

interface Settle {
  resolve(message: Message): void;
  reject(error: ChatgateError): void;
}

export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  private readonly settles = new Map<string, Settle>();

  /** The entry of this id, if one is pending. */
  get(clientMessageId: string): OutboxEntry | undefined {
    return this.entries.get(clientMessageId);
  }

  add(fields: SendFields & { client_message_id: string }): OutboxEntry {
    let settle: Settle | undefined;
    const promise = new Promise<Message>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const entry: OutboxEntry = {
      clientMessageId: fields.client_message_id,
      conversationId: fields.conversation_id,
      content: fields.content,
      attachments: fields.attachments ?? [],
      metadata: fields.metadata,
      fields,
      promise,
      attempts: 0,
      inFlight: false,
      flight: 0,
      retryTimer: undefined,
      retries: null,
    };
    this.entries.set(entry.clientMessageId, entry);
    this.settles.set(entry.clientMessageId, settle as Settle);
    return entry;
  }

  resolve(entry: OutboxEntry, message: Message): void {
    this.settles.get(entry.clientMessageId)?.resolve(message);
    this.remove(entry);
  }

  reject(entry: OutboxEntry, error: ChatgateError): void {
    this.settles.get(entry.clientMessageId)?.reject(error);
    this.remove(entry);
  }

  /** Every pending entry, oldest first (the order they go out in). */
  list(conversationId?: string): OutboxEntry[] {
    const all = [...this.entries.values()];
    return conversationId === undefined
      ? all
      : all.filter((e) => e.conversationId === conversationId);
  }

  private remove(entry: OutboxEntry): void {
    this.entries.delete(entry.clientMessageId);
    this.settles.delete(entry.clientMessageId);
  }
}
