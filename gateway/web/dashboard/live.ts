/**
 * The signed-in dashboard's live state: one SDK client (`Chatgate`) on an agent socket token
 * minted from the session; the inbox (REST list + inbox subscription, reloaded after every
 * resume); each active conversation followed from the agent's read position (unread counts,
 * previews, notifications); the open conversation's history, paged by seq; presence
 * (heartbeat every 20 s) and collisions (who views, who types). Views read it and re-render on
 * `changed`.
 */

import {
  Chatgate,
  type ConnectionState,
  type Conversation,
  type EventFrame,
  type Message,
  type PresenceStatus,
} from "../sdk/index.js";
import type { Api, Me } from "./api.js";
import { ACTIVE, type Filters, Inbox } from "./inbox.js";
import { Contacts } from "./contacts.js";
import { Notifier } from "./notify.js";
import { ReadPositions } from "./positions.js";

export const HEARTBEAT_MS = 20_000;
/** Someone typing whose refresh has not come for this long has stopped. */
const TYPING_TTL_MS = 7_000;
/** Someone viewing whose refresh (each heartbeat) has not come for this long has left. */
const VIEWING_TTL_MS = 65_000;
const PAGE = 50;
/** The conversations followed at once for unread counts (the protocol resumes 100). */
const FOLLOW_LIMIT = 100;

export interface Thread {
  messages: Message[];
  /** The lowest seq loaded is above 1: there is history before it. */
  hasEarlier: boolean;
  loading: boolean;
}

interface Seen {
  name: string;
  until: number;
}

