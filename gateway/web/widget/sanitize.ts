/**
 * Message HTML through DOMPurify: only the tags the Markdown subset makes, no attribute but a
 * link's; scripts, event handlers and `javascript:` URLs never reach the page. Links open in a
 * new tab without giving it a handle on this one.
 */

import DOMPurify from "dompurify";
import { renderMarkdown } from "./markdown.js";

const TAGS = ["p", "br", "strong", "em", "del", "code", "pre", "ul", "ol", "li", "a"];

let hooked = false;

/** A message's Markdown as sanitized HTML, ready for `dangerouslySetInnerHTML`. */
export function messageHtml(source: string): string {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  return DOMPurify.sanitize(renderMarkdown(source), {
    ALLOWED_TAGS: TAGS,
    ALLOWED_ATTR: ["href", "target", "rel"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  });
}
