/**
 * The chat panel: streamed answers with citations, past chats, feedback, copy, stop, and
 * questions about a selection. Used beside the reader and inside the embeddable widget.
 */

import { ApiError, local } from "./api.js";
import { citationLabel, renderAnswerText, sourcesList, answerAsText } from "./answer.js";
import { SELECTION_SOURCE } from "./answer.js";
import { announce, h, icon } from "./dom.js";

const NEAR_END_PX = 80;
const SHOWN_CONTEXT_CHARS = 400;
let panels = 0;

export class ChatPanel {
  /**
   * @param {HTMLElement} root  where the panel is drawn
   * @param {object} options
   *   api: Api; origin: prefix of citation links ("" on the API's own pages);
   *   onCitation(citation): true when it opened the citation itself (else the link is followed);
   *   newTab: open citation links in a new tab; sessionKey: where the open chat is remembered;
   *   title, placeholder, headExtra (elements added to the header, e.g. a close button).
   */
  constructor(root, options) {
    this.api = options.api;
    this.origin = options.origin ?? "";
    this.onCitation = options.onCitation || null;
    this.newTab = Boolean(options.newTab);
    this.sessionKey = options.sessionKey || "rag-chatbot.session";
    this.sessionId = local.get(this.sessionKey);
    this.selection = null;
    this.controller = null;
    this.linkFor = (citation, label) => this.citationLink(citation, label);
    this.build(root, options);
  }

