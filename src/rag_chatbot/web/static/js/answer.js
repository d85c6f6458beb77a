/**
 * An answer's text with its `[n]` markers as citation links, and the list of its sources.
 *
 * The same function draws the answer while it streams (markers not yet linked) and when it
 * is complete, so the text does not move when the final answer arrives.
 */

import { h } from "./dom.js";

export const SELECTION_SOURCE = "selection";
const MARKER = /\[(\d{1,3})\]/g;

/**
 * Fill `body` with the answer's paragraphs.
 * @param {HTMLElement} body
 * @param {string} text  the answer so far
 * @param {object[]} citations  `[]` while streaming
 * @param {(c: object) => HTMLElement} linkFor  builds the element for a cited marker
 */
export function renderAnswerText(body, text, citations, linkFor) {
  const byNumber = new Map(citations.map((c) => [c.n, c]));
  const paragraphs = text.split(/\n{2,}/).filter((p) => p.trim());
  body.replaceChildren(
    ...paragraphs.map((paragraph) => {
      const trimmed = paragraph.replace(/^\n+|\s+$/g, "");
      const p = h("p", { class: trimmed.includes("\n") ? "pre" : null });
      let last = 0;
      for (const match of trimmed.matchAll(MARKER)) {
        p.append(trimmed.slice(last, match.index));
        const citation = byNumber.get(Number(match[1]));
        p.append(citation ? linkFor(citation) : h("span", { class: "cite-ref" }, match[0]));
        last = match.index + match[0].length;
      }
      p.append(trimmed.slice(last));
      return p;
    }),
  );
}

/** The label a citation reads as: "Title › Section" (or the selection). */
export function citationLabel(citation) {
  if (citation.source === SELECTION_SOURCE) return "The selected text";
  const section = citation.section ? citation.section.split(" > ").pop() : "";
  const title = citation.title || citation.source;
  return section && section !== title ? `${title} › ${section}` : title;
}

/** The numbered list of sources under an answer. */
export function sourcesList(citations, linkFor) {
  return h(
    "ol",
    { class: "sources", "aria-label": "Sources" },
    citations.map((c) =>
      h(
        "li",
        { value: c.n },
        linkFor(c, citationLabel(c)),
        c.quote ? h("q", { class: "source-quote" }, c.quote) : null,
      ),
    ),
  );
}

/** The answer as plain text for the clipboard: the text, then its numbered sources. */
export function answerAsText(answer, origin) {
  const lines = [answer.answer.trim()];
  if (answer.citations && answer.citations.length) {
    lines.push("", "Sources:");
    for (const c of answer.citations) {
      const where = c.source === SELECTION_SOURCE ? "" : ` ${new URL(c.url, origin).href}`;
      lines.push(`[${c.n}] ${citationLabel(c)}${where}`);
    }
  }
  return lines.join("\n");
}
