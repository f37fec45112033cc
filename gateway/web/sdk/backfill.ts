/**
 * Backfill of a gap over REST. The gateway's REST history is of messages
 * (`GET /v1/conversations/{id}/messages?after_seq=`), but the event log also numbers status
 * changes (`conversation.updated`), which no REST page lists. So a gap is filled in two steps:
 *
 * 1. the messages in the gap, paged, each as the `new_message` event it was;
 * 2. if seqs are still missing, they were conversation changes: the conversation is read
 *    (`GET /v1/conversations/{id}`) and, when it differs from the one the client knew, one
 *    `conversation.updated` is made at the last missing seq, with `changes` from the
 *    difference (each field that differs, as `[known, now]`; empty when the client knew no
 *    state of it: read `conversation`).
 *    The other missing seqs deliver nothing.
 */

import { messageEvent } from "./frames.js";
import type { RestClient } from "./rest.js";
import type { Gap } from "./seqlog.js";
import type { AnyEventFrame, Conversation } from "./types.js";

/** The REST page size of a backfill (the gateway's maximum). */
export const BACKFILL_PAGE = 200;

/** Fields that change with every event and are left out of a made-up diff. */
const NOISE = new Set(["updated_at", "last_seq"]);

/** Entries for `SeqLog.fill`: every seq of the gap, with its event or `null`. */
export async function backfill(
  rest: RestClient,
  conversationId: string,
  gap: Gap,
  known: Conversation | null,
): Promise<Array<[number, AnyEventFrame | null]>> {
  const entries: Array<[number, AnyEventFrame | null]> = [];
  const covered = new Set<number>();
  let after = gap.afterSeq;
  for (;;) {
    const page = await rest.listMessages(conversationId, { afterSeq: after, limit: BACKFILL_PAGE });
    for (const message of page.data) {
      if (message.seq > gap.afterSeq && message.seq < gap.beforeSeq) {
        entries.push([message.seq, messageEvent(message)]);
        covered.add(message.seq);
      }
    }
    if (
      !page.has_more ||
      page.next_after_seq <= after ||
      page.next_after_seq >= gap.beforeSeq - 1
    ) {
      break;
    }
    after = page.next_after_seq;
  }
  const holes: number[] = [];
  for (let seq = gap.afterSeq + 1; seq < gap.beforeSeq; seq++) {
    if (!covered.has(seq)) holes.push(seq);
  }
  if (holes.length === 0) return entries;
  const conversation = await rest.getConversation(conversationId);
  const changes = diff(known, conversation);
  const last = holes[holes.length - 1] as number;
  for (const seq of holes) {
    const changed = seq === last && (known === null || Object.keys(changes).length > 0);
    entries.push([
      seq,
      changed
        ? {
            op: "event",
            event: "conversation.updated",
            conversation_id: conversationId,
            seq,
            data: { conversation, changes },
          }
        : null,
    ]);
  }
  return entries;
}

function diff(known: Conversation | null, now: Conversation): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {};
  if (known === null) return changes;
  const before = known as unknown as Record<string, unknown>;
  for (const [field, value] of Object.entries(now)) {
    if (!NOISE.has(field) && JSON.stringify(before[field]) !== JSON.stringify(value)) {
      changes[field] = [before[field] ?? null, value];
    }
  }
  return changes;
}
