/**
 * The widget's UI (Preact): the launcher with its unread badge, and the panel (a dialog) with
 * the message log, typing and connection states, uploads and the composer. Elements are found
 * by role and name (docs/widget.md#accessibility): the tests rely on nothing else.
 */

import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";
import type { Strings } from "./i18n.js";
import type { ChatModel, Item } from "./model.js";
import { messageHtml } from "./sanitize.js";
import { onColor } from "./styles.js";

export interface AppProps {
  model: ChatModel;
  strings: Strings;
  color: string;
  position: "left" | "right";
  /** Whether the panel is open, and the way to change it (the JS API uses the same). */
  open: boolean;
  setOpen: (open: boolean) => void;
}

function useModel(model: ChatModel): ChatModel["snapshot"] {
  const [, update] = useReducer((n: number, _: void) => n + 1, 0);
  useEffect(() => model.subscribe(() => update()), [model]);
  return model.snapshot;
}

export function App({ model, strings: t, color, position, open, setOpen }: AppProps) {
  const view = useModel(model);
  const launcher = useRef<HTMLButtonElement>(null);
  const wasOpen = useRef(open);
  useEffect(() => {
    // Closing gives the focus back to the launcher (not on the first render).
    if (wasOpen.current && !open) launcher.current?.focus();
    wasOpen.current = open;
  }, [open]);
  const style = { "--cg-color": color, "--cg-on-color": onColor(color) };
  return (
    <div class={`root ${position}`} style={style}>
      {open ? (
        <Panel model={model} view={view} t={t} close={() => setOpen(false)} />
      ) : (
        <button
          ref={launcher}
          type="button"
          class="launcher"
          aria-label={t.open}
          onClick={() => setOpen(true)}
        >
          <svg viewBox="0 0 24 24" aria-hidden="true">
            <path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" />
          </svg>
          <span aria-hidden="true">{t.launcher}</span>
          {view.unread > 0 && (
            <span class="badge" role="status" aria-label={t.unread(view.unread)}>
              {view.unread}
            </span>
          )}
        </button>
      )}
    </div>
  );
}

interface PanelProps {
  model: ChatModel;
  view: ChatModel["snapshot"];
  t: Strings;
  close: () => void;
}

function Panel({ model, view, t, close }: PanelProps) {
  const log = useRef<HTMLDivElement>(null);
  const textbox = useRef<HTMLTextAreaElement>(null);
  const file = useRef<HTMLInputElement>(null);
  const [text, setText] = useState("");
  useEffect(() => textbox.current?.focus(), []);
  useLayoutEffect(() => {
    const el = log.current?.parentElement;
    if (el) el.scrollTop = el.scrollHeight;
  }, [view.items, view.typing, view.uploads]);

  const send = (): void => {
    const content = text.trim();
    if (!content) return;
    setText("");
    void model.send(content).catch(() => undefined);
  };
  const handler = view.conversation?.handler;
  const human = handler === "agent" || handler === "live_agent";
  return (
    <div
      class="panel"
      role="dialog"
      aria-label={t.title}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          close();
        }
      }}
    >
      <header>
        <h2>{t.title}</h2>
        {!human && (
          <button
            type="button"
            disabled={view.humanRequested || view.phase === "error"}
            onClick={() => void model.askForHuman().catch(() => undefined)}
          >
            {t.human}
          </button>
        )}
        <button type="button" class="close" aria-label={t.close} onClick={close}>
          ×
        </button>
      </header>
      <div class="body">
        <p class="greeting">{t.greeting}</p>
        <div ref={log} role="log" aria-live="polite" aria-label={t.messages}>
          {view.items.map((item) => (
            <Message key={item.key} item={item} t={t} model={model} read={view.readByStaff} />
          ))}
        </div>
        {view.uploads.map((u) => (
          <div class="uploads" key={u.id}>
            <img src={u.preview} alt={u.name} />
            <progress aria-label={t.uploading} max={1} value={u.progress} />
          </div>
        ))}
      </div>
      {view.typing && (
        <div class="typing" role="status">
          {t.typing}
        </div>
      )}
      {view.offline && (
        <div class="offline" role="status">
          {t.offline}
        </div>
      )}
      {view.error && (
        <div class="alert" role="alert">
          {t[view.error === "unavailable" ? "unavailable" : "failed"]}
        </div>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <button
          type="button"
          class="attach"
          aria-label={t.attach}
          onClick={() => file.current?.click()}
        >
          +
        </button>
        <input
          ref={file}
          type="file"
          accept="image/*"
          aria-label={t.attach}
          onChange={(e) => {
            const input = e.currentTarget;
            for (const f of Array.from(input.files ?? []))
              void model.upload(f).catch(() => undefined);
            input.value = "";
          }}
        />
        <textarea
          ref={textbox}
          rows={1}
          aria-label={t.message}
          value={text}
          onInput={(e) => {
            const value = e.currentTarget.value;
            setText(value);
            model.typing(value.trim() !== "");
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit">{t.send}</button>
      </form>
    </div>
  );
}

function sender(item: Item, t: Strings): string {
  switch (item.role) {
    case "visitor":
      return t.you;
    case "bot":
      return t.bot;
    case "system":
      return t.system;
    default:
      return t.agent;
  }
}

function Message({
  item,
  t,
  model,
  read,
}: {
  item: Item;
  t: Strings;
  model: ChatModel;
  read: number;
}) {
  const content = item.note ? t[item.content as "humanRequested" | "closed"] : item.content;
  const html = item.note ? null : messageHtml(content);
  const status = item.failed
    ? t.notSent
    : item.pending
      ? t.sending
      : item.role === "visitor" && item.seq <= read
        ? t.read
        : null;
  return (
    <article
      class={`msg ${item.role === "live_agent" ? "agent" : item.role}${item.busy ? " busy" : ""}`}
      aria-label={sender(item, t)}
      aria-busy={item.busy ? "true" : undefined}
    >
      {html === null ? (
        <div class="text">{content}</div>
      ) : (
        <div class="text" dangerouslySetInnerHTML={{ __html: html }} />
      )}
      {item.attachments.map((a) => (
        <Attachment key={a.url} url={a.url} name={a.name} model={model} />
      ))}
      {status && <span class="meta">{status}</span>}
    </article>
  );
}

function Attachment({ url, name, model }: { url: string; name: string; model: ChatModel }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    let live = true;
    model.fileUrl(url).then(
      (u) => {
        objectUrl = u;
        if (live) setSrc(u);
        else URL.revokeObjectURL(u);
      },
      () => undefined,
    );
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url]);
  return src ? <img src={src} alt={name} /> : <span class="meta">{name}</span>;
}
