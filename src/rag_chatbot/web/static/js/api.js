/**
 * The HTTP API as the pages and the widget call it: who is calling, errors, streamed answers.
 *
 * Identity (docs/web.md): a signed-in user sends `Authorization: Bearer <access token>`;
 * everybody else sends `X-Client-Token`, a random id kept in localStorage, which owns their
 * chat sessions. Errors come back as `ApiError` with the API's `error_code` and `detail`.
 */

const CLIENT_TOKEN_KEY = "rag-chatbot.client-token";
const AUTH_KEY = "rag-chatbot.auth";
const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && body.detail) || `HTTP ${status}`;
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.code = (body && body.error_code) || "HTTP_ERROR";
  }
}

/** Storage that may be blocked (privacy settings, sandboxed frames): fall back to memory. */
function store(kind) {
  const memory = new Map();
  let real = null;
  try {
    real = kind === "session" ? window.sessionStorage : window.localStorage;
    real.getItem(CLIENT_TOKEN_KEY);
  } catch {
    real = null;
  }
  return {
    get: (key) => (real ? real.getItem(key) : memory.get(key) ?? null),
    set: (key, value) => (real ? real.setItem(key, value) : memory.set(key, value)),
    remove: (key) => (real ? real.removeItem(key) : memory.delete(key)),
  };
}

export const local = store("local");
export const perTab = store("session");

function randomToken(length = 32) {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => TOKEN_ALPHABET[b % TOKEN_ALPHABET.length]).join("");
}

export class Api {
  /**
   * @param {{base?: string, useAuth?: boolean}} options  `base` is the API's origin ("" for
   *   this one); `useAuth` false sends only the client token (the widget on another site).
   */
  constructor({ base = "", useAuth = true } = {}) {
    this.base = base.replace(/\/$/, "");
    this.useAuth = useAuth;
  }

  clientToken() {
    let token = local.get(CLIENT_TOKEN_KEY);
    if (!token || !/^[A-Za-z0-9_-]{16,128}$/.test(token)) {
      token = randomToken();
      local.set(CLIENT_TOKEN_KEY, token);
    }
    return token;
  }

  /** `{access_token, refresh_token?, kind: "login"|"admin_token", username?}` or null. */
  auth() {
    if (!this.useAuth) return null;
    const raw = perTab.get(AUTH_KEY) || local.get(AUTH_KEY);
    try {
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  /** Keep a login; the admin token stays in this tab only (sessionStorage). */
  setAuth(auth) {
    this.clearAuth();
    (auth.kind === "admin_token" ? perTab : local).set(AUTH_KEY, JSON.stringify(auth));
  }

  clearAuth() {
    perTab.remove(AUTH_KEY);
    local.remove(AUTH_KEY);
  }

  headers(extra = {}) {
    const headers = { "X-Client-Token": this.clientToken(), ...extra };
    const auth = this.auth();
    if (auth && auth.access_token) headers.Authorization = `Bearer ${auth.access_token}`;
    return headers;
  }

  async fetch(method, path, { json, body, signal, headers = {}, retry = true } = {}) {
    const init = { method, signal, headers: this.headers(headers) };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    } else if (body !== undefined) {
      init.body = body;
    }
    const response = await fetch(this.base + path, init);
    if (response.status === 401 && retry && (await this.refresh())) {
      return this.fetch(method, path, { json, body, signal, headers, retry: false });
    }
    if (!response.ok) throw new ApiError(response.status, await readJson(response));
    return response;
  }

  async request(method, path, options = {}) {
    const response = await this.fetch(method, path, options);
    return response.status === 204 ? null : readJson(response);
  }

  /** Swap the refresh token for a new access token; false (and signed out) if it fails. */
  async refresh() {
    const auth = this.auth();
    if (!auth || !auth.refresh_token) return false;
    const response = await fetch(`${this.base}/api/auth/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: auth.refresh_token }),
    });
    if (!response.ok) {
      this.clearAuth();
      return false;
    }
    const tokens = await response.json();
    this.setAuth({ ...auth, ...tokens });
    return true;
  }

  search(query, topK = 8) {
    return this.request("POST", "/api/search", { json: { query, top_k: topK } });
  }

  sessions() {
    return this.request("GET", "/api/sessions?limit=30");
  }

  messages(sessionId) {
    return this.request("GET", `/api/sessions/${encodeURIComponent(sessionId)}/messages`);
  }

  feedback(messageId, rating) {
    const path = `/api/messages/${encodeURIComponent(messageId)}/feedback`;
    return this.request("POST", path, { json: { rating } });
  }

  /**
   * Ask with `stream: true`; `onDelta(text)` gets each piece, the promise the final answer.
   * `onRestart(reason)`: the model failed mid-answer and the text so far is withdrawn.
   * Aborting `signal` stops reading (an AbortError rejects the promise).
   */
  async chat(payload, { signal, onDelta = () => {}, onRestart = () => {} } = {}) {
    const response = await this.fetch("POST", "/api/chat", {
      json: { ...payload, stream: true },
      signal,
      headers: { Accept: "text/event-stream" },
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let answer = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event.name === "delta") onDelta(event.data.text || "");
        else if (event.name === "restart") onRestart(event.data.reason || "");
        else if (event.name === "answer") answer = event.data;
        else if (event.name === "error") throw new ApiError(500, event.data);
      }
    }
    if (!answer) throw new ApiError(502, { detail: "the answer stream ended early" });
    return answer;
  }
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  let parsed = {};
  try {
    parsed = data.length ? JSON.parse(data.join("\n")) : {};
  } catch {
    parsed = { detail: data.join("\n") };
  }
  return { name, data: parsed };
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}
