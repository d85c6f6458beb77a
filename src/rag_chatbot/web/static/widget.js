/*
 * rag-chatbot's embeddable chat bubble. Add to any page:
 *
 *   <script src="https://HOST/widget.js" data-title="Ask the book" defer></script>
 *
 * Options (data- attributes of the tag): data-title, data-placeholder, data-position
 * ("right" or "left"), data-open ("true": open at load), data-api (the API's origin when it
 * is not where this file came from). The widget lives in a shadow DOM: the page's styles and
 * the widget's cannot reach each other. The API must list this page's origin in CORS_ORIGINS.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__ragChatbotWidget) return;
  window.__ragChatbotWidget = true;
  var base = (script.dataset.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var options = {
    base: base,
    title: script.dataset.title || "",
    placeholder: script.dataset.placeholder || "",
    position: script.dataset.position === "left" ? "left" : "right",
    open: script.dataset.open === "true",
  };
  import(base + "/static/js/widget-app.js")
    .then(function (module) { return module.mount(options); })
    .catch(function (error) { console.error("rag-chatbot widget failed to load", error); });
})();
