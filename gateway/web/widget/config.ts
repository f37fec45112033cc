/** A widget's public config: `GET /v1/widgets/{id}/config` (docs/api.md#widget-look-and-texts). */

import { RestClient } from "../sdk/index.js";

export interface Appearance {
  color: string;
  position: "left" | "right";
  language: string;
  title: string;
  greeting: string;
  launcher_text: string;
}

export interface WidgetConfig {
  widget_id: string;
  appearance: Appearance;
  identity_required: boolean;
}

/** Where the widget's script was told to talk, and what the page asked for. */
export interface Embedding {
  /** The gateway's base URL, from the script's own `src`. */
  url: string;
  widgetId: string;
  /** `data-language`, which overrides the config's language. */
  language: string | null;
}

export function fetchConfig(embedding: Embedding): Promise<WidgetConfig> {
  const rest = new RestClient(embedding.url, (input, init) => fetch(input, init));
  return rest.request("GET", `/v1/widgets/${encodeURIComponent(embedding.widgetId)}/config`);
}

/** The embedding a `<script src=".../widget.js" data-widget-id=...>` element describes. */
export function embeddingOf(script: HTMLScriptElement): Embedding | null {
  const widgetId = script.dataset["widgetId"];
  if (!widgetId) return null;
  const src = new URL(script.src, document.baseURI);
  const url = src.href.replace(/\/widget\.js(?:[?#].*)?$/, "");
  return { url, widgetId, language: script.dataset["language"] ?? null };
}

/** The widget's own script element: the current one, or the one whose src ends /widget.js. */
export function findScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset["widgetId"]) return current;
  const all = document.querySelectorAll<HTMLScriptElement>("script[src][data-widget-id]");
  for (const script of Array.from(all)) {
    if (/\/widget\.js(?:[?#].*)?$/.test(new URL(script.src, document.baseURI).href)) return script;
  }
  return null;
}
