/**
 * Messages as a small Markdown subset (paragraphs, line breaks, emphasis, inline and fenced
 * code, links, lists) rendered to HTML. The text is escaped first, so raw HTML in a message
 * stays text; links keep only http(s) and mailto URLs. The result still goes through
 * DOMPurify (`sanitize.ts`) before it reaches the page: this renderer is not the safety net.
 */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** A link target a message may have; anything else (`javascript:`, `data:`) is no link. */
export function safeUrl(url: string): string | null {
  const decoded = url.replace(/&amp;/g, "&").trim();
  return /^(https?:\/\/|mailto:)/i.test(decoded) ? url : null;
}

function inline(text: string): string {
  // Code spans first, kept aside so nothing inside them is read as Markdown.
  const codes: string[] = [];
  let out = text.replace(/`([^`\n]+)`/g, (_, code: string) => {
    codes.push(`<code>${code}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  out = out.replace(
    /\[([^\]\n]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/g,
    (whole, label: string, url: string) => {
      const href = safeUrl(url);
      return href === null ? label : link(href, label);
    },
  );
  out = out.replace(
    /(^|[\s(])(https?:\/\/[^\s<)]+[^\s<).,;:!?'"])/g,
    (_, pre: string, url: string) => `${pre}${link(url, url)}`,
  );
  out = out.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>");
  out = out.replace(/__([^_\n]+)__/g, "<strong>$1</strong>");
  out = out.replace(/(^|[^*\w])\*([^*\n]+)\*(?![*\w])/g, "$1<em>$2</em>");
  out = out.replace(/(^|[^_\w])_([^_\n]+)_(?![_\w])/g, "$1<em>$2</em>");
  out = out.replace(/~~([^~\n]+)~~/g, "<del>$1</del>");
  return out.replace(/\u0000(\d+)\u0000/g, (_, i: string) => codes[Number(i)] ?? "");
}

function link(href: string, label: string): string {
  return `<a href="${href}" target="_blank" rel="noopener noreferrer">${label}</a>`;
}

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;

/** The HTML of a message's Markdown (to sanitize before use). */
export function renderMarkdown(source: string): string {
  const lines = escapeHtml(source.replace(/\r\n?/g, "\n")).split("\n");
  const blocks: string[] = [];
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length) blocks.push(`<p>${paragraph.map(inline).join("<br>")}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (/^\s*```/.test(line)) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i] ?? ""); i++) code.push(lines[i] ?? "");
      blocks.push(`<pre><code>${code.join("\n")}</code></pre>`);
      continue;
    }
    const kind = BULLET.test(line) ? BULLET : NUMBERED.test(line) ? NUMBERED : null;
    if (kind) {
      flush();
      const items: string[] = [];
      for (; i < lines.length && kind.test(lines[i] ?? ""); i++) {
        items.push(`<li>${inline(kind.exec(lines[i] ?? "")?.[1] ?? "")}</li>`);
      }
      i--;
      const tag = kind === BULLET ? "ul" : "ol";
      blocks.push(`<${tag}>${items.join("")}</${tag}>`);
      continue;
    }
    if (line.trim() === "") flush();
    else paragraph.push(line);
  }
  flush();
  return blocks.join("");
}