export class Live {
  readonly chat: Chatgate;
  readonly inbox: Inbox;
  readonly positions: ReadPositions;
  readonly notifier: Notifier;
  /** Who the visitors are, read once each (the inbox rows shown, the conversation open). */
  readonly contacts: Contacts;
  filters: Filters = { status: "active", assignee: "all" };
  state: ConnectionState = "idle";
  everOpen = false;
  openId: string | null = null;
  status: PresenceStatus = "online";
  readonly threads = new Map<string, Thread>();
  readonly presence = new Map<string, string>();
  readonly names = new Map<string, string>();
  private readonly viewers = new Map<string, Map<string, Seen>>();
  private readonly typers = new Map<string, Map<string, Seen>>();
  private readonly followed = new Set<string>();
  private listeners = new Set<() => void>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private sweep: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly api: Api,
    readonly me: Me,
  ) {
    this.names.set(me.id, me.name);
    this.positions = new ReadPositions(me.id);
    this.inbox = new Inbox(this.positions.all());
    this.notifier = new Notifier();
    this.contacts = new Contacts(
      (id) => api.contact(id),
      () => this.changed(),
    );
    this.chat = new Chatgate({
      url: api.baseUrl,
      token: () => api.socketToken(),
    });
    this.chat.on("state", ({ state }) => {
      this.state = state;
      if (state === "open") this.everOpen = true;
      this.changed();
    });
    this.chat.on("ready", ({ resumed }) => {
      this.onReady(resumed).catch(() => undefined);
    });
    this.chat.on("conversation.created", (frame) =>
      this.onConversation(frame.data.conversation, true),
    );
    this.chat.on("conversation.updated", (frame) =>
      this.onConversation(frame.data.conversation, false),
    );
    this.chat.on("new_message", (frame) => this.onMessage(frame.data));
    this.chat.on("typing", (frame) => this.onTyping(frame));
    this.chat.on("event", (frame) => {
      if (frame.event === "viewing") this.onViewing(frame as EventFrame<"viewing">);
      else if (frame.event === "presence") this.onPresence(frame as EventFrame<"presence">);
    });
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    this.notifier.badge(this.inbox.unreadTotal({ status: "all", assignee: "all" }, this.me.id));
    for (const listener of this.listeners) listener();
  }

  async start(): Promise<void> {
    // Subscribed after every hello by the SDK (before connect: nothing is sent yet).
    void this.chat.subscribeInbox();
    await this.chat.connect();
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.sweep = setInterval(() => this.expire(), 2_000);
    document.addEventListener("visibilitychange", this.onVisible);
    void this.loadAgents();
  }

  private readonly onVisible = (): void => {
    const id = this.openId;
    const messages = id === null ? [] : (this.threads.get(id)?.messages ?? []);
    const last = messages[messages.length - 1];
    if (id !== null && last !== undefined && document.visibilityState === "visible") {
      this.markRead(id, last.seq);
      this.changed();
    }
  };

  stop(): void {
    document.removeEventListener("visibilitychange", this.onVisible);
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    if (this.sweep !== null) clearInterval(this.sweep);
    this.chat.close();
  }

  // -- the inbox --------------------------------------------------------------------------

  private async onReady(resumed: boolean): Promise<void> {
    this.beat();
    await this.reload();
    if (resumed && this.openId !== null) await this.catchUp(this.openId);
  }

  /** The list again (the inbox has no replay), then follow the active conversations. */
  async reload(): Promise<void> {
    const seen: Conversation[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 4; page++) {
      const answer = await this.chat.rest.listConversations({ limit: 100, cursor });
      seen.push(...answer.data);
      if (answer.next_cursor === null) break;
      cursor = answer.next_cursor;
    }
    for (const conversation of seen) this.inbox.upsert(conversation);
    this.followActive();
    this.changed();
  }

  private followActive(): void {
    const active = this.inbox
      .list({ status: "active", assignee: "all" }, this.me.id)
      .filter((entry) => !this.followed.has(entry.conversation.id))
      .slice(0, Math.max(0, FOLLOW_LIMIT - this.followed.size));
    for (const entry of active) this.follow(entry.conversation.id, entry.readSeq);
  }

  private follow(id: string, afterSeq: number): void {
    if (this.followed.has(id)) return;
    this.followed.add(id);
    this.chat.subscribe(id, { afterSeq }).catch(() => this.followed.delete(id));
  }

  private onConversation(conversation: Conversation, created: boolean): void {
    const known = this.inbox.get(conversation.id) !== undefined;
    this.inbox.upsert(conversation);
    if (ACTIVE.includes(conversation.status)) this.follow(conversation.id, 0);
    if (created && !known) {
      this.notifier.notify("New conversation", "A visitor started a conversation", () =>
        this.open(conversation.id),
      );
    }
    this.changed();
  }

  private onMessage(message: Message): void {
    const id = message.conversation_id;
    const looking = this.openId === id && document.visibilityState === "visible";
    const news = this.inbox.message(message, looking);
    if (looking) this.markRead(id, message.seq);
    const thread = this.threads.get(id);
    if (thread !== undefined) insert(thread.messages, message);
    if (message.role === "visitor") this.typers.get(id)?.delete("visitor");
    else if (message.sender_id !== null) this.typers.get(id)?.delete(message.sender_id);
    if (news) {
      const entry = this.inbox.get(id);
      const name =
        this.contacts.nameOf(entry?.conversation.contact_id) ?? entry?.contactName ?? "Visitor";
      this.notifier.notify(`New message from ${name}`, message.content, () => this.open(id));
    }
    this.changed();
  }

  /** Callers navigate; this is what the notifier's click does. */
  openHandler: (id: string) => void = () => undefined;

  private open(id: string): void {
    this.openHandler(id);
  }

  // -- the open conversation ---------------------------------------------------------------

  /** Open a conversation: its latest page of history, followed live, others told we view it. */
  async view(id: string | null): Promise<void> {
    const previous = this.openId;
    if (previous === id) return;
    this.openId = id;
    if (previous !== null) this.sendViewing(previous, false);
    if (id === null) {
      this.changed();
      return;
    }
    this.sendViewing(id, true);
    void this.loadViewers(id);
    if (!this.threads.has(id))
      this.threads.set(id, { messages: [], hasEarlier: false, loading: true });
    this.changed();
    const conversation = await this.chat.rest.getConversation(id);
    this.inbox.upsert(conversation);
    await this.catchUp(id, Math.max(0, conversation.last_seq - PAGE));
    this.follow(id, conversation.last_seq);
  }

  /** Reads what is missing of an open thread (after a resume, or when first opened). */
  private async catchUp(id: string, from?: number): Promise<void> {
    const thread = this.threads.get(id);
    if (thread === undefined) return;
    let after = from ?? thread.messages[thread.messages.length - 1]?.seq ?? 0;
    if (from !== undefined && thread.messages.length === 0) thread.hasEarlier = from > 0;
    for (;;) {
      const page = await this.chat.rest.listMessages(id, { afterSeq: after, limit: 200 });
      for (const message of page.data) insert(thread.messages, message);
      if (!page.has_more) break;
      after = page.next_after_seq;
    }
    thread.loading = false;
    const last = thread.messages[thread.messages.length - 1];
    if (last !== undefined && this.openId === id) {
      this.inbox.message(last, true);
      this.markRead(id, last.seq);
    }
    this.changed();
  }

  /** The page of history before the first message shown. */
  async loadEarlier(id: string): Promise<void> {
    const thread = this.threads.get(id);
    const first = thread?.messages[0];
    if (thread === undefined || first === undefined || !thread.hasEarlier) return;
    thread.loading = true;
    this.changed();
    const after = Math.max(0, first.seq - PAGE - 1);
    const page = await this.chat.rest.listMessages(id, { afterSeq: after, limit: PAGE });
    for (const message of page.data) if (message.seq < first.seq) insert(thread.messages, message);
    thread.hasEarlier = after > 0;
    thread.loading = false;
    this.changed();
  }

  private markRead(id: string, seq: number): void {
    this.inbox.read(id, seq);
    this.positions.set(id, seq);
    this.chat.markRead(id, seq).catch(() => undefined);
  }

  /** A reply (or, `note`, a private note) in the open conversation. */
  async reply(
    id: string,
    content: string,
    note: boolean,
    attachments: { url: string; name?: string }[],
  ): Promise<void> {
    this.chat.typing(id, false);
    const options = note ? { private: true, attachments } : { attachments };
    const message = await this.chat.send(id, content, options);
    this.onMessage(message);
  }

  async update(
    id: string,
    changes: { status?: "open" | "resolved" | "closed"; assignee_id?: string | null },
  ): Promise<void> {
    const conversation = await this.chat.rest.updateConversation(id, changes);
    this.onConversation(conversation, false);
  }

  // -- presence and collisions -------------------------------------------------------------

  setStatus(status: PresenceStatus): void {
    this.status = status;
    this.beat();
    this.changed();
  }

  /** The heartbeat: presence, and (so late joiners learn it) what this tab is viewing. */
  private beat(): void {
    if (this.chat.state !== "open") return;
    this.chat.request("presence", { status: this.status }).catch(() => undefined);
    if (this.openId !== null) {
      this.sendViewing(this.openId, true);
      void this.loadViewers(this.openId);
    }
  }

  /** Who views a conversation now, as the gateway knows it (events only tell changes). */
  private async loadViewers(id: string): Promise<void> {
    try {
      const answer = await this.chat.rest.request<{ data: { agent_id: string; name: string }[] }>(
        "GET",
        `/v1/conversations/${encodeURIComponent(id)}/viewers`,
      );
      const room = new Map<string, Seen>();
      for (const viewer of answer.data) {
        if (viewer.agent_id === this.me.id) continue;
        this.names.set(viewer.agent_id, viewer.name);
        room.set(viewer.agent_id, { name: viewer.name, until: Date.now() + VIEWING_TTL_MS });
      }
      this.viewers.set(id, room);
      this.changed();
    } catch {
      // The events keep the list meanwhile.
    }
  }

  private sendViewing(id: string, on: boolean): void {
    if (this.chat.state !== "open") return;
    this.chat.request("viewing", { conversation_id: id, on }).catch(() => undefined);
  }

  private onViewing(frame: EventFrame<"viewing">): void {
    const { agent_id, name, on } = frame.data;
    if (agent_id === this.me.id) return;
    this.names.set(agent_id, name);
    const room = this.viewers.get(frame.conversation_id) ?? new Map<string, Seen>();
    this.viewers.set(frame.conversation_id, room);
    if (on) room.set(agent_id, { name, until: Date.now() + VIEWING_TTL_MS });
    else room.delete(agent_id);
    this.changed();
  }

  private onTyping(frame: EventFrame<"typing">): void {
    const data = frame.data;
    const who = data.role === "visitor" ? "visitor" : (data.agent_id ?? data.sender_id);
    if (who === null || who === this.me.id) return;
    const name =
      data.role === "visitor"
        ? "Visitor"
        : (data.name ?? this.names.get(who) ?? (data.role === "bot" ? "Bot" : "An agent"));
    const room = this.typers.get(frame.conversation_id) ?? new Map<string, Seen>();
    this.typers.set(frame.conversation_id, room);
    if (data.on) room.set(who, { name, until: Date.now() + TYPING_TTL_MS });
    else room.delete(who);
    this.changed();
  }

  private onPresence(frame: EventFrame<"presence">): void {
    this.presence.set(frame.data.agent_id, frame.data.status);
    const name = (frame.data as { name?: unknown }).name;
    if (typeof name === "string" && name !== "") this.names.set(frame.data.agent_id, name);
    this.changed();
  }

  /** The team as presence knows it: name and status, online first. */
  team(): { id: string; name: string; status: string }[] {
    const order: Record<string, number> = { online: 0, away: 1 };
    return [...this.presence.entries()]
      .map(([id, status]) => ({
        id,
        name: this.names.get(id) ?? "Agent",
        status: id === this.me.id ? this.status : status,
      }))
      .sort(
        (a, b) => (order[a.status] ?? 2) - (order[b.status] ?? 2) || a.name.localeCompare(b.name),
      );
  }

  /** Who else views the conversation, by name. */
  viewing(id: string): string[] {
    return [...(this.viewers.get(id)?.values() ?? [])].map((seen) => seen.name);
  }

  /** Who else types in it, by name. */
  typing(id: string): string[] {
    return [...(this.typers.get(id)?.values() ?? [])].map((seen) => seen.name);
  }

  private expire(): void {
    const now = Date.now();
    let any = false;
    for (const rooms of [this.viewers, this.typers]) {
      for (const room of rooms.values()) {
        for (const [who, seen] of room) {
          if (seen.until < now) {
            room.delete(who);
            any = true;
          }
        }
      }
    }
    if (any) this.changed();
  }

  private async loadAgents(): Promise<void> {
    try {
      const { data } = await this.api.agents();
      for (const agent of data) this.names.set(agent.id, agent.name);
    } catch {
      // Agents (not admins) may not list the team: names come from presence and viewing.
    }
    try {
      const answer = await this.chat.rest.request<{
        data: { agent_id: string; name?: string; status: string }[];
      }>("GET", "/v1/agents/presence");
      for (const item of answer.data) {
        this.presence.set(item.agent_id, item.status);
        if (item.name) this.names.set(item.agent_id, item.name);
      }
    } catch {
      // No presence route: the events fill it in.
    }
    this.changed();
  }
}

/** Puts a message in seq order, once (by id). */
export function insert(messages: Message[], message: Message): void {
  if (messages.some((m) => m.id === message.id)) return;
  let at = messages.length;
  while (at > 0 && (messages[at - 1]?.seq ?? 0) > message.seq) at--;
  messages.splice(at, 0, message);
}
