/**
 * One conversation: who else is here (viewing, typing), the actions (take over, assign,
 * resolve, close, reopen), the history paged by seq and live, the visitor's details, and the
 * reply box (typing, attachments, private notes).
 */

import { useEffect, useRef, useState } from "preact/hooks";
import type { Attachment, Conversation, Message } from "../../sdk/index.js";
import type { Live } from "../live.js";
import { messageHtml } from "../../widget/sanitize.js";
import { problemText, STATUS_NAMES, shortTime, who } from "./common.js";

interface Props {
  live: Live;
  id: string;
  onProblem: (text: string) => void;
}

export function ConversationView({ live, id, onProblem }: Props) {
  const entry = live.inbox.get(id);
  const thread = live.threads.get(id);
  const conversation = entry?.conversation;
  const fail = (error: unknown): void => onProblem(problemText(error));
  const viewing = live.viewing(id);
  const typing = live.typing(id);
  const contactId = conversation?.contact_id ?? null;
  useEffect(() => live.contacts.want([contactId]), [live, contactId]);

  if (conversation === undefined) {
    return (
      <main class="conversation">
        <p class="loading">Loading…</p>
      </main>
    );
  }
  const title = live.contacts.nameOf(contactId) ?? entry?.contactName ?? "Visitor";
  return (
    <main class="conversation" aria-labelledby="conversation-title">
      <header class="conversation-head">
        <div>
          <h1 id="conversation-title">{title}</h1>
          <span class={`status ${conversation.status}`} data-testid="status">
            {STATUS_NAMES[conversation.status]}
          </span>
        </div>
        <Actions live={live} conversation={conversation} fail={fail} />
      </header>
      <div class="collisions" aria-live="polite">
        {viewing.length > 0 && <span class="viewing">{who(viewing, "viewing")}</span>}
        {typing.length > 0 && <span class="typing">{who(typing, "typing…")}</span>}
      </div>
      <div class="conversation-body">
        <History
          live={live}
          id={id}
          messages={thread?.messages ?? []}
          hasEarlier={thread?.hasEarlier ?? false}
          loading={thread?.loading ?? true}
        />
        <Details conversation={conversation} live={live} />
      </div>
      <Reply live={live} conversation={conversation} fail={fail} />
    </main>
  );
}

function Actions({
  live,
  conversation,
  fail,
}: {
  live: Live;
  conversation: Conversation;
  fail: (e: unknown) => void;
}) {
  const id = conversation.id;
  const status = conversation.status;
  const run = (changes: Parameters<Live["update"]>[1]) => () =>
    void live.update(id, changes).catch(fail);
  const takeOver = async (): Promise<void> => {
    if (status === "bot_active")
      await live.chat.rest.updateConversation(id, { status: "agent_requested" });
    // Opening a waiting conversation is the takeover: it assigns the one who opens it.
    await live.update(id, { status: "open" });
  };
  const waiting = status === "agent_requested" || status === "bot_active";
  const ended = status === "resolved" || status === "closed" || status === "archived";
  const agents = [...live.names.entries()];
  return (
    <div class="actions" role="group" aria-label="Conversation actions">
      {waiting && (
        <button type="button" class="primary" onClick={() => void takeOver().catch(fail)}>
          Take over
        </button>
      )}
      <label class="sr-only" for="assignee">
        Assignee
      </label>
      <select
        id="assignee"
        value={conversation.assignee_id ?? ""}
        onChange={(e) =>
          run({ assignee_id: e.currentTarget.value === "" ? null : e.currentTarget.value })()
        }
      >
        <option value="">Unassigned</option>
        {agents.map(([agentId, name]) => (
          <option key={agentId} value={agentId}>
            {agentId === live.me.id ? `${name} (me)` : name}
          </option>
        ))}
      </select>
      {!ended && (
        <button type="button" onClick={run({ status: "resolved" })} title="Resolve (e)">
          Resolve
        </button>
      )}
      {status !== "closed" && status !== "archived" && (
        <button type="button" onClick={run({ status: "closed" })}>
          Close
        </button>
      )}
      {ended && (
        <button type="button" onClick={run({ status: "open" })}>
          Reopen
        </button>
      )}
    </div>
  );
}

function History({
  live,
  id,
  messages,
  hasEarlier,
  loading,
}: {
  live: Live;
  id: string;
  messages: Message[];
  hasEarlier: boolean;
  loading: boolean;
}) {
  const list = useRef<HTMLOListElement>(null);
  const last = messages[messages.length - 1]?.seq ?? 0;
  useEffect(() => {
    const element = list.current;
    if (element !== null) element.scrollTop = element.scrollHeight;
  }, [last]);
  return (
    <section class="history" aria-label="Messages">
      <ol ref={list} class="messages" aria-live="polite">
        {hasEarlier && (
          <li class="earlier">
            <button
              type="button"
              class="quiet"
              disabled={loading}
              onClick={() => void live.loadEarlier(id)}
            >
              Load earlier messages
            </button>
          </li>
        )}
        {messages.map((message) => (
          <Bubble key={message.id} live={live} message={message} />
        ))}
        {loading && messages.length === 0 && <li class="loading">Loading…</li>}
      </ol>
    </section>
  );
}

function author(live: Live, message: Message): string {
  if (message.role === "visitor") return "Visitor";
  if (message.role === "bot") return "Bot";
  if (message.role === "system") return "";
  if (message.sender_id === live.me.id) return "You";
  return (
    (message.sender_id && live.names.get(message.sender_id)) ||
    (message.role === "live_agent" ? "Live agent" : "Agent")
  );
}

