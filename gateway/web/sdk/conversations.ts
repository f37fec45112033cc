/**
 * The conversations a client follows, and the order of their events. For each one:
 *
 * - its stored events (`new_message`, `conversation.updated`) go through its `SeqLog`, so each
 *   seq is emitted once, in order, however it came (live, batched, replayed, backfilled, or
 *   as the reply to our own send);
 * - a seq that skips ahead starts a REST backfill of the gap (retried with backoff), and what
 *   follows the gap waits for it;
 * - a subscription survives reconnects: `resume()` gives the seqs for the next `hello`.
 *
 * Everything else (volatile events, the inbox's) is emitted as it comes. Streamed drafts are
 * kept here too, since the stored message that ends one comes through the same log.
 */

import { Backoff, type BackoffOptions } from "./backoff.js";
import { backfill } from "./backfill.js";
import { ClientErrorCode } from "./codes.js";
import { type Draft, Drafts } from "./drafts.js";
import type { Timers } from "./env.js";
import { ChatgateError } from "./errors.js";
import { messageEvent, type OpFields, type OpReplies } from "./frames.js";
import type { ChatgateEvents, Subscribed } from "./options.js";
import type { RestClient } from "./rest.js";
import { SeqLog } from "./seqlog.js";
import type { AnyEventFrame, Conversation, Message, ResumeOutcome } from "./types.js";

/** What the conversations need from their client. */
export interface ConversationsHost {
  readonly rest: RestClient;
  readonly timers: Timers;
  readonly backoff: BackoffOptions | undefined;
  readonly random: () => number;
  readonly draftTimeoutMs: number;
  /** Whether ops can be sent now (the client is open). */
  isOpen(): boolean;
  subscribe(fields: OpFields["subscribe"]): Promise<OpReplies["subscribe"]>;
  emit<K extends keyof ChatgateEvents>(name: K, value: ChatgateEvents[K]): void;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: ChatgateError): void;
}

/** A conversation followed with `subscribe`. */
interface Followed {
  readonly id: string;
  readonly log: SeqLog;
  /** The conversation as last seen in a `conversation.updated` (for backfill's diff). */
  conversation: Conversation | null;
  /** Settled by the next confirmation or refusal of the subscription. */
  ready: Promise<Subscribed>;
  waiter: Waiter<Subscribed> | null;
  backfilling: boolean;
  backfillTimer: unknown;
  readonly retries: Backoff;
}

export class Conversations {
  private readonly followed = new Map<string, Followed>();
  readonly drafts: Drafts;

  constructor(private readonly host: ConversationsHost) {
    this.drafts = new Drafts(
      (id) => this.emitDraft(this.drafts.drop(id)),
      host.timers,
      host.draftTimeoutMs,
    );
  }

  /** Follows a conversation from `afterSeq` (see `Chatgate.subscribe`). */
  subscribe(conversationId: string, afterSeq: number | undefined): Promise<Subscribed> {
    let followed = this.followed.get(conversationId);
    if (followed !== undefined && (afterSeq === undefined || afterSeq === followed.log.lastSeq)) {
      return followed.ready;
    }
    if (followed === undefined) {
      followed = {
        id: conversationId,
        log: new SeqLog(afterSeq ?? 0),
        conversation: null,
        ready: Promise.resolve({ conversation_id: conversationId, last_seq: 0 }),
        waiter: null,
        backfilling: false,
        backfillTimer: undefined,
        retries: new Backoff(this.host.backoff, this.host.random),
      };
      this.followed.set(conversationId, followed);
    } else {
      followed.log.reset(afterSeq ?? 0);
    }
    this.arm(followed);
    if (this.host.isOpen()) this.sendSubscribe(followed);
    return followed.ready;
  }

  /** Stops following; returns whether it was followed. */
  unsubscribe(conversationId: string): boolean {
    const followed = this.followed.get(conversationId);
    if (followed === undefined) return false;
    this.forget(followed);
    followed.waiter?.reject(new ChatgateError(ClientErrorCode.CLOSED, "unsubscribed"));
    followed.waiter = null;
    return true;
  }

  lastSeq(conversationId: string): number | undefined {
    return this.followed.get(conversationId)?.log.lastSeq;
  }

  /** `{conversation_id: last_seq}` for the next `hello`, at most `max` of them. */
  resume(max: number): Record<string, number> {
    const resume: Record<string, number> = {};
    for (const followed of [...this.followed.values()].slice(0, max))
      resume[followed.id] = followed.log.lastSeq;
    return resume;
  }

  /** After a `hello`: settles the resumed subscriptions and subscribes the others (those
   * beyond the resume limit, and those followed after the hello went out). */
  opened(outcomes: Record<string, ResumeOutcome>, resumed: Record<string, number>): void {
    for (const [id, outcome] of Object.entries(outcomes)) this.settle(id, outcome);
    for (const followed of this.followed.values()) {
      if (!(followed.id in resumed)) this.sendSubscribe(followed);
    }
  }

  /** The client stopped: whoever waits for a subscription gets `error`. The subscriptions
   * stay, for a later `connect()`. */
  halted(error: ChatgateError): void {
    for (const followed of this.followed.values()) {
      const waiter = followed.waiter;
      if (waiter === null) continue;
      followed.waiter = null;
      waiter.reject(error);
      this.arm(followed);
    }
  }

