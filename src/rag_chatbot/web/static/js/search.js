/**
 * The search box: passages from /api/search listed above the page's text, each opening the
 * reader at its section with the passage highlighted.
 */

import { h } from "./dom.js";

const SNIPPET_CHARS = 280;

/** Wire the header's search form; `open(url, quote)` shows a result in the reader. */
export function enableSearch(api, { open }) {
  const form = document.querySelector("form.search");
  if (!form) return;
  const input = form.querySelector("input[type=search]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(api, input.value.trim(), open);
  });
  const initial = new URLSearchParams(location.search).get("q");
  if (initial) {
    input.value = initial;
    run(api, initial.trim(), open);
  }
}

async function run(api, query, open) {
  const panel = document.getElementById("search-results");
  if (!panel || !query) return;
  panel.hidden = false;
  const heading = h("h2", { tabindex: "-1" }, `Searching for “${query}”…`);
  panel.replaceChildren(heading);
  try {
    const { results } = await api.search(query);
    heading.textContent = results.length
      ? `${results.length} passage${results.length === 1 ? "" : "s"} for “${query}”`
      : `Nothing found for “${query}”`;
    panel.append(h("ol", { class: "results" }, results.map((r) => result(r, open))));
  } catch (error) {
    heading.textContent = `Search failed: ${error.message}`;
  }
  panel.append(h("button", { type: "button", class: "link-button", onclick: () => {
    panel.hidden = true;
    panel.replaceChildren();
  } }, "Close the results"));
  heading.focus();
}

function result(hit, open) {
  const section = hit.section ? hit.section.split(" > ").pop() : "";
  const label = section && section !== hit.title ? `${hit.title} › ${section}` : hit.title;
  const link = h("a", { href: hit.url }, label || hit.source);
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    open(hit.url, hit.text);
  });
  const snippet = hit.text.length > SNIPPET_CHARS
    ? `${hit.text.slice(0, SNIPPET_CHARS - 1)}…` : hit.text;
  return h("li", {}, link, h("p", { class: "snippet" }, snippet),
    h("p", { class: "result-source muted" }, hit.source));
}