function Bubble({ live, message }: { live: Live; message: Message }) {
  if (message.role === "system") {
    return (
      <li class="system" data-seq={message.seq}>
        {message.content}
      </li>
    );
  }
  const kind = message.private ? "note" : message.role === "visitor" ? "visitor" : "staff";
  return (
    <li class={`message ${kind}`} data-seq={message.seq}>
      <div class="meta">
        <span>{author(live, message)}</span>
        {message.private && <span class="note-tag">Private note</span>}
        <time dateTime={message.created_at}>{shortTime(message.created_at)}</time>
      </div>
      {message.content !== "" && (
        <div class="text" dangerouslySetInnerHTML={{ __html: messageHtml(message.content) }} />
      )}
      {message.attachments.map((attachment) => (
        <File key={attachment.sha256} live={live} attachment={attachment} />
      ))}
    </li>
  );
}

function File({ live, attachment }: { live: Live; attachment: Attachment }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    live.chat.rest.fetchFile(attachment.url).then(
      (blob) => setUrl((made = URL.createObjectURL(blob))),
      () => undefined,
    );
    return () => {
      if (made !== null) URL.revokeObjectURL(made);
    };
  }, [attachment.url]);
  const name = attachment.name ?? "attachment";
  if (url === null) return <span class="file">{name}</span>;
  return attachment.mime.startsWith("image/") ? (
    <a href={url} target="_blank" rel="noopener noreferrer" class="file">
      <img src={url} alt={name} />
    </a>
  ) : (
    <a href={url} download={name} class="file">
      {name}
    </a>
  );
}

function Details({ conversation, live }: { conversation: Conversation; live: Live }) {
  // The contact as read (GET /v1/contacts/{id}), else what the conversation carries.
  const contact: Record<string, unknown> | null | undefined =
    (live.contacts.get(conversation.contact_id) as Record<string, unknown> | undefined) ??
    (conversation as Conversation & { contact?: Record<string, unknown> | null }).contact;
  const rows: [string, string][] = [];
  if (contact) {
    for (const key of ["name", "email", "external_id"]) {
      const value = contact[key];
      if (typeof value === "string" && value) rows.push([key.replace("_", " "), value]);
    }
  }
  rows.push(["channel", conversation.channel]);
  if (conversation.contact_id) rows.push(["contact", conversation.contact_id]);
  rows.push(["started", new Date(conversation.created_at).toLocaleString()]);
  if (conversation.assignee_id)
    rows.push(["assignee", live.names.get(conversation.assignee_id) ?? conversation.assignee_id]);
  for (const [key, value] of Object.entries(conversation.metadata)) {
    rows.push([key, typeof value === "string" ? value : JSON.stringify(value)]);
  }
  return (
    <aside class="details" aria-label="Visitor details">
      <h2>Visitor</h2>
      <dl>
        {rows.map(([key, value]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </aside>
  );
}

function Reply({
  live,
  conversation,
  fail,
}: {
  live: Live;
  conversation: Conversation;
  fail: (e: unknown) => void;
}) {
  const id = conversation.id;
  const [text, setText] = useState("");
  const [note, setNote] = useState(false);
  const [files, setFiles] = useState<{ url: string; name: string }[]>([]);
  const [uploading, setUploading] = useState(false);
  const [sending, setSending] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const canReply =
    note || conversation.status === "open" || conversation.status === "agent_requested";

  const send = (): void => {
    const content = text.trim();
    if ((content === "" && files.length === 0) || sending) return;
    setSending(true);
    live.reply(id, content, note, files).then(
      () => {
        setText("");
        setFiles([]);
        setSending(false);
      },
      (error: unknown) => {
        setSending(false);
        fail(error);
      },
    );
  };
  const upload = (list: FileList | null): void => {
    const file = list?.[0];
    if (file === undefined) return;
    setUploading(true);
    live.chat.rest.uploadFile(id, file, file.name).then(
      (stored) => {
        setFiles((now) => [...now, { url: stored.url, name: file.name }]);
        setUploading(false);
      },
      (error: unknown) => {
        setUploading(false);
        fail(error);
      },
    );
    if (fileInput.current) fileInput.current.value = "";
  };

  return (
    <form
      class={note ? "reply note" : "reply"}
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label for="reply" class="sr-only">
        {note ? "Note" : "Reply"}
      </label>
      <textarea
        id="reply"
        rows={3}
        placeholder={
          note
            ? "A private note: only your team sees it"
            : canReply
              ? "Reply to the visitor (Enter sends, Shift+Enter for a new line)"
              : "Reopen or take over to reply"
        }
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          if (!note) live.chat.typing(id, e.currentTarget.value !== "");
        }}
        onBlur={() => live.chat.typing(id, false)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey) {
            e.preventDefault();
            send();
          }
        }}
      />
      {files.length > 0 && (
        <ul class="pending-files" aria-label="Attachments">
          {files.map((file) => (
            <li key={file.url}>
              {file.name}{" "}
              <button
                type="button"
                class="quiet"
                aria-label={`Remove ${file.name}`}
                onClick={() => setFiles((now) => now.filter((f) => f !== file))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="reply-bar">
        <label class="toggle">
          <input
            type="checkbox"
            checked={note}
            onChange={(e) => {
              setNote(e.currentTarget.checked);
              live.chat.typing(id, false);
            }}
          />
          Private note
        </label>
        <input
          ref={fileInput}
          id="attach"
          type="file"
          class="sr-only"
          onChange={(e) => upload(e.currentTarget.files)}
        />
        <label for="attach" class="button quiet">
          {uploading ? "Uploading…" : "Attach file"}
        </label>
        <span class="spacer" />
        <button type="submit" class="primary" disabled={sending || uploading || !canReply}>
          {note ? "Add note" : "Send"}
        </button>
      </div>
    </form>
  );
}