  /** An event frame from the socket. */
  receive(frame: AnyEventFrame): void {
    const followed = this.followed.get(frame.conversation_id);
    if (
      followed !== undefined &&
      (frame.event === "new_message" || frame.event === "conversation.updated") &&
      typeof frame.seq === "number" &&
      frame.seq > 0
    ) {
      this.deliver(followed.log.accept(frame));
      this.watchGap(followed);
    } else if (frame.event === "message.delta") {
      this.emitFrame(frame);
      this.emitDraft(this.drafts.delta(frame.conversation_id, frame.data));
    } else {
      this.deliver([frame]);
    }
  }

  /**
   * The reply to our send carries the stored message: it is emitted now when it is the next
   * seq (its event, which may come later, is then a repeat and skipped). A reply further
   * ahead waits for its event: the events before it are on their way, not missing.
   */
  replied(message: Message): void {
    const followed = this.followed.get(message.conversation_id);
    if (followed !== undefined && message.seq === followed.log.lastSeq + 1) {
      this.deliver(followed.log.accept(messageEvent(message)));
    }
  }

  // -- subscriptions ----------------------------------------------------------------------

  private arm(followed: Followed): void {
    if (followed.waiter !== null) return;
    followed.ready = new Promise<Subscribed>((resolve, reject) => {
      followed.waiter = { resolve, reject };
    });
    // Nobody may be awaiting a re-armed promise: a rejection nobody asked for is not news.
    followed.ready.catch(() => undefined);
  }

  private sendSubscribe(followed: Followed): void {
    this.host.subscribe({ conversation_id: followed.id, after_seq: followed.log.lastSeq }).then(
      (data) => {
        if (this.followed.get(followed.id) === followed && "last_seq" in data) {
          this.settle(followed.id, { ok: true, last_seq: data.last_seq });
        }
      },
      (error: ChatgateError) => {
        // A drop: the next hello resumes it. A refusal: the gateway will not give it to us.
        if (error.code === ClientErrorCode.DISCONNECTED || error.code === ClientErrorCode.TIMEOUT)
          return;
        if (this.followed.get(followed.id) !== followed) return;
        this.settle(followed.id, {
          ok: false,
          error: { code: error.code, message: error.message, details: error.details },
        });
      },
    );
  }

  private settle(conversationId: string, outcome: ResumeOutcome): void {
    const followed = this.followed.get(conversationId);
    if (followed === undefined) return;
    const waiter = followed.waiter;
    followed.waiter = null;
    if (outcome.ok) {
      waiter?.resolve({ conversation_id: conversationId, last_seq: outcome.last_seq });
      return;
    }
    this.forget(followed);
    const error = ChatgateError.fromBody({
      ...outcome.error,
      message: `conversation ${conversationId}: ${outcome.error.message}`,
      details: {
        conversation_id: conversationId,
        ...(outcome.error.details as object | undefined),
      },
    });
    if (waiter !== null) waiter.reject(error);
    else this.host.emit("error", error);
  }

  private forget(followed: Followed): void {
    this.followed.delete(followed.id);
    this.host.timers.clearTimeout(followed.backfillTimer);
  }

  // -- events -----------------------------------------------------------------------------

  private deliver(frames: AnyEventFrame[]): void {
    for (const frame of frames) {
      if (frame.event === "new_message") {
        this.emitDraft(this.drafts.settle(frame.data));
      } else if (frame.event === "conversation.updated") {
        const followed = this.followed.get(frame.conversation_id);
        if (followed !== undefined) followed.conversation = frame.data.conversation;
        const changes = frame.data.changes ?? {};
        if ("handler" in changes || "epoch" in changes) {
          // A new handler fences the bot off: its stream will never be stored.
          for (const draft of this.drafts.dropConversation(frame.conversation_id))
            this.emitDraft(draft);
        }
      }
      this.emitFrame(frame);
    }
  }

  private emitFrame(frame: AnyEventFrame): void {
    this.host.emit(frame.event, frame as never);
    this.host.emit("event", frame);
  }

  private emitDraft(draft: Draft | null): void {
    if (draft !== null) this.host.emit("draft", draft);
  }

  private watchGap(followed: Followed): void {
    if (followed.backfilling || followed.backfillTimer !== undefined) return;
    const gap = followed.log.gap;
    if (gap === null) return;
    followed.backfilling = true;
    this.host.emit("gap", {
      conversation_id: followed.id,
      after_seq: gap.afterSeq,
      before_seq: gap.beforeSeq,
    });
    backfill(this.host.rest, followed.id, gap, followed.conversation).then(
      (entries) => {
        followed.backfilling = false;
        if (this.followed.get(followed.id) !== followed) return;
        followed.retries.reset();
        this.deliver(followed.log.fill(entries));
        this.watchGap(followed);
      },
      (error: unknown) => {
        followed.backfilling = false;
        if (this.followed.get(followed.id) !== followed) return;
        this.host.emit("error", ChatgateError.from(error));
        followed.backfillTimer = this.host.timers.setTimeout(() => {
          followed.backfillTimer = undefined;
          this.watchGap(followed);
        }, followed.retries.next());
      },
    );
  }
}
