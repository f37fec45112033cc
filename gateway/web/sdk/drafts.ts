/**
 * Streamed answers in progress. `message.delta` events are volatile (no seq, never replayed):
 * chunks `{message_id, index, text}` whose text, in index order, is the answer so far. A
 * draft ends when the stored message with that id arrives (`new_message`, which replaces it),
 * when a delta says `done: true` (the answer will not be stored), when the conversation
 * changes hands (the bot was fenced off), or when no chunk came for a while.
 */

import type { Timers } from "./env.js";
import type { EventData, Message } from "./types.js";

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

interface Stream {
  conversationId: string;
  chunks: string[];
  text: string;
  timer: unknown;
}

/** How many ended streams are remembered, so that a late chunk does not start them again. */
const ENDED = 256;

export class Drafts {
  private readonly streams = new Map<string, Stream>();
  private readonly ended = new Set<string>();

  constructor(
    private readonly onExpire: (messageId: string) => void,
    private readonly timers: Timers,
    private readonly timeoutMs: number,
  ) {}

  /** Applies a chunk; returns the draft when it changed (a repeated chunk changes nothing). */
  delta(conversationId: string, delta: EventData["message.delta"]): Draft | null {
    const { message_id: id, index, text } = delta;
    if (
      typeof id !== "string" ||
      !Number.isInteger(index) ||
      index < 0 ||
      typeof text !== "string"
    ) {
      return null;
    }
    if (this.ended.has(id)) return null;
    let stream = this.streams.get(id);
    if (stream === undefined) {
      stream = { conversationId, chunks: [], text: "", timer: undefined };
      this.streams.set(id, stream);
    }
    const fresh = stream.chunks[index] === undefined;
    if (fresh) {
      stream.chunks[index] = text;
      let joined = "";
      for (let i = 0; i < stream.chunks.length; i++) {
        const chunk = stream.chunks[i];
        if (chunk === undefined) break;
        joined += chunk;
      }
      stream.text = joined;
    }
    if (delta.done === true) return this.finish(id, null);
    this.timers.clearTimeout(stream.timer);
    if (this.timeoutMs > 0) {
      stream.timer = this.timers.setTimeout(() => this.onExpire(id), this.timeoutMs);
    }
    return fresh ? this.view(id, stream, false, null) : null;
  }

  /** Ends the draft a stored message replaces; `null` when none streamed. */
  settle(message: Message): Draft | null {
    if (!this.streams.has(message.id)) {
      this.remember(message.id);
      return null;
    }
    return this.finish(message.id, message);
  }

  /** Ends a draft without a message. */
  drop(messageId: string): Draft | null {
    return this.finish(messageId, null);
  }

  /** Ends every draft of a conversation without a message. */
  dropConversation(conversationId: string): Draft[] {
    const ended: Draft[] = [];
    for (const [id, stream] of [...this.streams]) {
      if (stream.conversationId === conversationId) {
        const draft = this.finish(id, null);
        if (draft !== null) ended.push(draft);
      }
    }
    return ended;
  }

  /** The drafts of a conversation, as they stand. */
  list(conversationId: string): Draft[] {
    return [...this.streams]
      .filter(([, s]) => s.conversationId === conversationId)
      .map(([id, s]) => this.view(id, s, false, null));
  }

  private finish(id: string, message: Message | null): Draft | null {
    const stream = this.streams.get(id);
    if (stream === undefined) return null;
    this.timers.clearTimeout(stream.timer);
    this.streams.delete(id);
    this.remember(id);
    return this.view(id, stream, true, message);
  }

  private remember(id: string): void {
    this.ended.add(id);
    if (this.ended.size > ENDED) this.ended.delete(this.ended.values().next().value as string);
  }

  private view(id: string, stream: Stream, done: boolean, message: Message | null): Draft {
    return {
      conversation_id: stream.conversationId,
      message_id: id,
      text: message?.content ?? stream.text,
      done,
      message,
    };
  }
}
