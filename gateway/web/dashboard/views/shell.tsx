/**
 * The signed-in frame: the top bar (pages, presence, notifications, sign out), the
 * "reconnecting" banner, the keyboard shortcuts and their help, and the page of the route.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { neighbour } from "../inbox.js";
import type { Live } from "../live.js";
import type { Route } from "../router.js";
import { isField, SHORTCUTS, shortcutOf } from "../shortcuts.js";
import { Admin } from "./admin.js";
import { problemText, useLive } from "./common.js";
import { ConversationView } from "./conversation.js";
import { InboxList } from "./inbox.js";

export interface ShellProps {
  live: Live;
  route: Route;
  navigate: (route: Route, replace?: boolean) => void;
  signedOut: () => void;
}

export function Shell({ live, route, navigate, signedOut }: ShellProps) {
  useLive(live);
  const [help, setHelp] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const openId = route.page === "conversation" ? route.id : null;
  const admin = live.me.role === "admin";

  useEffect(() => {
    void live.view(openId).catch((error: unknown) => setProblem(problemText(error)));
  }, [live, openId]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const shortcut = shortcutOf(event, isField(document.activeElement as HTMLElement | null));
      if (shortcut === null) return;
      if (shortcut === "escape") {
        if (help) setHelp(false);
        else if (isField(document.activeElement as HTMLElement | null)) {
          (document.activeElement as HTMLElement).blur();
        }
        return;
      }
      if (route.page !== "inbox" && route.page !== "conversation" && shortcut !== "help") return;
      event.preventDefault();
      if (shortcut === "help") setHelp(true);
      else if (shortcut === "next" || shortcut === "previous") {
        const ids = live.inbox.list(live.filters, live.me.id).map((e) => e.conversation.id);
        const next = neighbour(ids, openId, shortcut === "next" ? 1 : -1);
        if (next !== null) navigate({ page: "conversation", id: next });
      } else if (shortcut === "reply") {
        document.getElementById("reply")?.focus();
      } else if (shortcut === "resolve" && openId !== null) {
        live
          .update(openId, { status: "resolved" })
          .catch((e: unknown) => setProblem(problemText(e)));
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [live, route, openId, help, navigate]);

  const signOut = (): void => {
    live.api.signOut().finally(() => {
      live.stop();
      signedOut();
    });
  };
  const reconnecting = live.everOpen && live.state !== "open";
  const permission = live.notifier.permission();
  const [, setAsked] = useState(0);

  return (
    <div class="shell">
      <header class="topbar">
        <a
          class="brand"
          href="/app"
          onClick={(e) => {
            e.preventDefault();
            navigate({ page: "inbox" });
          }}
        >
          chatgate
        </a>
        <nav aria-label="Pages">
          <a
            href="/app"
            aria-current={
              route.page === "inbox" || route.page === "conversation" ? "page" : undefined
            }
            onClick={(e) => {
              e.preventDefault();
              navigate({ page: "inbox" });
            }}
          >
            Inbox
          </a>
          {admin && (
            <a
              href="/app/admin/widgets"
              aria-current={route.page === "admin" ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate({ page: "admin", section: "widgets" });
              }}
            >
              Admin
            </a>
          )}
        </nav>
        <span class="spacer" />
        {permission === "default" && (
          <button
            type="button"
            class="quiet"
            onClick={() => void live.notifier.ask().then(() => setAsked((n) => n + 1))}
          >
            Enable desktop notifications
          </button>
        )}
        <label class="presence-toggle">
          <span class={`dot ${live.status}`} aria-hidden="true" />
          <span class="sr-only">My status</span>
          <select
            value={live.status}
            onChange={(e) => live.setStatus(e.currentTarget.value === "away" ? "away" : "online")}
          >
            <option value="online">Online</option>
            <option value="away">Away</option>
          </select>
        </label>
        <span class="me" title={live.me.email ?? ""}>
          {live.me.name}
        </span>
        <button type="button" class="quiet" onClick={signOut}>
          Sign out
        </button>
        <button
          type="button"
          class="quiet"
          aria-label="Keyboard shortcuts"
          onClick={() => setHelp(true)}
        >
          ?
        </button>
      </header>
      {reconnecting && (
        <div class="banner" role="status">
          Reconnecting… what happens meanwhile will appear once the connection is back.
        </div>
      )}
      {problem !== null && (
        <div class="banner problem" role="alert">
          {problem}
          <button type="button" class="quiet" onClick={() => setProblem(null)}>
            Dismiss
          </button>
        </div>
      )}
      {route.page === "admin" ? (
        admin ? (
          <Admin live={live} route={route} navigate={navigate} />
        ) : (
          <main class="page">
            <h1>Not allowed</h1>
            <p role="alert">
              Admin pages are for admins. Ask an admin of your team if you need something changed.
            </p>
          </main>
        )
      ) : route.page === "not-found" ? (
        <main class="page">
          <h1>Nothing here</h1>
        </main>
      ) : (
        <div class="workspace">
          <InboxList live={live} openId={openId} navigate={navigate} />
          {openId === null ? (
            <main class="empty-pane">
              <p>Pick a conversation. Press ? for keyboard shortcuts.</p>
            </main>
          ) : (
            <ConversationView key={openId} live={live} id={openId} onProblem={setProblem} />
          )}
        </div>
      )}
      {help && <Help close={() => setHelp(false)} />}
    </div>
  );
}

function Help({ close }: { close: () => void }) {
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => button.current?.focus(), []);
  return (
    <div class="overlay" onClick={close}>
      <div
        class="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="help-title"
        onClick={(e) => e.stopPropagation()}
      >
        <h2 id="help-title">Keyboard shortcuts</h2>
        <dl class="shortcuts">
          {SHORTCUTS.map((s) => (
            <div key={s.keys}>
              <dt>
                <kbd>{s.keys}</kbd>
              </dt>
              <dd>{s.does}</dd>
            </div>
          ))}
        </dl>
        <button type="button" ref={button} onClick={close}>
          Close
        </button>
      </div>
    </div>
  );
}
