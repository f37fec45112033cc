import assert from "node:assert/strict";
import { test } from "node:test";
import { renderMarkdown, safeUrl } from "../markdown.js";

test("markdown_renders_the_subset", () => {
  /** Paragraphs, emphasis, code, links and lists become their HTML. */
  assert.equal(
    renderMarkdown("Hi **there**, *you*\nsee `a<b`\n\n- one\n- two"),
    "<p>Hi <strong>there</strong>, <em>you</em><br>see <code>a&lt;b</code></p><ul><li>one</li><li>two</li></ul>",
  );
  assert.equal(
    renderMarkdown("[docs](https://example.com/a?b=1&c=2)"),
    '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a></p>',
  );
  assert.equal(renderMarkdown("1. a\n2. b"), "<ol><li>a</li><li>b</li></ol>");
  assert.equal(
    renderMarkdown("```\n<b>x</b>\n```"),
    "<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>",
  );
});

test("markdown_keeps_html_as_text", () => {
  /** Raw HTML in a message (a script, an event handler) is escaped, never markup. */
  const html = renderMarkdown('<script>alert(1)</script><img src=x onerror="alert(1)">');
  assert.ok(!html.includes("<script"));
  assert.ok(!html.includes("<img"));
  assert.ok(html.includes("&lt;script&gt;"));
});

test("markdown_drops_javascript_links", () => {
  /** A `javascript:` or `data:` link target is shown as its label, with no link. */
  assert.equal(renderMarkdown("[click](javascript:alert(1))"), "<p>click</p>");
  assert.equal(renderMarkdown("[x](data:text/html,hi)"), "<p>x</p>");
  assert.equal(safeUrl(" JavaScript:alert(1)"), null);
  assert.equal(safeUrl("mailto:a@example.com"), "mailto:a@example.com");
});
