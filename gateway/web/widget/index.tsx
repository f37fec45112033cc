/**
 * The chat widget (docs/widget.md): `<script src="https://GATEWAY/widget.js"
 * data-widget-id="..." async></script>`. Finds its gateway from its own src, reads the
 * widget's config, and renders the launcher and the panel into a Shadow DOM on
 * `<div id="chatgate-widget">`. Touches nothing global but `window.Chatgate`.
 */

import { render } from "preact";
import { Api } from "./api.js";
import {
  type Embedding,
  embeddingOf,
  fetchConfig,
  findScript,
  type WidgetConfig,
} from "./config.js";
import { strings } from "./i18n.js";
import { ChatModel, type Identity } from "./model.js";
import { SessionStore } from "./storage.js";
import { adoptStyles } from "./styles.js";
import { App } from "./view.js";

const DEFAULTS: WidgetConfig["appearance"] = {
  color: "#2563eb",
  position: "right",
  language: "en",
  title: "",
  greeting: "",
  launcher_text: "",
};

function localStore(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

async function boot(embedding: Embedding, api: Api): Promise<void> {
  let config: WidgetConfig | null = null;
  try {
    config = await fetchConfig(embedding);
  } catch (error) {
    api.emit("error", error);
  }
  const appearance = config?.appearance ?? DEFAULTS;
  const language = embedding.language ?? appearance.language;
  // The org's texts are in its widget's language; another language asked by the page gets
  // that language's defaults.
  const own = language === appearance.language && config !== null;
  const t = strings(language, own ? appearance : {});
  const store = new SessionStore(embedding.widgetId, localStore());
  const model = new ChatModel(
    embedding,
    config ?? { widget_id: embedding.widgetId, appearance, identity_required: false },
    store,
  );
  if (config === null) {
    // Not for this page (origin not allowed, no such widget): say so when opened.
    model.unavailable();
  }

  const host = document.createElement("div");
  host.id = "chatgate-widget";
  // The page's rules for `div` (borders, margins) must not touch the host element either.
  host.style.setProperty("all", "initial", "important");
  document.body.appendChild(host);
  const root = host.attachShadow({ mode: "open" });
  adoptStyles(root);
  const mount = document.createElement("div");
  root.appendChild(mount);

  let open = false;
  const updateVisible = (): void => {
    model.visible = open && document.visibilityState === "visible";
    if (model.visible) model.markRead();
  };
  const draw = (): void =>
    render(
      <App
        model={model}
        strings={t}
        color={appearance.color}
        position={appearance.position}
        open={open}
        setOpen={setOpen}
      />,
      mount,
    );
  function setOpen(value: boolean): void {
    if (value === open) return;
    open = value;
    draw();
    if (open) void model.start().then(updateVisible, () => undefined);
    updateVisible();
    api.emit(open ? "open" : "close");
  }
  draw();

  model.on("message", (message) => api.emit("message", message));
  model.on("unread", (count) => api.emit("unread", count));
  model.on("error", (error) => api.emit("error", error));
  document.addEventListener("visibilitychange", updateVisible);
  window.addEventListener("online", () => model.network(true));
  window.addEventListener("offline", () => model.network(false));
  if (!navigator.onLine) model.network(false);
  window.addEventListener("storage", (event) => {
    // Another tab of the site read the conversation: its unread count goes here too.
    if (event.key !== store.key) return;
    const seq = store.load()?.read_seq;
    if (seq !== undefined) model.markSeen(seq);
  });

  api.attach({
    open: () => setOpen(true),
    close: () => setOpen(false),
    identify: (identity: Identity) => model.identify(identity),
  });
  if (config !== null && model.hasStoredSession) void model.start().catch(() => undefined);
  api.emit("ready");
}

function main(): void {
  const script = findScript();
  const embedding = script ? embeddingOf(script) : null;
  if (embedding === null) {
    console.warn("chatgate: widget.js needs a script tag with data-widget-id");
    return;
  }
  const api = new Api();
  api.install(window as unknown as { Chatgate?: unknown });
  const go = (): void => void boot(embedding, api);
  if (document.body) go();
  else document.addEventListener("DOMContentLoaded", go, { once: true });
}

main();
