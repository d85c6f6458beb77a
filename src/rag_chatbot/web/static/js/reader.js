/**
 * The reader's behaviour: showing a cited passage (scroll, highlight the quoted sentences) and
 * "Ask about this" for text selected in a document.
 */

import { h, icon } from "./dom.js";

const MIN_PIECE_CHARS = 12;

/** Remove the marks and the section highlight of the previous citation. */
export function clearHighlight(root = document) {
  for (const mark of root.querySelectorAll("mark.cited")) {
    const parent = mark.parentNode;
    mark.replaceWith(...mark.childNodes);
    parent.normalize();
  }
  for (const section of root.querySelectorAll(".is-cited")) section.classList.remove("is-cited");
}

/**
 * Scroll to the section `anchor` of the open document and highlight it; mark the sentences of
 * `quote` (pieces joined by " … ") where they are found. Returns false if there is no such
 * section on the page.
 */
export function showPassage(anchor, quote) {
  const target = anchor ? document.getElementById(anchor) : null;
  const article = document.querySelector("article.document");
  if (!article || (anchor && !target)) return false;
  clearHighlight(article);
  const section = target ? target.closest(".doc-section") || target : article;
  section.classList.add("is-cited");
  const marks = quote ? markQuote(section, quote) : [];
  const heading = target || section;
  heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
  heading.scrollIntoView({ block: "start" });
  const first = marks[0];
  if (first && !inView(first)) first.scrollIntoView({ block: "center" });
  return true;
}

function inView(el) {
  const rect = el.getBoundingClientRect();
  return rect.top >= 0 && rect.bottom <= window.innerHeight;
}

/** Wrap each piece of `quote` found in `root`'s text in <mark class="cited">. */
export function markQuote(root, quote) {
  const marks = [];
  for (const piece of quote.split(/\s+…\s+/)) {
    const found = markText(root, piece);
    if (found.length) {
      marks.push(...found);
      continue;
    }
    // Lists and tables lose their "- " and " | " on the page: try line by line.
    for (const line of piece.split(/\n|(?<=[.!?])\s+/)) {
      const text = line.replace(/^\s*-\s+/, "").replace(/\s+\|\s+/g, " ");
      if (text.trim().length >= MIN_PIECE_CHARS) marks.push(...markText(root, text));
    }
  }
  return marks;
}

/** Find `needle` in the text under `root` (whitespace-insensitive) and mark it; [] if absent. */
function markText(root, needle) {
  const wanted = needle.replace(/\s+/g, " ").trim();
  if (!wanted) return [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  let flat = "";
  const owner = []; // for each character of `flat`: [node, offset]
  let lastSpace = true;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement && node.parentElement.closest("h1,h2,h3,h4,h5,h6,.toc-inline")) continue;
    nodes.push(node);
    const text = node.data;
    for (let i = 0; i < text.length; i++) {
      const space = /\s/.test(text[i]);
      if (space && lastSpace) continue;
      flat += space ? " " : text[i];
      owner.push([node, i]);
      lastSpace = space;
    }
  }
  const start = flat.indexOf(wanted);
  if (start < 0) return [];
  const end = start + wanted.length - 1;
  const [startNode, startOffset] = owner[start];
  const [endNode, endOffset] = owner[end];
  const marks = [];
  for (const node of nodes.slice(nodes.indexOf(startNode), nodes.indexOf(endNode) + 1)) {
    const from = node === startNode ? startOffset : 0;
    const to = node === endNode ? endOffset + 1 : node.data.length;
    if (!node.data.slice(from, to).trim()) continue;
    const range = document.createRange();
    range.setStart(node, from);
    range.setEnd(node, to);
    const mark = h("mark", { class: "cited" });
    range.surroundContents(mark);
    marks.push(mark);
  }
  return marks;
}

/**
 * Show an "Ask about this" button when text is selected in a document; `onAsk(text)` runs
 * when it is pressed (or on Alt+A while text is selected).
 */
export function enableAskAboutSelection(onAsk) {
  const button = h("button", { type: "button", class: "ask-selection", hidden: true },
    icon("ask"), "Ask about this");
  document.body.append(button);
  let selected = "";

  const update = () => {
    const selection = document.getSelection();
    const article = document.querySelector("article.document");
    const text = selection && !selection.isCollapsed ? selection.toString().trim() : "";
    // A triple click selects up to the start of the next block, which may lie outside.
    if (!article || !text || !selection.getRangeAt(0).intersectsNode(article) ||
        !article.contains(selection.anchorNode)) {
      if (document.activeElement !== button) button.hidden = true;
      return;
    }
    selected = text;
    const rect = selection.getRangeAt(0).getBoundingClientRect();
    button.hidden = false;
    const width = button.offsetWidth;
    const left = Math.min(Math.max(8, rect.left + rect.width / 2 - width / 2),
      window.innerWidth - width - 8);
    const below = rect.top < 56;
    button.style.left = `${left + window.scrollX}px`;
    button.style.top = `${(below ? rect.bottom + 8 : rect.top - button.offsetHeight - 8) +
      window.scrollY}px`;
  };

  let pending = 0;
  // The text scrolls inside its column on wide screens: keep the button beside the selection.
  document.addEventListener("scroll", () => {
    if (!button.hidden) update();
  }, true);
  document.addEventListener("selectionchange", () => {
    window.clearTimeout(pending);
    pending = window.setTimeout(update, 120);
  });
  const ask = () => {
    if (!selected) return;
    button.hidden = true;
    onAsk(selected);
  };
  button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
  button.addEventListener("click", ask);
  document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "a" || event.key === "A") && !button.hidden) {
      event.preventDefault();
      ask();
    }
  });
  return button;
}
