/**
 * The conversation as the widget shows it, on the SDK: the visitor's session (opened lazily,
 * renewed on a refused token), the conversation's messages, streamed drafts, typing, read
 * receipts, the unread count, pending sends, uploads, and the connection state. The view
 * renders a `View` snapshot; every change calls the listeners.
 */

import {
  Chatgate,
  ChatgateError,
  type Conversation,
  type Draft,
  type Message,
  openWidgetSession,
  type Role,
} from "../sdk/index.js";
import type { Embedding, WidgetConfig } from "./config.js";
import type { SessionStore } from "./storage.js";
import { uploadWithProgress } from "./upload.js";

/** One entry of the message log. */
export interface Item {
  key: string;
  role: Role;
  content: string;
  attachments: { url: string; name: string; local?: string }[];
  seq: number;
  /** The sender's `client_message_id`, to tell a pending send from the message it became. */
  clientId?: string | null;
  /** A streamed answer still coming. */
  busy?: boolean;
  /** Sent, not yet stored. */
  pending?: boolean;
  failed?: boolean;
  /** A note of this widget's own (e.g. "we asked for a person"), not a stored message. */
  note?: boolean;
}

export interface Upload {
  id: number;
  name: string;
  progress: number;
  preview: string;
}

export type Phase = "idle" | "starting" | "ready" | "error";

export interface View {
  phase: Phase;
  /** Why the widget cannot chat: `unavailable` (origin, identity) or `failed`. */
  error: "unavailable" | "failed" | null;
  offline: boolean;
  items: Item[];
  typing: boolean;
  /** The highest seq a person (agent, bot) of the conversation has read. */
  readByStaff: number;
  unread: number;
  uploads: Upload[];
  conversation: Conversation | null;
  humanRequested: boolean;
}

export interface Identity {
  external_id?: string;
  user_hash?: string;
  name?: string;
  email?: string;
}

type Events = {
  message: Message;
  unread: number;
  error: ChatgateError;
};

const TYPING_TIMEOUT_MS = 8000;

export class ChatModel {
  private view: View = {
    phase: "idle",
    error: null,
    offline: false,
    items: [],
    typing: false,
    readByStaff: 0,
    unread: 0,
    uploads: [],
    conversation: null,
    humanRequested: false,
  };
  private messages = new Map<number, Item>();
  private notes: Item[] = [];
  private failed: Item[] = [];
  private chat: Chatgate | null = null;
  private token: string | null = null;
  private identity: Identity = {};
  private readSeq = 0;
  private wasOpen = false;
  private socketDown = false;
  private browserOffline = false;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private uploadIds = 0;
  private starting: Promise<void> | null = null;
  private blocked = false;
  private listeners = new Set<() => void>();
  private handlers = new Map<keyof Events, Set<(value: never) => void>>();
  /** Whether the visitor sees the conversation (the panel is open and the tab visible). */
  visible = false;

  constructor(
    readonly embedding: Embedding,
    readonly config: WidgetConfig,
    private readonly store: SessionStore,
  ) {
    this.readSeq = store.load()?.read_seq ?? 0;
  }

  get snapshot(): View {
    return this.view;
  }

  get conversationId(): string | null {
    return this.view.conversation?.id ?? null;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  on<K extends keyof Events>(name: K, fn: (value: Events[K]) => void): void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(fn);
  }

