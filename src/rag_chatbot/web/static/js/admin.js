/**
 * The admin page: sign in (a user with the admin role, or the ADMIN_TOKEN), what readers asked
 * (analytics.js), upload documents with progress and a status per file, list, delete and
 * re-index documents, and the cache.
 */

import { Analytics } from "./analytics.js";
import { Api, ApiError } from "./api.js";
import { h } from "./dom.js";

const POLL_MS = 700;
const api = new Api();
const $ = (id) => document.getElementById(id);
const maxBytes = Number(document.body.dataset.maxUploadBytes || 0);
const analytics = new Analytics(api);

// ---- signing in -------------------------------------------------------------------------

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  setStatus("signin-status", "Signing in…");
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, body);
    api.setAuth({ ...body, kind: "login", username: form.username.value });
    form.password.value = "";
    await enter();
  } catch (error) {
    const reason = error.status === 404 ? "this server has no sign-in; use the admin token"
      : error.message;
    setStatus("signin-status", `Sign-in failed: ${reason}`, true);
  }
});

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  api.setAuth({ access_token: form.token.value.trim(), kind: "admin_token", username: "admin token" });
  form.token.value = "";
  await enter();
});

$("signout").addEventListener("click", async () => {
  const auth = api.auth();
  if (auth && auth.kind === "login") {
    await api.request("POST", "/api/auth/logout", { json: { refresh_token: auth.refresh_token } })
      .catch(() => null);
  }
  api.clearAuth();
  $("admin-panel").hidden = true;
  $("signin").hidden = false;
  setStatus("signin-status", "Signed out.");
  $("login-username").focus();
});

/** Check the stored credentials against an admin endpoint; show the panel if they are an admin's. */
async function enter() {
  const auth = api.auth();
  if (!auth) return;
  try {
    await api.request("GET", "/api/admin/cache/stats");
  } catch (error) {
    if (error.status === 403 && auth.kind === "login") {
      // A reader's account: keep it (the chat on the reader pages uses it), but no admin panel.
      setStatus("signin-status", `Signed in as ${auth.username}, who is not an administrator. ` +
        "The chat on the reader pages now uses this account.", true);
      return;
    }
    if (error.status === 401 || error.status === 403) {
      api.clearAuth();
      setStatus("signin-status", error.status === 403
        ? "This account is not an administrator." : "Not signed in: the credentials were refused.", true);
      return;
    }
    // Other failures (no cache endpoint yet) do not say the caller is not an admin.
  }
  $("whoami").textContent = auth.username || "admin";
  $("signin").hidden = true;
  $("admin-panel").hidden = false;
  setStatus("signin-status", "");
  await Promise.all([loadDocuments(), loadCache(), analytics.load()]);
  $("content").focus({ preventScroll: true });
}

// ---- uploads ----------------------------------------------------------------------------

const dropzone = $("dropzone");
const fileInput = $("file-input");
dropzone.addEventListener("click", () => fileInput.click());
dropzone.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    fileInput.click();
  }
});
for (const name of ["dragenter", "dragover"]) {
  dropzone.addEventListener(name, (event) => {
    event.preventDefault();
    dropzone.classList.add("dragging");
  });
}
for (const name of ["dragleave", "drop"]) {
  dropzone.addEventListener(name, () => dropzone.classList.remove("dragging"));
}
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  uploadAll([...event.dataTransfer.files]);
});
fileInput.addEventListener("change", () => {
  uploadAll([...fileInput.files]);
  fileInput.value = "";
});

async function uploadAll(files) {
  const rows = files.map((file) => ({ file, row: uploadRow(file) }));
  for (const { file, row } of rows) await upload(file, row);
  loadDocuments();
}

