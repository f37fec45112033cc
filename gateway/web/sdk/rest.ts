/**
 * The REST API (`/v1`, docs/api.md) for what a chat client needs beside its socket: starting a
 * conversation, history pages (the backfill of a gap), files, and sending when no socket is up.
 * Every method throws a `ChatgateError` carrying the gateway's code and HTTP status.
 */

import { ClientErrorCode, ErrorCode } from "./codes.js";
import { type FetchInit, type FetchLike, type FetchResponse, globalFetch } from "./env.js";
import { ChatgateError } from "./errors.js";
import type { SendFields, UpdateFields } from "./frames.js";
import type {
  Conversation,
  ConversationPage,
  ConversationStatus,
  ErrorBody,
  Message,
  MessagePage,
  Metadata,
  UploadedFile,
  WidgetSession,
} from "./types.js";

/** Where the REST client gets its credential: the current one, and a new one after a 401. */
export interface Credentials {
  token(): Promise<string | null>;
  /** A fresh credential after the gateway refused the current one; `null`: none to try. */
  refresh(): Promise<string | null>;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface StartConversationBody {
  widget_id?: string;
  contact_id?: string;
  contact?: { external_id?: string; name?: string; email?: string; metadata?: Metadata };
  metadata?: Metadata;
  channel?: "widget" | "api";
}

/** The fields of `POST /v1/widgets/{id}/sessions`; more may be added by the gateway. */
export interface WidgetSessionBody {
  name?: string;
  email?: string;
  metadata?: Metadata;
  [field: string]: unknown;
}

export class RestClient {
  /** The gateway's base URL, without a trailing slash. */
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly fetch: FetchLike,
    private readonly credentials: Credentials | null = null,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /**
   * Any `/v1` request: JSON in, JSON out. A 401 is retried once with a refreshed credential.
   *
   * Throws:
   *   ChatgateError: the gateway's error (`code`, `status`, `details`, `requestId`), or
   *     `network` when no answer came.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  startConversation(body: StartConversationBody = {}): Promise<Conversation> {
    return this.request("POST", "/v1/conversations", { body });
  }

  getConversation(conversationId: string): Promise<Conversation> {
    return this.request("GET", `/v1/conversations/${enc(conversationId)}`);
  }

  /** Newest first; pass `next_cursor` as `cursor` for the next page. */
  listConversations(
    query: { status?: ConversationStatus; limit?: number; cursor?: string } = {},
  ): Promise<ConversationPage> {
    return this.request("GET", "/v1/conversations", { query });
  }

  updateConversation(
    conversationId: string,
    changes: Omit<UpdateFields, "conversation_id">,
  ): Promise<Conversation> {
    return this.request("PATCH", `/v1/conversations/${enc(conversationId)}`, { body: changes });
  }

  endConversation(conversationId: string): Promise<Conversation> {
    return this.request("POST", `/v1/conversations/${enc(conversationId)}/end`);
  }

  /** Messages after `afterSeq` in seq order; pass `next_after_seq` on while `has_more`. */
  listMessages(
    conversationId: string,
    page: { afterSeq?: number; limit?: number } = {},
  ): Promise<MessagePage> {
    return this.request("GET", `/v1/conversations/${enc(conversationId)}/messages`, {
      query: { after_seq: page.afterSeq ?? 0, limit: page.limit },
    });
  }

  /** Sends over REST; `client_message_id` makes a retry return the stored message. */
  sendMessage(conversationId: string, body: Omit<SendFields, "conversation_id">): Promise<Message> {
    return this.request("POST", `/v1/conversations/${enc(conversationId)}/messages`, { body });
  }

  markRead(conversationId: string, seq: number): Promise<{ conversation_id: string; seq: number }> {
    return this.request("POST", `/v1/conversations/${enc(conversationId)}/read`, { body: { seq } });
  }

  /** Uploads a file into a conversation; send its `url` as an attachment. */
  uploadFile(conversationId: string, file: Blob, filename?: string): Promise<UploadedFile> {
    const form = new FormData();
    if (filename === undefined) form.append("file", file);
    else form.append("file", file, filename);
    return this.request("POST", `/v1/conversations/${enc(conversationId)}/files`, { body: form });
  }

  /**
   * A file's bytes, with the credential (an `<img src>` cannot send it). Takes an attachment's
   * `url` or a sha256, and always asks this gateway for `/v1/files/{sha256}`: a stored URL
   * may name another host, and the credential goes nowhere else.
   */
  async fetchFile(urlOrSha256: string): Promise<Blob> {
    const sha = /([0-9a-f]{64})\/?$/i.exec(urlOrSha256)?.[1];
    if (sha === undefined) {
      throw new ChatgateError(ErrorCode.VALIDATION_ERROR, `not a file URL: ${urlOrSha256}`);
    }
    const response = await this.send("GET", `/v1/files/${sha.toLowerCase()}`, {});
    return response.blob();
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<FetchResponse> {
    let token = this.credentials ? await this.credentials.token() : null;
    let response = await this.attempt(method, path, options, token);
    if (response.status === 401 && this.credentials !== null) {
      token = await this.credentials.refresh();
      if (token !== null) response = await this.attempt(method, path, options, token);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  private async attempt(
    method: string,
    path: string,
    options: RequestOptions,
    token: string | null,
  ): Promise<FetchResponse> {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    const init: FetchInit = { method, headers };
    if (options.body instanceof FormData) {
      init.body = options.body;
    } else if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    try {
      return await this.fetch(this.baseUrl + path + queryString(options.query), init);
    } catch (error) {
      throw new ChatgateError(ClientErrorCode.NETWORK, `${method} ${path}: ${String(error)}`);
    }
  }
}

/**
 * Opens (or, with the visitor's still-valid `token`, renews) a visitor session of a widget:
 * `POST /v1/widgets/{widgetId}/sessions`, checked against the widget's allowed origins.
 * Pass the answer's `token` to `new Chatgate({token})`.
 */
export function openWidgetSession(
  options: { url: string; widgetId: string; token?: string; fetch?: FetchLike },
  body: WidgetSessionBody = {},
): Promise<WidgetSession> {
  const fetch = options.fetch ?? globalFetch();
  if (fetch === undefined) throw new TypeError("no global fetch: pass options.fetch");
  const token = options.token ?? null;
  const credentials: Credentials | null =
    token === null ? null : { token: async () => token, refresh: async () => null };
  return new RestClient(options.url, fetch, credentials).request(
    "POST",
    `/v1/widgets/${enc(options.widgetId)}/sessions`,
    { body },
  );
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function queryString(query: RequestOptions["query"]): string {
  if (query === undefined) return "";
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined)
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

async function errorOf(response: FetchResponse): Promise<ChatgateError> {
  const requestId = response.headers.get("X-Request-Id") ?? undefined;
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not the gateway's envelope (a proxy's page): the status says what it can.
  }
  const error = (body as { error?: ErrorBody } | null)?.error;
  if (error && typeof error.code === "string") {
    return ChatgateError.fromBody(error, { status: response.status, requestId });
  }
  const code = response.status >= 500 ? ErrorCode.UNAVAILABLE : ErrorCode.BAD_REQUEST;
  return new ChatgateError(code, `HTTP ${response.status}`, { status: response.status, requestId });
}
