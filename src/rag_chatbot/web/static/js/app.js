/**
 * The library and reader pages: the chat beside the text, search, and moving between
 * documents without reloading the page (so a streaming answer and the chat stay put).
 */

import { Api } from "./api.js";
import { ChatPanel } from "./chat.js";
import { h, icon } from "./dom.js";
import { enableAskAboutSelection, showPassage } from "./reader.js";
import { enableSearch } from "./search.js";

const api = new Api();
const narrow = window.matchMedia("(max-width: 900px)");
const chatAside = document.getElementById("chat");
const chatToggle = document.querySelector(".chat-toggle");

const chat = new ChatPanel(chatAside, {
  api,
  onCitation: (citation) => {
    openUrl(citation.url, { quote: citation.quote });
    if (narrow.matches) setChatOpen(false);
    return true;
  },
  headExtra: closeChatButton(),
});
chat.restore();

enableSearch(api, { open: (url, quote) => openUrl(url, { quote }) });
enableAskAboutSelection((text) => {
  chat.setSelection(text);
  if (narrow.matches) setChatOpen(true);
  chat.focus();
});

function closeChatButton() {
  return h("button", {
    type: "button",
    class: "icon-button chat-close",
    "aria-label": "Close the chat",
    title: "Close the chat",
    onclick: () => setChatOpen(false),
  }, icon("close"));
}

function setChatOpen(open) {
  document.body.classList.toggle("chat-open", open);
  chatToggle.setAttribute("aria-expanded", String(open));
  if (open) chat.focus();
  else chatToggle.focus({ preventScroll: true });
}

chatToggle.addEventListener("click", () => setChatOpen(!document.body.classList.contains("chat-open")));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.classList.contains("chat-open")) setChatOpen(false);
});

/** Same-origin page links that this script can open in place. */
function inPlace(url) {
  return url.origin === location.origin &&
    (url.pathname === "/" || url.pathname.startsWith("/read/"));
}

/**
 * Open `href` (a library or reader URL) without reloading; with a `quote`, highlight it in
 * the section the URL's fragment names. Falls back to a normal navigation on any error.
 */
let shown = location.pathname + location.search; // the page now in #content

async function openUrl(href, { quote = null, push = true } = {}) {
  const url = new URL(href, location.href);
  const anchor = decodeURIComponent(url.hash.slice(1));
  if (url.pathname + url.search !== shown) {
    try {
      const response = await fetch(url.pathname + url.search, { headers: { Accept: "text/html" } });
      if (!response.ok && response.status !== 404) throw new Error(String(response.status));
      swapPage(new DOMParser().parseFromString(await response.text(), "text/html"));
      shown = url.pathname + url.search;
    } catch {
      location.assign(url.href);
      return;
    }
  }
  if (push && url.href !== location.href) history.pushState({}, "", url.href);
  if (!anchor || !showPassage(anchor, quote)) {
    document.getElementById("content").scrollTo(0, 0);
    window.scrollTo(0, 0);
    document.getElementById("content").focus({ preventScroll: true });
  }
}

/** Replace the table of contents and the text with those of `doc` (an inert parsed page). */
function swapPage(doc) {
  for (const id of ["toc", "content"]) {
    const fresh = doc.getElementById(id);
    if (fresh) document.getElementById(id).replaceChildren(...fresh.childNodes);
  }
  document.title = doc.title;
  document.body.dataset.page = doc.body.dataset.page || "";
  document.body.dataset.source = doc.body.dataset.source || "";
}

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey ||
      event.metaKey || event.shiftKey || event.altKey || link.target) return;
  if (chatAside.contains(link)) return; // citations have their own handler
  const url = new URL(link.href, location.href);
  if (!inPlace(url)) return;
  event.preventDefault();
  if (url.pathname + url.search === shown && url.hash) {
    history.pushState({}, "", url.href);
    showPassage(decodeURIComponent(url.hash.slice(1)), null);
    return;
  }
  openUrl(url.href);
});

window.addEventListener("popstate", () => openUrl(location.href, { push: false }));

// Opened at /read/...#anchor (a citation from elsewhere, e.g. the widget): show that section.
if (location.hash) {
  const anchor = decodeURIComponent(location.hash.slice(1));
  window.requestAnimationFrame(() => showPassage(anchor, null));
}
