/**
 * Telling the agent something happened while they look elsewhere: the tab's title carries the
 * unread count (`(3) chatgate`), and, once the agent allowed it (asked from a button, never on
 * load), a desktop notification for a new conversation or message while the tab is hidden.
 */

const TITLE = "chatgate";

export type Permission = "default" | "granted" | "denied" | "unsupported";

export class Notifier {
  permission(): Permission {
    return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
  }

  /** Asks the browser (from a click: browsers ignore it otherwise). */
  async ask(): Promise<Permission> {
    if (typeof Notification === "undefined") return "unsupported";
    return Notification.requestPermission();
  }

  visible(): boolean {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  badge(unread: number): void {
    const title = unread > 0 ? `(${unread > 99 ? "99+" : unread}) ${TITLE}` : TITLE;
    if (document.title !== title) document.title = title;
  }

  notify(title: string, body: string, onClick: () => void): void {
    if (this.permission() !== "granted" || this.visible()) return;
    try {
      const notification = new Notification(title, { body: body.slice(0, 200), tag: title });
      notification.onclick = () => {
        window.focus();
        onClick();
        notification.close();
      };
    } catch {
      // Some browsers allow notifications only from a service worker: the badge stays.
    }
  }
}
