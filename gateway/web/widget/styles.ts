/**
 * The widget's CSS, inside its shadow root: the host page's rules do not reach it, and it
 * reaches nothing outside. The org's colour is the custom property `--cg-color`.
 */

export const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.root { font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827;
  position: fixed; bottom: 20px; z-index: 2147483000; }
.root.right { right: 20px; } .root.left { left: 20px; }
button { font: inherit; cursor: pointer; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.launcher { position: relative; display: flex; align-items: center; gap: 8px; border: 0;
  border-radius: 28px; padding: 14px 20px; background: var(--cg-color); color: var(--cg-on-color);
  box-shadow: 0 4px 16px rgba(0,0,0,.2); font-weight: 600; }
.launcher svg { width: 22px; height: 22px; fill: currentColor; }
.badge { position: absolute; top: -6px; right: -6px; min-width: 22px; height: 22px;
  border-radius: 11px; padding: 0 6px; background: #dc2626; color: #fff; font-size: 12px;
  line-height: 22px; text-align: center; }
.panel { position: absolute; bottom: 0; width: 370px; height: min(600px, calc(100vh - 40px));
  display: flex; flex-direction: column; background: #fff; border-radius: 14px; overflow: hidden;
  box-shadow: 0 8px 32px rgba(0,0,0,.25); }
.right .panel { right: 0; } .left .panel { left: 0; }
header { display: flex; align-items: center; gap: 8px; padding: 14px 16px;
  background: var(--cg-color); color: var(--cg-on-color); }
header h2 { flex: 1; margin: 0; font-size: 17px; }
header button { border: 1px solid currentColor; background: transparent; color: inherit;
  border-radius: 16px; padding: 4px 10px; font-size: 13px; }
header button:disabled { opacity: .6; cursor: default; }
header .close { border: 0; font-size: 22px; line-height: 1; padding: 2px 8px; }
.body { flex: 1; overflow-y: auto; padding: 12px 14px; background: #f9fafb; }
.greeting, .msg { max-width: 85%; margin: 6px 0; padding: 8px 12px; border-radius: 12px;
  background: #e5e7eb; overflow-wrap: anywhere; }
.msg.visitor { margin-left: auto; background: var(--cg-color); color: var(--cg-on-color); }
.msg.visitor a { color: inherit; }
.msg.system { max-width: 100%; background: none; text-align: center; color: #4b5563;
  font-size: 13px; }
.msg.busy .text::after { content: "▍"; animation: blink 1s steps(2) infinite; }
@keyframes blink { 50% { opacity: 0; } }
.msg p { margin: 0 0 6px; } .msg p:last-child { margin: 0; }
.msg ul, .msg ol { margin: 4px 0; padding-left: 20px; }
.msg pre { margin: 4px 0; padding: 6px; background: rgba(0,0,0,.08); border-radius: 6px;
  overflow-x: auto; white-space: pre-wrap; }
.msg code { font: 13px ui-monospace, monospace; }
.msg img, .uploads img { display: block; max-width: 100%; max-height: 220px; border-radius: 8px;
  margin-top: 4px; }
.meta { display: block; font-size: 11px; opacity: .8; text-align: right; margin-top: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
.typing, .offline { padding: 4px 14px; font-size: 13px; color: #4b5563; }
.offline { background: #fef3c7; color: #92400e; }
.alert { margin: 12px; padding: 10px; border-radius: 8px; background: #fee2e2; color: #991b1b; }
.uploads { padding: 4px 14px; }
.uploads progress { width: 100%; }
form { display: flex; align-items: flex-end; gap: 6px; padding: 8px; border-top: 1px solid #e5e7eb; }
textarea { flex: 1; resize: none; font: inherit; padding: 8px; border: 1px solid #d1d5db;
  border-radius: 8px; max-height: 120px; }
form button { border: 0; border-radius: 8px; padding: 8px 12px; background: var(--cg-color);
  color: var(--cg-on-color); }
form button.attach { background: #e5e7eb; color: #111827; }
input[type=file] { display: none; }
@media (max-width: 480px) {
  .root { bottom: 12px; } .root.right { right: 12px; } .root.left { left: 12px; }
  .panel { position: fixed; inset: 0; width: auto; height: auto; border-radius: 0; }
}
`;

/** Black or white, whichever reads better on `hex` (`#rgb` or `#rrggbb`). */
export function onColor(hex: string): string {
  let h = hex.replace("#", "");
  if (h.length === 3) h = [...h].map((c) => c + c).join("");
  const n = parseInt(h, 16);
  if (h.length !== 6 || Number.isNaN(n)) return "#fff";
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.299 * r + 0.587 * g + 0.114 * b > 160 ? "#111827" : "#fff";
}

/** Puts the CSS into a shadow root: a constructed sheet (no 'unsafe-inline' needed) or <style>. */
export function adoptStyles(root: ShadowRoot): void {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch {
    const style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
  }
}
