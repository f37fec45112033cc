/**
 * One WebSocket's lifetime: frames out, frames in (an object or a batch of them), replies
 * matched to their requests by `ref`, a deadline on every reply. It knows nothing of
 * reconnecting, resuming or seqs: the client builds those on top, one Connection per attempt.
 */

import { ClientErrorCode, CloseCode, ErrorCode } from "./codes.js";
import type { Timers, WebSocketLike } from "./env.js";
import { ChatgateError } from "./errors.js";
import {
  decodeFrames,
  encodeFrame,
  MAX_FRAME_BYTES,
  type Op,
  type OpFields,
  type OpReplies,
} from "./frames.js";
import type { AnyEventFrame } from "./types.js";

export interface ConnectionHandlers {
  /** The socket is open: send `hello`. */
  open(): void;
  /** An event frame, in the order the gateway sent it. */
  event(frame: AnyEventFrame): void;
  /** A reply came too late, or a frame could not be read: not fatal, but worth telling. */
  problem(error: ChatgateError): void;
  /** The socket is gone (once): every pending request has been rejected first. */
  closed(code: number, reason: string): void;
}

/** Called with the reply's data, or the error, as soon as the reply is read. */
export type ReplyCallback<T> = (error: ChatgateError | null, data?: T) => void;

interface Pending {
  callback: ReplyCallback<unknown>;
  timer: unknown;
}

/** The close code a client may send when it gives up on a socket that stopped answering. */
const GIVE_UP = 4000;

export class Connection {
  private readonly pending = new Map<number, Pending>();
  private nextRef = 1;
  private done = false;

  constructor(
    private readonly ws: WebSocketLike,
    private readonly handlers: ConnectionHandlers,
    private readonly timers: Timers,
    private readonly timeoutMs: number,
  ) {
    ws.onopen = () => this.done || handlers.open();
    ws.onmessage = (message) => this.receive(message.data);
    ws.onclose = (close) => this.finish(close.code, close.reason);
    // An error is always followed by a close event, which carries what we need.
    ws.onerror = () => undefined;
  }

  /**
   * Sends one op and resolves with its reply's `data`.
   *
   * Throws (rejects):
   *   ChatgateError: the gateway's error reply; `payload_too_large` for a frame over 64 KiB
   *     (not sent); `disconnected` when the socket closes first; `timeout` when no reply
   *     came in time, after which the socket is given up (closed, and `closed` called).
   */
  request<O extends Op>(op: O, fields: OpFields[O]): Promise<OpReplies[O]> {
    return new Promise((resolve, reject) => {
      this.call(op, fields, (error, data) =>
        error === null ? resolve(data as OpReplies[O]) : reject(error),
      );
    });
  }

  /** `request` with a callback, called before the next frame of a batch is read (`hello`
   * uses it, so that the events replayed after its reply come after the client is open). */
  call<O extends Op>(op: O, fields: OpFields[O], callback: ReplyCallback<OpReplies[O]>): void {
    if (this.done) {
      callback(new ChatgateError(ClientErrorCode.DISCONNECTED, "not connected"));
      return;
    }
    const ref = this.nextRef++;
    const { text, bytes } = encodeFrame(op, ref, fields);
    if (bytes > MAX_FRAME_BYTES) {
      callback(
        new ChatgateError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `a ${op} frame of ${bytes} bytes is over 64 KiB`,
          {
            details: { max_bytes: MAX_FRAME_BYTES },
          },
        ),
      );
      return;
    }
    const timer = this.timers.setTimeout(() => {
      this.pending.delete(ref);
      callback(
        new ChatgateError(ClientErrorCode.TIMEOUT, `no reply to ${op} in ${this.timeoutMs} ms`),
      );
      this.abort("no reply in time");
    }, this.timeoutMs);
    this.pending.set(ref, { callback: callback as ReplyCallback<unknown>, timer });
    try {
      this.ws.send(text);
    } catch {
      // Sending on a socket that is closing: its close event follows and fails this.
    }
  }

  /** Gives the socket up now (without waiting for its close event) and reports `closed`. */
  abort(reason: string): void {
    if (this.done) return;
    try {
      this.ws.close(GIVE_UP, reason);
    } catch {
      // Already closed.
    }
    this.finish(CloseCode.ABNORMAL, reason);
  }

  /** Closes the socket on purpose; `closed` is reported with 1000. */
  close(): void {
    if (this.done) return;
    try {
      this.ws.close(CloseCode.NORMAL, "bye");
    } catch {
      // Already closed.
    }
    this.finish(CloseCode.NORMAL, "closed by the client");
  }

  private receive(data: unknown): void {
    if (this.done) return;
    const frames = decodeFrames(data);
    if (frames === null) {
      this.handlers.problem(
        new ChatgateError(ErrorCode.BAD_REQUEST, "the gateway sent a frame the SDK cannot read"),
      );
      return;
    }
    for (const frame of frames) {
      if (this.done) return;
      if (frame.op === "event") {
        this.handlers.event(frame);
      } else if (frame.op === "reply") {
        const pending = typeof frame.ref === "number" ? this.pending.get(frame.ref) : undefined;
        if (pending === undefined) {
          if (!frame.ok) this.handlers.problem(ChatgateError.fromBody(frame.error));
          continue;
        }
        this.pending.delete(frame.ref as number);
        this.timers.clearTimeout(pending.timer);
        if (frame.ok) pending.callback(null, frame.data);
        else pending.callback(ChatgateError.fromBody(frame.error));
      }
    }
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      this.timers.clearTimeout(p.timer);
      p.callback(
        new ChatgateError(
          ClientErrorCode.DISCONNECTED,
          `the socket closed (${code}) before the reply`,
          { closeCode: code },
        ),
      );
    }
    this.handlers.closed(code, reason);
  }
}
