/** What the SDK takes from its environment, injectable so that it runs in browsers, in Node
 * and in tests alike: WebSocket, fetch, timers and randomness. */

/** The part of the WebSocket API the SDK uses (the browser's, undici's, the `ws` package's). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/** What the SDK passes to fetch. */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | FormData | Blob;
}

/** The part of a fetch Response the SDK reads. */
export interface FetchResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  text(): Promise<string>;
  blob(): Promise<Blob>;
}

export type FetchLike = (url: string, init?: FetchInit) => Promise<FetchResponse>;

/** The clock: timers and the time, so that tests can drive time by hand. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds, as `Date.now()`. */
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/** The global fetch, called unbound (a browser's refuses to run with another `this`). */
export function globalFetch(): FetchLike | undefined {
  const f = globalThis.fetch;
  return typeof f === "function" ? (url, init) => f(url, init) : undefined;
}

export function globalWebSocket(): WebSocketConstructor | undefined {
  const ws = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return typeof ws === "function" ? ws : undefined;
}

/** A random UUID (v4), also on pages that are not a secure context (no `randomUUID`). */
export function randomId(): string {
  const crypto = globalThis.crypto as Crypto | undefined;
  if (crypto !== undefined && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (crypto !== undefined && typeof crypto.getRandomValues === "function") {
    crypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