  private emit<K extends keyof Events>(name: K, value: Events[K]): void {
    for (const fn of this.handlers.get(name) ?? []) {
      try {
        (fn as (value: Events[K]) => void)(value);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  /** Whether a session was kept from an earlier page view (then the widget starts at load). */
  get hasStoredSession(): boolean {
    return this.store.load() !== null;
  }

  /** The widget cannot chat on this page (its config was refused): say so, start nothing. */
  unavailable(): void {
    this.blocked = true;
    this.set({ phase: "error", error: "unavailable" });
  }

  /** Opens the session and the conversation once; later calls wait for the same start. */
  start(): Promise<void> {
    if (this.blocked) return Promise.reject(new ChatgateError("forbidden", "not available here"));
    this.starting ??= this.run().catch((error: unknown) => {
      this.starting = null;
      this.fail(ChatgateError.from(error));
      throw error;
    });
    return this.starting;
  }

  /** Opens the session again as an identified visitor (docs/widget.md#identity). */
  async identify(identity: Identity): Promise<void> {
    const changed = identity.external_id !== this.identity.external_id;
    this.identity = { ...identity };
    if (changed) {
      // Another person: not the anonymous visitor's conversation.
      this.stop();
      this.store.clear();
      this.readSeq = 0;
    } else if (this.view.phase === "ready") {
      return;
    }
    this.starting = null;
    await this.start();
  }

  private stop(): void {
    this.chat?.close();
    this.chat = null;
    this.token = null;
    this.messages.clear();
    this.notes = [];
    this.failed = [];
    this.set({ phase: "idle", error: null, conversation: null, items: [], unread: 0 });
  }

  private async run(): Promise<void> {
    this.set({ phase: "starting", error: null });
    const stored = this.store.load();
    const session = await this.openSession(stored?.token);
    this.token = session;
    const chat = new Chatgate({
      url: this.embedding.url,
      token: async ({ refresh }) => {
        if (refresh || this.token === null) this.token = await this.openSession(this.token);
        return this.token;
      },
    });
    let conversation: Conversation | null = null;
    if (stored?.conversation_id) {
      try {
        conversation = await chat.rest.getConversation(stored.conversation_id);
      } catch (error) {
        if (!(error instanceof ChatgateError && error.status !== undefined && error.status < 500))
          throw error;
      }
      if (conversation && ["closed", "archived"].includes(conversation.status)) conversation = null;
    }
    conversation ??= await chat.rest.startConversation({ widget_id: this.embedding.widgetId });
    if (conversation.id !== stored?.conversation_id) this.readSeq = 0;
    this.store.save({
      token: session,
      conversation_id: conversation.id,
      read_seq: this.readSeq,
    });
    this.chat = chat;
    this.set({ conversation, humanRequested: conversation.status === "agent_requested" });
    this.listen(chat, conversation.id);
    void chat.connect();
    await chat.subscribe(conversation.id);
    this.set({ phase: "ready" });
  }

  /** A visitor token: the stored one renewed, else a new session (the visitor's identity). */
  private async openSession(token: string | null | undefined): Promise<string> {
    const body: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.identity)) {
      if (typeof value === "string" && value !== "") body[key] = value;
    }
    const base = { url: this.embedding.url, widgetId: this.embedding.widgetId };
    if (token) {
      try {
        const session = await openWidgetSession({ ...base, token }, body);
        this.store.update({ token: session.token });
        return session.token;
      } catch (error) {
        // An expired token: a new session (a new visitor, unless identified).
        if (!(error instanceof ChatgateError && error.status === 401)) throw error;
      }
    }
    const session = await openWidgetSession(base, body);
    this.store.update({ token: session.token });
    return session.token;
  }

  private listen(chat: Chatgate, id: string): void {
    chat.on("new_message", (event) => {
      if (event.conversation_id !== id) return;
      this.addMessage(event.data);
      this.emit("message", event.data);
    });
    chat.on("conversation.updated", (event) => {
      if (event.conversation_id !== id) return;
      const { conversation, changes } = event.data;
      const status = (changes as Record<string, unknown[] | undefined>)["status"];
      if (status?.[1] === "agent_requested") this.note(event.seq, "humanRequested");
      if (status?.[1] === "closed") this.note(event.seq, "closed");
      this.set({
        conversation,
        humanRequested: conversation.status === "agent_requested",
      });
    });
    chat.on("draft", () => this.refresh());
    chat.on("typing", (event) => {
      if (event.conversation_id !== id || event.data.role === "visitor") return;
      clearTimeout(this.typingTimer);
      if (event.data.on) {
        this.typingTimer = setTimeout(() => this.set({ typing: false }), TYPING_TIMEOUT_MS);
      }
      this.set({ typing: event.data.on });
    });
    chat.on("read", (event) => {
      if (event.conversation_id !== id) return;
      if (event.data.role === "visitor") this.markSeen(event.data.seq);
      else this.set({ readByStaff: Math.max(this.view.readByStaff, event.data.seq) });
    });
    chat.on("state", ({ state }) => {
      if (state === "open") this.wasOpen = true;
      this.socketDown = this.wasOpen && state !== "open";
      this.set({ offline: this.socketDown || this.browserOffline });
    });
    chat.on("error", (error) => this.emit("error", error));
  }

  private addMessage(message: Message): void {
    this.messages.set(message.seq, {
      key: message.id,
      role: message.role,
      content: message.content,
      attachments: message.attachments.map((a) => ({ url: a.url, name: a.name ?? "" })),
      seq: message.seq,
      clientId: message.client_message_id,
    });
    if (message.role !== "visitor") this.set({ typing: false });
    if (message.role === "visitor") this.markSeen(message.seq);
    else if (this.visible) this.markRead();
    this.refresh();
  }

  private note(seq: number, text: "humanRequested" | "closed"): void {
    if (this.notes.some((n) => n.key === `note-${seq}`)) return;
    this.notes.push({
      key: `note-${seq}`,
      role: "system",
      content: text,
      attachments: [],
      seq,
      note: true,
    });
  }

  /** The visitor saw everything up to `seq` (here, in another tab, or by writing). */
  markSeen(seq: number): void {
    if (seq <= this.readSeq) return;
    this.readSeq = seq;
    this.store.update({ read_seq: seq });
    this.refresh();
  }

  /** The panel shows the conversation: everything in it is read. */
  markRead(): void {
    const id = this.conversationId;
    const last = Math.max(0, ...this.messages.keys());
    if (id === null || last <= this.readSeq) return;
    this.markSeen(last);
    void this.chat?.markRead(id, last).catch(() => undefined);
  }

  /** Puts the log together: stored messages and notes by seq, then drafts and pending sends. */
  private refresh(): void {
    const id = this.conversationId;
    const items = [...this.messages.values(), ...this.notes].sort((a, b) => a.seq - b.seq);
    if (this.chat && id) {
      const stored = new Set([...this.messages.values()].map((m) => m.key));
      for (const draft of this.chat.drafts(id) as Draft[]) {
        if (draft.message && stored.has(draft.message.id)) continue;
        items.push({
          key: `draft-${draft.message_id}`,
          role: "bot",
          content: draft.text,
          attachments: [],
          seq: Infinity,
          busy: true,
        });
      }
      const sent = new Set([...this.messages.values()].map((m) => m.clientId));
      for (const pending of this.chat.pendingSends(id)) {
        if (sent.has(pending.clientMessageId)) continue;
        items.push({
          key: pending.clientMessageId,
          role: "visitor",
          content: pending.content,
          attachments: (pending.attachments ?? []).map((a) => ({ url: a.url, name: a.name ?? "" })),
          seq: Infinity,
          pending: true,
        });
      }
    }
    items.push(...this.failed);
    let unread = 0;
    for (const item of this.messages.values()) {
      // Markers (the takeover) are not messages to read.
      if (item.role !== "visitor" && item.role !== "system" && item.seq > this.readSeq) unread++;
    }
    const changed = unread !== this.view.unread;
    this.set({ items, unread });
    if (changed) this.emit("unread", unread);
  }

  async send(content: string, attachments: { url: string; name: string }[] = []): Promise<void> {
    await this.start();
    const id = this.conversationId;
    if (!this.chat || id === null) return;
    this.chat.typing(id, false);
    const sending = this.chat.send(id, content, { attachments });
    this.refresh();
    try {
      await sending;
    } catch (error) {
      this.failed.push({
        key: `failed-${this.failed.length}`,
        role: "visitor",
        content,
        attachments,
        seq: Infinity,
        failed: true,
      });
      this.emit("error", ChatgateError.from(error));
    }
    this.refresh();
  }

  typing(on: boolean): void {
    const id = this.conversationId;
    if (this.chat && id) this.chat.typing(id, on);
  }

  async askForHuman(): Promise<void> {
    await this.start();
    const id = this.conversationId;
    if (!this.chat || id === null) return;
    this.set({ humanRequested: true });
    try {
      const conversation = await this.chat.updateConversation(id, { status: "agent_requested" });
      this.set({ conversation });
    } catch (error) {
      this.set({ humanRequested: false });
      this.emit("error", ChatgateError.from(error));
    }
  }

  async upload(file: File): Promise<void> {
    await this.start();
    const id = this.conversationId;
    if (!this.chat || id === null || this.token === null) return;
    const upload: Upload = {
      id: ++this.uploadIds,
      name: file.name,
      progress: 0,
      preview: URL.createObjectURL(file),
    };
    const update = (fields: Partial<Upload>): void => {
      this.set({
        uploads: this.view.uploads.map((u) => (u.id === upload.id ? { ...u, ...fields } : u)),
      });
    };
    this.set({ uploads: [...this.view.uploads, upload] });
    try {
      const stored = await uploadWithProgress(this.embedding.url, this.token, id, file, (p) =>
        update({ progress: p }),
      );
      await this.send("", [{ url: stored.url, name: file.name }]);
    } catch (error) {
      this.emit("error", ChatgateError.from(error));
    } finally {
      this.set({ uploads: this.view.uploads.filter((u) => u.id !== upload.id) });
      URL.revokeObjectURL(upload.preview);
    }
  }

  /** A file's bytes as an object URL (an `<img src>` cannot send the visitor's token). */
  async fileUrl(url: string): Promise<string> {
    await this.start();
    if (!this.chat) throw new ChatgateError("closed", "no session");
    return URL.createObjectURL(await this.chat.rest.fetchFile(url));
  }

  /**
   * The browser says it lost or regained the network (`offline`, `online` events): offline is
   * shown at once, and back online the socket reconnects now rather than after its backoff.
   */
  network(online: boolean): void {
    this.browserOffline = !online;
    this.set({ offline: this.socketDown || this.browserOffline });
    if (online && this.chat) void this.chat.connect().catch(() => undefined);
  }

  private fail(error: ChatgateError): void {
    const unavailable = error.status === 403 || error.status === 404;
    if (unavailable) this.store.clear();
    this.set({ phase: "error", error: unavailable ? "unavailable" : "failed" });
    this.emit("error", error);
  }

  private set(fields: Partial<View>): void {
    this.view = { ...this.view, ...fields };
    for (const listener of this.listeners) listener();
  }
}
