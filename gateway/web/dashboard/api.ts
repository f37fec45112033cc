/**
 * The dashboard's REST calls, authenticated by the session cookie (`chatgate_session`, set by
 * sign-in, HttpOnly): every change carries the CSRF token (`X-CSRF-Token`, the readable
 * `chatgate_csrf` cookie's value). The socket gets its own short-lived agent token, minted from
 * the session (`POST /v1/auth/socket-token`). Shapes: docs/dashboard.md, docs/api.md.
 */

import {
  ChatgateError,
  type Conversation,
  type FetchLike,
  type FetchResponse,
  RestClient,
} from "../sdk/index.js";
import type { Contact } from "./contacts.js";

export type AgentRole = "admin" | "agent";

export interface Me {
  id: string;
  name: string;
  email: string | null;
  role: AgentRole;
}

export interface Agent {
  id: string;
  name: string;
  email: string | null;
  role?: AgentRole;
  status: "active" | "disabled";
  created_at: string;
}

export interface SearchHit {
  conversation: Conversation;
  match: { kind: "message" | "contact"; text: string; seq?: number };
}

export const CSRF_COOKIE = "chatgate_csrf";

/** The value of cookie `name` in a `document.cookie` string. */
export function cookieValue(cookies: string, name: string): string | null {
  for (const part of cookies.split(";")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    if (part.slice(0, at).trim() === name) return decodeURIComponent(part.slice(at + 1).trim());
  }
  return null;
}

export class Api {
  readonly rest: RestClient;
  /** The CSRF token the last `me()` returned (the cookie wins when it is readable). */
  private csrf: string | null = null;

  constructor(readonly baseUrl: string) {
    const fetchWithSession: FetchLike = async (url, init = {}) => {
      const method = (init.method ?? "GET").toUpperCase();
      const headers = { ...init.headers };
      if (method !== "GET" && method !== "HEAD") {
        const token = cookieValue(document.cookie, CSRF_COOKIE) ?? this.csrf;
        if (token !== null) headers["X-CSRF-Token"] = token;
      }
      const response = await fetch(url, {
        method,
        headers,
        body: init.body ?? null,
        credentials: "same-origin",
      });
      return response as FetchResponse;
    };
    this.rest = new RestClient(baseUrl, fetchWithSession, null);
  }

  request<T>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string | number | undefined> } = {},
  ): Promise<T> {
    return this.rest.request<T>(method, path, options);
  }

  /** The signed-in agent, or null when there is no (valid) session. */
  async me(): Promise<Me | null> {
    try {
      const answer = await this.request<{ agent: Me; csrf_token?: string }>("GET", "/v1/auth/me");
      this.csrf = answer.csrf_token ?? this.csrf;
      return answer.agent;
    } catch (error) {
      if (error instanceof ChatgateError && (error.status === 401 || error.status === 403)) {
        return null;
      }
      throw error;
    }
  }

  async signIn(email: string, password: string): Promise<Me> {
    await this.request("POST", "/v1/auth/sign-in", { body: { email, password } });
    const me = await this.me();
    if (me === null) throw new ChatgateError("unauthorized", "the session was not kept");
    return me;
  }

  async signOut(all = false): Promise<void> {
    await this.request("POST", "/v1/auth/sign-out", { body: { all } });
  }

  async socketToken(): Promise<string> {
    const answer = await this.request<{ token: string }>("POST", "/v1/auth/socket-token", {
      body: {},
    });
    return answer.token;
  }

  acceptInvitation(token: string, name: string, password: string): Promise<unknown> {
    return this.request("POST", "/v1/auth/accept-invitation", { body: { token, name, password } });
  }

  resetPassword(token: string, password: string): Promise<unknown> {
    return this.request("POST", "/v1/auth/reset-password", { body: { token, password } });
  }

  search(q: string, limit = 20): Promise<{ data: SearchHit[]; next_cursor: string | null }> {
    return this.request("GET", "/v1/search", { query: { q, limit } });
  }

  contact(id: string): Promise<Contact> {
    return this.request("GET", `/v1/contacts/${encodeURIComponent(id)}`);
  }

  agents(): Promise<{ data: Agent[] }> {
    return this.request("GET", "/v1/agents");
  }
}