  build(root, options) {
    const id = `chat${++panels}`;
    this.input = h("textarea", {
      id: `${id}-input`,
      rows: 2,
      maxlength: 2000,
      placeholder: options.placeholder || "Ask a question about the documents",
      "aria-describedby": `${id}-hint`,
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      } else if (event.key === "Escape" && this.controller) {
        event.stopPropagation();
        this.stop();
      }
    });
    this.empty = h(
      "div",
      { class: "chat-empty" },
      h("p", {}, "Ask anything about the documents."),
      h("p", { class: "muted" }, "Answers quote the documents and link to the passages they " +
        "come from. Select text in a document to ask about it."),
    );
    this.log = h("div", {
      class: "chat-log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Conversation",
      tabindex: "0",
    }, this.empty);
    this.historyList = h("ul", { class: "history-list" });
    this.history = h("div", { class: "chat-history", id: `${id}-history`, hidden: true },
      h("h3", {}, "Past chats"), this.historyList);
    this.historyButton = iconButton("history", "Past chats", () => this.toggleHistory(), {
      "aria-expanded": "false",
      "aria-controls": `${id}-history`,
    });
    const head = h("div", { class: "chat-head" },
      h("h2", { class: "chat-title", id: `${id}-title` }, options.title || "Ask the documents"),
      h("div", { class: "chat-head-actions" },
        iconButton("plus", "New chat", () => this.newChat()),
        this.historyButton,
        options.headExtra || null));
    this.contextText = h("p", { class: "context-text" });
    this.context = h("div", { class: "chat-context", hidden: true },
      h("div", { class: "context-head" },
        h("span", {}, "Asking about the selection"),
        iconButton("close", "Do not ask about the selection", () => this.setSelection(null),
          { class: "icon-button small" })),
      this.contextText);
    this.sendButton = h("button", { type: "submit", class: "send", "aria-label": "Send" },
      icon("send"));
    this.stopButton = h("button", {
      type: "button", class: "stop", "aria-label": "Stop generating", hidden: true,
      onclick: () => this.stop(),
    }, icon("stop"));
    const form = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this.submit(); } },
      this.context,
      h("label", { class: "visually-hidden", for: this.input.id }, "Your question"),
      h("div", { class: "composer-row" }, this.input, this.sendButton, this.stopButton),
      h("p", { class: "composer-hint", id: `${id}-hint` }, "Enter to send · Shift+Enter for a new line"));
    this.status = h("div", { class: "visually-hidden", role: "status" });
    this.element = h("section", { class: "chat-panel", "aria-labelledby": `${id}-title` },
      head, this.history, this.log, form, this.status);
    root.append(this.element);
  }

  focus() {
    this.input.focus();
  }

  /** Show the conversation remembered from an earlier page, if it still exists. */
  async restore() {
    if (this.sessionId) await this.open(this.sessionId, { quiet: true });
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || this.controller) return;
    this.input.value = "";
    const selection = this.selection;
    this.setSelection(null, { focus: false });
    this.ask(text, selection);
  }

  /** Ask `question` (about `selection` when given), streaming the answer into the log. */
  async ask(question, selection = null, retried = false) {
    this.empty.remove();
    if (!retried) this.log.append(userMessage(question, selection));
    const msg = assistantMessage();
    this.log.append(msg.el);
    this.scrollToEnd();
    this.controller = new AbortController();
    this.setBusy(true);
    let text = "";
    try {
      const payload = { message: question };
      if (this.sessionId) payload.session_id = this.sessionId;
      if (selection) payload.selected_text = selection;
      const answer = await this.api.chat(payload, {
        signal: this.controller.signal,
        onDelta: (delta) => {
          text += delta;
          this.follow(() => renderAnswerText(msg.body, text, [], this.linkFor));
        },
        onRestart: () => {
          text = ""; // the model failed mid-answer: its partial text is withdrawn
          this.follow(() => renderAnswerText(msg.body, text, [], this.linkFor));
        },
      });
      this.remember(answer.session_id);
      this.follow(() => this.finish(msg, answer));
    } catch (error) {
      if (error.name === "AbortError") {
        this.stopped(msg, text);
      } else if (!retried && error instanceof ApiError && error.code === "SESSION_NOT_FOUND") {
        msg.el.remove(); // the remembered chat is gone: start a new one with this question
        this.remember(null);
        this.controller = null;
        return this.ask(question, selection, true);
      } else {
        this.failed(msg, error);
      }
    } finally {
      this.controller = null;
      this.setBusy(false);
    }
    return undefined;
  }

  stop() {
    if (this.controller) this.controller.abort();
  }

  finish(msg, answer) {
    msg.el.classList.remove("streaming");
    msg.el.classList.toggle("not-found", answer.grounded === false);
    msg.el.setAttribute("aria-busy", "false");
    renderAnswerText(msg.body, answer.answer, answer.citations || [], this.linkFor);
    msg.footer.replaceChildren();
    if (answer.grounded === false) {
      msg.footer.append(h("p", { class: "not-found-note" },
        h("strong", {}, "Not found in the documents."),
        " Try other words, or select a passage and ask about it."));
    } else if (answer.citations && answer.citations.length) {
      msg.footer.append(sourcesList(answer.citations, this.linkFor));
    }
    this.renderActions(msg, answer);
  }

  renderActions(msg, answer) {
    const note = h("span", { class: "action-note", "aria-hidden": "true" });
    const rate = async (rating, pressed, other) => {
      try {
        await this.api.feedback(answer.message_id, rating);
        pressed.setAttribute("aria-pressed", "true");
        other.setAttribute("aria-pressed", "false");
        note.textContent = "Thanks!";
        announce(this.status, "Feedback saved");
      } catch (error) {
        note.textContent = "Not saved";
        announce(this.status, `Feedback not saved: ${error.message}`);
      }
    };
    const up = iconButton("up", "Helpful", () => rate(1, up, down),
      { class: "icon-button small", "aria-pressed": "false" });
    const down = iconButton("down", "Not helpful", () => rate(-1, down, up),
      { class: "icon-button small", "aria-pressed": "false" });
    const copy = iconButton("copy", "Copy the answer", async () => {
      const copied = await copyText(answerAsText(answer, this.origin || location.origin));
      note.textContent = copied ? "Copied" : "Copy failed";
      announce(this.status, note.textContent);
    }, { class: "icon-button small" });
    msg.actions.replaceChildren(...(answer.message_id ? [up, down] : []), copy, note);
  }

  stopped(msg, text) {
    msg.el.classList.remove("streaming");
    msg.el.classList.add("stopped");
    msg.el.setAttribute("aria-busy", "false");
    if (!text.trim()) msg.body.replaceChildren(h("p", { class: "muted" }, "Stopped."));
    msg.actions.replaceChildren(h("span", { class: "action-note" }, "Stopped before the end."));
    announce(this.status, "Stopped");
  }

  failed(msg, error) {
    msg.el.classList.remove("streaming");
    msg.el.classList.add("failed");
    msg.el.setAttribute("aria-busy", "false");
    const reason = {
      RATE_LIMIT_EXCEEDED: "Too many questions in a short time; wait a moment and try again.",
      UNAUTHORIZED: "Sign in to chat.",
      FORBIDDEN: "You may not use this chat.",
    }[error.code] || `Something went wrong: ${error.message}`;
    const signIn = error.code === "UNAUTHORIZED" && !this.newTab
      ? [" ", h("a", { href: "/admin" }, "Sign in")] : [];
    msg.body.replaceChildren(h("p", { role: "alert" }, reason, ...signIn));
    msg.actions.replaceChildren();
  }

  /** Start a new conversation (the current one stays in the list of past chats). */
  newChat() {
    this.stop();
    this.remember(null);
    this.log.replaceChildren(this.empty);
    this.toggleHistory(false);
    this.focus();
  }

  async toggleHistory(force) {
    const open = force ?? this.history.hidden;
    this.history.hidden = !open;
    this.historyButton.setAttribute("aria-expanded", String(open));
    if (!open) return;
    this.historyList.replaceChildren(h("li", { class: "muted" }, "Loading…"));
    try {
      const sessions = await this.api.sessions();
      this.historyList.replaceChildren(...(sessions.length ? sessions.map((s) => h("li", {},
        h("button", {
          type: "button",
          class: "history-item",
          "aria-current": s.id === this.sessionId ? "true" : null,
          onclick: () => this.open(s.id),
        }, h("span", { class: "history-title" }, s.title || "Untitled chat"),
        h("time", { datetime: s.updated_at }, formatDate(s.updated_at))))) :
        [h("li", { class: "muted" }, "No past chats yet.")]));
    } catch (error) {
      this.historyList.replaceChildren(h("li", { class: "muted" },
        `Past chats could not be loaded: ${error.message}`));
    }
  }

  /** Show a stored conversation and continue it. */
  async open(sessionId, { quiet = false } = {}) {
    try {
      const messages = await this.api.messages(sessionId);
      this.remember(sessionId);
      this.log.replaceChildren(...(messages.length ? [] : [this.empty]));
      for (const m of messages) {
        if (m.role === "user") {
          this.log.append(userMessage(m.content, null));
        } else if (m.role === "assistant") {
          const msg = assistantMessage();
          this.log.append(msg.el);
          this.finish(msg, { answer: m.content, citations: m.citations, grounded: m.grounded,
            message_id: m.id, session_id: sessionId });
        }
      }
      this.toggleHistory(false);
      this.scrollToEnd();
    } catch (error) {
      if (error.status === 404 || error.status === 403) this.remember(null);
      if (!quiet) announce(this.status, `That chat could not be opened: ${error.message}`);
    }
  }

  /** Ask about `text` next (shown above the question box); null clears it. */
  setSelection(text, { focus = true } = {}) {
    const clean = text ? text.trim().slice(0, 20000) : "";
    this.selection = clean || null;
    this.context.hidden = !this.selection;
    this.contextText.textContent = shorten(clean, SHOWN_CONTEXT_CHARS);
    if (focus) this.focus();
  }

  remember(sessionId) {
    this.sessionId = sessionId;
    if (sessionId) local.set(this.sessionKey, sessionId);
    else local.remove(this.sessionKey);
  }

  citationLink(citation, label) {
    const text = label || `[${citation.n}]`;
    const title = `${citationLabel(citation)}${citation.quote ? ` — “${shorten(citation.quote, 160)}”` : ""}`;
    if (citation.source === SELECTION_SOURCE) {
      return h("span", { class: label ? "source-link selection" : "cite-ref selection", title }, text);
    }
    const link = h("a", {
      class: label ? "source-link" : "cite-ref",
      href: this.origin + citation.url,
      title,
      "aria-label": label ? null : `Source ${citation.n}: ${citationLabel(citation)}`,
      target: this.newTab ? "_blank" : null,
      rel: this.newTab ? "noopener" : null,
    }, text);
    link.addEventListener("click", (event) => {
      const plain = event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey;
      if (plain && this.onCitation && this.onCitation(citation)) event.preventDefault();
    });
    return link;
  }

  setBusy(busy) {
    const hadFocus = this.element.contains(document.activeElement) ||
      this.element.getRootNode().activeElement === this.stopButton;
    this.sendButton.hidden = busy;
    this.stopButton.hidden = !busy;
    if (!busy && hadFocus && this.element.getRootNode().activeElement !== this.input) {
      this.input.focus({ preventScroll: true });
    }
  }

  /** Run `update`, keeping the log scrolled to the end if the reader was at the end. */
  follow(update) {
    const log = this.log;
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_END_PX;
    update();
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

function iconButton(name, label, onclick, extra = {}) {
  return h("button", { type: "button", class: "icon-button", "aria-label": label, title: label,
    onclick, ...extra }, icon(name));
}

function userMessage(question, selection) {
  return h("div", { class: "msg msg-user" },
    selection ? h("blockquote", { class: "msg-context" },
      h("span", { class: "context-label" }, "About the selection"),
      shorten(selection, SHOWN_CONTEXT_CHARS)) : null,
    h("p", {}, question));
}

function assistantMessage() {
  const body = h("div", { class: "msg-body" },
    h("p", { class: "typing", "aria-label": "Looking through the documents" },
      h("span", {}), h("span", {}), h("span", {})));
  const footer = h("div", { class: "msg-footer" });
  const actions = h("div", { class: "msg-actions" });
  const el = h("article", { class: "msg msg-bot streaming", "aria-busy": "true",
    "aria-label": "Answer" }, body, footer, actions);
  return { el, body, footer, actions };
}

function shorten(text, limit) {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { class: "visually-hidden", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}