function uploadRow(file) {
  const progress = h("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const status = h("span", { class: "upload-status" }, "Waiting");
  const li = h("li", { class: "upload" }, h("span", { class: "upload-name" }, file.name),
    progress, status);
  $("upload-list").prepend(li);
  return { li, progress, status };
}

function setRow(row, state, text) {
  row.li.dataset.state = state;
  row.status.textContent = text;
}

/** Send one file (XMLHttpRequest: it reports upload progress), then follow its indexing. */
async function upload(file, row) {
  if (maxBytes && file.size > maxBytes) {
    setRow(row, "failed", `Too large: over ${Math.round(maxBytes / 1048576)} MB`);
    return;
  }
  setRow(row, "uploading", "Uploading…");
  let document_;
  try {
    document_ = await send(file, (fraction) => {
      row.progress.value = Math.round(fraction * 100);
    });
  } catch (error) {
    setRow(row, "failed", `Refused: ${error.message}`);
    return;
  }
  row.progress.value = 100;
  setRow(row, "processing", "Indexing…");
  for (;;) {
    if (document_.status === "completed") {
      const count = document_.chunk_count;
      setRow(row, "completed", `Indexed: ${count} chunk${count === 1 ? "" : "s"}`);
      return;
    }
    if (document_.status === "failed") {
      setRow(row, "failed", `Failed: ${document_.error || "unknown error"}`);
      return;
    }
    await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
    try {
      document_ = await api.request("GET", `/api/documents/${encodeURIComponent(document_.id)}`);
    } catch (error) {
      setRow(row, "failed", `Lost track of it: ${error.message}`);
      return;
    }
  }
}

function send(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    for (const [name, value] of Object.entries(api.headers())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { detail: "network error" })));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

// ---- documents --------------------------------------------------------------------------

$("refresh-documents").addEventListener("click", () => loadDocuments());
$("reindex").addEventListener("click", async () => {
  try {
    const result = await api.request("POST", "/api/documents/reindex");
    setStatus("documents-status", `Re-indexing ${result.documents} documents in the background.`);
    window.setTimeout(loadDocuments, 1500);
  } catch (error) {
    setStatus("documents-status", `Re-index refused: ${error.message}`, true);
  }
});

async function loadDocuments() {
  try {
    const documents = await api.request("GET", "/api/documents?limit=1000");
    const body = $("documents").tBodies[0];
    body.replaceChildren(...documents.map(documentRow));
    if (!documents.length) {
      body.append(h("tr", {}, h("td", { colspan: "5", class: "muted" }, "No documents yet.")));
    }
  } catch (error) {
    setStatus("documents-status", `Documents could not be loaded: ${error.message}`, true);
  }
}

function documentRow(doc) {
  const remove = h("button", { type: "button", class: "danger small",
    "aria-label": `Delete ${doc.source}` }, "Delete");
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete “${doc.title || doc.source}” and its passages?`)) return;
    try {
      await api.request("DELETE", `/api/documents/${encodeURIComponent(doc.id)}`);
      setStatus("documents-status", `Deleted ${doc.source}.`);
      loadDocuments();
    } catch (error) {
      setStatus("documents-status", `Delete failed: ${error.message}`, true);
    }
  });
  const title = doc.status === "completed"
    ? h("a", { href: `/read/${doc.source.split("/").map(encodeURIComponent).join("/")}` },
      doc.title || doc.source)
    : h("span", {}, doc.title || doc.source);
  return h("tr", { dataset: { source: doc.source } },
    h("td", {}, title, h("div", { class: "muted small" }, doc.source)),
    h("td", {}, h("span", { class: `badge status-${doc.status}` }, doc.status),
      doc.error ? h("div", { class: "error-text small" }, doc.error) : null),
    h("td", { class: "num" }, String(doc.chunk_count),
      h("span", { class: "unit" }, doc.chunk_count === 1 ? " chunk" : " chunks")),
    h("td", {}, h("time", { datetime: doc.updated_at }, new Date(doc.updated_at).toLocaleString())),
    h("td", {}, remove));
}

// ---- cache ------------------------------------------------------------------------------

$("cache-refresh").addEventListener("click", () => loadCache());
$("cache-clear").addEventListener("click", async () => {
  try {
    const result = await api.request("POST", "/api/admin/cache/clear");
    const removed = result && (result.cleared ?? result.removed ?? result.deleted);
    setStatus("cache-status", removed === undefined ? "Cache cleared." : `Cache cleared (${removed} entries).`);
    loadCache();
  } catch (error) {
    setStatus("cache-status", `Clearing failed: ${error.message}`, true);
  }
});

async function loadCache() {
  try {
    const stats = await api.request("GET", "/api/admin/cache/stats");
    $("cache-stats").replaceChildren(...Object.entries(stats || {}).flatMap(([key, value]) => [
      h("dt", {}, key.replace(/_/g, " ")),
      h("dd", {}, typeof value === "object" ? JSON.stringify(value) : String(value)),
    ]));
  } catch (error) {
    $("cache-stats").replaceChildren();
    setStatus("cache-status", `Cache statistics unavailable: ${error.message}`, true);
  }
}

function setStatus(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error-text", isError);
}

if (api.auth()) enter();
else $("login-username").focus();
