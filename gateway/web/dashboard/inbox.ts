/**
 * The inbox as data: the org's conversations as the inbox subscription and the REST list tell
 * them, each with its last activity and unread count, filtered by status and assignee, newest
 * activity first. Pure: no DOM, no socket (tested by `node --test`).
 */

import type { Conversation, ConversationStatus, Message } from "../sdk/index.js";

export type StatusFilter = "active" | ConversationStatus | "all";
export type AssigneeFilter = "mine" | "unassigned" | "all";

/** Statuses the "active" filter shows: the conversations someone may still have to answer. */
export const ACTIVE: readonly ConversationStatus[] = ["agent_requested", "open", "bot_active"];

export interface InboxEntry {
  conversation: Conversation;
  /** Milliseconds since the epoch of the last thing that happened (a message, a change). */
  activity: number;
  /** Messages from the visitor this agent has not seen. */
  unread: number;
  /** The highest seq this agent has seen. */
  readSeq: number;
  /** The last message's text, for the list. */
  preview: string;
  /** Contact name or email, when known (search results, conversation metadata). */
  contactName: string | null;
}

export interface Filters {
  status: StatusFilter;
  assignee: AssigneeFilter;
}

function time(iso: string | null | undefined): number {
  const value = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(value) ? 0 : value;
}

/** The name a list shows for a conversation's visitor, from what the conversation carries. */
export function contactNameOf(conversation: Conversation): string | null {
  const loose = conversation as Conversation & {
    contact?: { name?: string | null; email?: string | null } | null;
  };
  const contact = loose.contact;
  const fromContact = contact?.name || contact?.email;
  if (fromContact) return fromContact;
  const meta = conversation.metadata as { name?: unknown; email?: unknown };
  if (typeof meta.name === "string" && meta.name) return meta.name;
  if (typeof meta.email === "string" && meta.email) return meta.email;
  return null;
}

export class Inbox {
  private entries = new Map<string, InboxEntry>();

  constructor(private readonly readPositions: Map<string, number> = new Map()) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): InboxEntry | undefined {
    return this.entries.get(id);
  }

  /** A conversation as read or told (list, created, updated): kept if not older than ours. */
  upsert(conversation: Conversation): InboxEntry {
    const known = this.entries.get(conversation.id);
    if (known !== undefined && known.conversation.last_seq > conversation.last_seq) return known;
    const readSeq = known?.readSeq ?? this.readPositions.get(conversation.id) ?? 0;
    const entry: InboxEntry = {
      conversation,
      activity: Math.max(known?.activity ?? 0, time(conversation.updated_at)),
      unread: known?.unread ?? 0,
      readSeq,
      preview: known?.preview ?? "",
      contactName: contactNameOf(conversation) ?? known?.contactName ?? null,
    };
    this.entries.set(conversation.id, entry);
    return entry;
  }

  /**
   * A message of a followed conversation. Returns true when it is news for this agent: a
   * visitor's message past what the agent has seen (it counts as unread), unless `viewing`.
   */
  message(message: Message, viewing: boolean): boolean {
    const entry = this.entries.get(message.conversation_id);
    if (entry === undefined) return false;
    entry.activity = Math.max(entry.activity, time(message.created_at));
    if (message.role !== "system" && message.content !== "") entry.preview = message.content;
    if (message.seq > entry.conversation.last_seq) {
      entry.conversation = { ...entry.conversation, last_seq: message.seq };
    }
    if (viewing) {
      this.read(message.conversation_id, message.seq);
      return false;
    }
    if (message.role === "visitor" && message.seq > entry.readSeq) {
      entry.unread += 1;
      return true;
    }
    return false;
  }

  /** The agent has seen everything up to `seq`. */
  read(id: string, seq: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    entry.unread = 0;
    entry.readSeq = Math.max(entry.readSeq, seq);
    this.readPositions.set(id, entry.readSeq);
  }

  /** The conversations shown for `filters`, newest activity first. */
  list(filters: Filters, me: string | null): InboxEntry[] {
    return [...this.entries.values()]
      .filter((entry) => matches(entry.conversation, filters, me))
      .sort(
        (a, b) => b.activity - a.activity || a.conversation.id.localeCompare(b.conversation.id),
      );
  }

  /** Unread messages in the conversations `filters` shows. */
  unreadTotal(filters: Filters, me: string | null): number {
    return this.list(filters, me).reduce((sum, entry) => sum + entry.unread, 0);
  }

  /** Each status with the number of conversations in it (for the filter's labels). */
  counts(me: string | null, assignee: AssigneeFilter): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const entry of this.entries.values()) {
      if (!matches(entry.conversation, { status: "all", assignee }, me)) continue;
      const status = entry.conversation.status;
      counts[status] = (counts[status] ?? 0) + 1;
      if (ACTIVE.includes(status)) counts.active = (counts.active ?? 0) + 1;
      counts.all = (counts.all ?? 0) + 1;
    }
    return counts;
  }
}

export function matches(conversation: Conversation, filters: Filters, me: string | null): boolean {
  if (filters.status === "active") {
    if (!ACTIVE.includes(conversation.status)) return false;
  } else if (filters.status !== "all" && conversation.status !== filters.status) {
    return false;
  }
  if (filters.assignee === "mine") return me !== null && conversation.assignee_id === me;
  if (filters.assignee === "unassigned") return conversation.assignee_id === null;
  return true;
}

/** The id next to `current` in `list` (`step` 1: next, -1: previous); the first when none. */
export function neighbour(
  list: readonly string[],
  current: string | null,
  step: 1 | -1,
): string | null {
  if (list.length === 0) return null;
  const at = current === null ? -1 : list.indexOf(current);
  if (at < 0) return step === 1 ? (list[0] ?? null) : (list[list.length - 1] ?? null);
  const next = Math.min(list.length - 1, Math.max(0, at + step));
  return list[next] ?? null;
}
