/**
 * `window.Chatgate`, the page's handle on the widget: `open()`, `close()`, `identify(...)`,
 * `on(event, fn)`, `version`. The snippet may define a stub first that queues calls in
 * `window.Chatgate.q`; they are replayed, in order, once the widget is up.
 */

import type { Identity } from "./model.js";

export const VERSION = "0.1.0";

export interface ApiEvents {
  ready: undefined;
  open: undefined;
  close: undefined;
  message: unknown;
  unread: number;
  error: unknown;
}

export type ApiEventName = keyof ApiEvents;

export interface ChatgateApi {
  version: string;
  open(): void;
  close(): void;
  identify(identity: Identity): Promise<void>;
  on<K extends ApiEventName>(event: K, fn: (value: ApiEvents[K]) => void): void;
}

/** What the widget does behind the API. */
export interface ApiTarget {
  open(): void;
  close(): void;
  identify(identity: Identity): Promise<void>;
}

export class Api {
  private listeners = new Map<string, Set<(value: unknown) => void>>();
  readonly handle: ChatgateApi;
  private target: ApiTarget | null = null;
  private waiting: (() => void)[] = [];

  constructor() {
    const call =
      <A extends unknown[], R>(fn: (t: ApiTarget, ...args: A) => R) =>
      (...args: A): Promise<R> =>
        this.target
          ? Promise.resolve(fn(this.target, ...args))
          : new Promise<R>((resolve, reject) => {
              this.waiting.push(() => {
                try {
                  resolve(fn(this.target as ApiTarget, ...args));
                } catch (error) {
                  reject(error);
                }
              });
            });
    const open = call((t) => t.open());
    const close = call((t) => t.close());
    const identify = call((t, identity: Identity) => t.identify(identity));
    this.handle = {
      version: VERSION,
      open: () => void open(),
      close: () => void close(),
      identify: async (identity) => identify(identity).then((p) => p),
      on: (event, fn) => {
        let set = this.listeners.get(event);
        if (!set) this.listeners.set(event, (set = new Set()));
        set.add(fn as (value: unknown) => void);
      },
    };
  }

  /** The widget is up: calls made until now run. */
  attach(target: ApiTarget): void {
    this.target = target;
    for (const run of this.waiting.splice(0)) run();
  }

  emit<K extends ApiEventName>(event: K, value?: ApiEvents[K]): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(value);
      } catch (error) {
        // A listener's exception is the page's: reported on its own, the widget goes on.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  /** Takes `window.Chatgate`'s place, replaying what the snippet's stub queued. */
  install(global: { Chatgate?: unknown }): void {
    const stub = global.Chatgate as { q?: unknown } | undefined;
    global.Chatgate = this.handle;
    const queue = Array.isArray(stub?.q) ? (stub.q as unknown[]) : [];
    for (const entry of queue) {
      const [method, ...args] = Array.from(entry as ArrayLike<unknown>);
      const fn = (this.handle as unknown as Record<string, unknown>)[String(method)];
      if (typeof fn === "function") {
        const result: unknown = fn(...args);
        if (result instanceof Promise) result.catch(() => undefined);
      }
    }
  }
}
