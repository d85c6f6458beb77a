/**
 * The widget's chat bubble and panel, drawn in a shadow root on another site's page.
 *
 * Styles are adopted stylesheets built from /static CSS (fetched across origins; the files
 * are served with `Access-Control-Allow-Origin: *`), so no <style> element or inline style
 * is added to the host page and the host page's CSS does not reach inside.
 */

import { Api } from "./api.js";
import { ChatPanel } from "./chat.js";
import { h, icon } from "./dom.js";

const STYLES = ["theme.css", "chat.css", "widget.css"];

/** Add the bubble to the page. `options`: base, title, placeholder, position, open. */
export async function mount(options) {
  const host = document.createElement("div");
  host.id = "rag-chatbot-widget";
  const shadow = host.attachShadow({ mode: "open" });
  await adoptStyles(shadow, options.base);

  const panelId = "rag-chatbot-panel";
  const bubble = h("button", {
    type: "button",
    class: "bubble",
    "aria-label": "Open the chat",
    "aria-expanded": "false",
    "aria-controls": panelId,
  }, icon("chat"));
  const close = h("button", { type: "button", class: "icon-button", "aria-label": "Close the chat",
    title: "Close the chat" }, icon("close"));
  const dialog = h("div", {
    class: "widget-panel",
    id: panelId,
    role: "dialog",
    "aria-label": options.title || "Ask the documents",
    hidden: true,
  });
  const wrapper = h("div", { class: `widget position-${options.position}` }, dialog, bubble);
  shadow.append(wrapper);

  const chat = new ChatPanel(dialog, {
    api: new Api({ base: options.base, useAuth: false }),
    origin: options.base,
    newTab: true,
    sessionKey: "rag-chatbot.widget-session",
    title: options.title || "Ask the documents",
    placeholder: options.placeholder || undefined,
    headExtra: close,
  });
  let restored = false;

  const setOpen = (open) => {
    dialog.hidden = !open;
    wrapper.classList.toggle("open", open);
    bubble.setAttribute("aria-expanded", String(open));
    bubble.setAttribute("aria-label", open ? "Close the chat" : "Open the chat");
    if (open) {
      if (!restored) {
        restored = true;
        chat.restore();
      }
      chat.focus();
    } else {
      bubble.focus();
    }
  };
  bubble.addEventListener("click", () => setOpen(dialog.hidden));
  close.addEventListener("click", () => setOpen(false));
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });
  document.body.append(host);
  if (options.open) setOpen(true);
  return { host, chat, setOpen };
}

async function adoptStyles(shadow, base) {
  const urls = STYLES.map((name) => `${base}/static/css/${name}`);
  if ("adoptedStyleSheets" in Document.prototype && "replaceSync" in CSSStyleSheet.prototype) {
    try {
      const texts = await Promise.all(urls.map(async (url) => {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        return response.text();
      }));
      shadow.adoptedStyleSheets = texts.map((text) => {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(text);
        return sheet;
      });
      return;
    } catch (error) {
      console.warn("rag-chatbot widget: falling back to <link> styles", error);
    }
  }
  await Promise.all(urls.map((href) => new Promise((resolve) => {
    const link = h("link", { rel: "stylesheet", href });
    link.addEventListener("load", resolve);
    link.addEventListener("error", resolve);
    shadow.append(link);
  })));
}
