// chat-client.js: a small, dependency-free client of the chat bridge's visitor API (spec §1 and
// §1a). An ES module with no build step: copy it into any web frontend.
//
//   import { ChatClient } from "./chat-client.js";
//   const client = new ChatClient({
//     onMessages(messages, info) { /* merge by message.id, display by created_at */ },
//     onChat(chat) { /* status "waiting" | "open" | "ended" ... */ },
//     onError(error) { /* an ApiError, or null: the sync works again */ },
//     onMode(mode) { /* "connecting" | "push" | "poll" | "idle" | "stopped" */ },
//   });
//   const chat = (await client.resumeChat()) || (await client.startChat("Ada")).chat;
//   client.follow(chat);                          // history, then live updates
//   await client.send("Hello", { clientMessageId: client.newClientMessageId() });
//   await client.loadOlder();                     // older page, if client.hasOlder
//   client.stop();
//
// Options (all optional):
//   baseUrl            the API's origin, "" (default) for the page's own
//   feedUrl            the WebSocket feed; default baseUrl (or the page) as ws(s)://.../v1/feed
//   storage            getItem/setItem/removeItem (default localStorage; memory if unusable)
//   storagePrefix      key prefix, default "giosg-bridge": <prefix>.visitor-token, <prefix>.chat-id
//   fetch, WebSocket   injected implementations (WebSocket: null turns the feed off)
//   pollInterval       ms between polls while the feed is down (1500); hiddenPollInterval (6000)
//                      while the document is hidden
//   reconnectDelay     first reconnect delay in ms (500), doubled per failed attempt (with
//                      jitter) up to maxReconnectDelay (30000); reset once a socket opens
//   connectTimeout     ms a socket may take to open before it counts as failed (5000)
//   sendRetries        automatic retries of a send (4) on network errors, 5xx and 429,
//                      after Retry-After when given, else backoff from 500 ms up to 8 s
//   endedGrace         ms to keep syncing after the chat ended, for late messages (4500)
//   pageSize, pollLimit  history page size (50), sync feed page size (100)
//
// Methods:
//   availability()               GET /v1/availability -> {online, checked_at}
//   startChat(name, extra)       POST /v1/chats -> {chat, resumed}; keeps the visitor token and
//                                the chat id. A stored token the server no longer knows (401)
//                                is dropped and the chat started as a new visitor.
//   resumeChat()                 the stored chat (GET /v1/chats/{id}), or null when there is
//                                none or it is gone (forgets what the server refused)
//   getChat(id), listChats()     GET /v1/chats/{id}, GET /v1/chats
//   follow(chat)                 stops any earlier follow; loads the newest history page, then
//                                keeps the chat in sync: the WebSocket feed first, polling the
//                                sync feed (?after=<cursor>) while the socket is down or cannot
//                                open, reconnecting with backoff and resubscribing from the last
//                                cursor, so nothing is missed. Messages can arrive more than
//                                once (push and poll overlap by design): merge by id.
//   send(text, {clientMessageId, chatId})  POST .../messages -> the Message. Retried with the
//                                same client_message_id, so a retry never sends twice; reuse the
//                                id when the user retries by hand. Also passed to onMessages.
//   loadOlder()                  the page before the oldest loaded (?before=<prev_cursor>)
//   stop()                       closes the socket and stops polling (mode "stopped")
//   forgetVisitor(), forgetChat()  drop the stored token (and chat id) / the chat id
//   newClientMessageId()         a random key for send
//   Properties: token, chatId (stored), mode, hasOlder, cursor.
//
// Callbacks: onMessages(messages, {source}) where source is "history", "older", "push", "poll"
// or "send"; onChat(chat) when the chat's state changes; onError(error) with an ApiError
// ({status, code, message, source: "sync" | "feed", fatal}) and onError(null) once syncing
// works again. A fatal error (401: the token is unknown; 404: the chat is gone) stops the
// follow. onMode(mode): "connecting" (loading, socket not open yet), "push" (subscribed on
// the socket), "poll" (socket down: polling), "idle" (the chat ended and its last messages
// were collected), "stopped".
//
// Cross-origin use: the API must list the page's origin (ALLOWED_ORIGINS) and expose
// Retry-After for the client to read it.

export class ApiError extends Error {
  constructor(status, code, message, retryAfterMs = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.source = null;
    this.fatal = false;
  }

  /** Worth retrying the same request: the network, the server's 5xx, or rate limiting. */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

const FRAME_STATUS = { unauthorized: 401, not_found: 404, invalid_request: 400 };

const DEFAULTS = {
  baseUrl: "",
  storagePrefix: "giosg-bridge",
  pollInterval: 1500,
  hiddenPollInterval: 6000,
  reconnectDelay: 500,
  maxReconnectDelay: 30000,
  connectTimeout: 5000,
  sendRetries: 4,
  endedGrace: 4500,
  pageSize: 50,
  pollLimit: 100,
};

function defaultStorage() {
  try {
    const probe = "giosg-bridge.probe";
    globalThis.localStorage.setItem(probe, "1");
    globalThis.localStorage.removeItem(probe);
    return globalThis.localStorage;
  } catch {
    const memory = new Map();
    return {
      getItem: (key) => (memory.has(key) ? memory.get(key) : null),
      setItem: (key, value) => memory.set(key, String(value)),
      removeItem: (key) => memory.delete(key),
    };
  }
}

/** Retry-After as ms: delta seconds or an HTTP date. */
function retryAfterMs(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = (ms) => ms / 2 + Math.random() * (ms / 2);
const noop = () => {};

export class ChatClient {
  constructor(options = {}) {
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    this.storage = o.storage || defaultStorage();
    this.fetch = o.fetch || globalThis.fetch.bind(globalThis);
    this.WebSocket = o.WebSocket === undefined ? globalThis.WebSocket : o.WebSocket;
    this.onMessages = o.onMessages || noop;
    this.onChat = o.onChat || noop;
    this.onError = o.onError || noop;
    this.onMode = o.onMode || noop;
    this.mode = "stopped";
    this.run = null;
    if (globalThis.document) {
      document.addEventListener("visibilitychange", () => this.wake());
    }
    if (globalThis.addEventListener) globalThis.addEventListener("online", () => this.wake(true));
  }

  // ---- stored identity ------------------------------------------------------------------------

  key(name) { return `${this.options.storagePrefix}.${name}`; }
  read(name) { try { return this.storage.getItem(this.key(name)); } catch { return null; } }
  write(name, value) {
    try {
      if (value === null || value === undefined) this.storage.removeItem(this.key(name));
      else this.storage.setItem(this.key(name), value);
    } catch { /* storage refused: works until the page is reloaded */ }
  }
  get token() { return this.read("visitor-token"); }
  get chatId() { return this.read("chat-id"); }
  forgetVisitor() { this.write("visitor-token", null); this.write("chat-id", null); }
  forgetChat() { this.write("chat-id", null); }

  newClientMessageId() {
    if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  /** One API call: resolves with {status, data}, throws ApiError (status 0: the network). */
  async request(method, path, body) {
    const headers = { accept: "application/json" };
    const token = this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await this.fetch(this.options.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", "The chat service cannot be reached right now. We keep trying.");
    }
    let text = "";
    try { text = await response.text(); } catch { /* cut off: treated as no body */ }
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!response.ok) {
      const error = data && data.error;
      throw new ApiError(
        response.status,
        error && error.code ? error.code : `http_${response.status}`,
        error && error.message ? error.message : `The chat service answered ${response.status}.`,
        retryAfterMs(response.headers.get("retry-after")),
      );
    }
    return { status: response.status, data };
  }

  chatPath(chatId) { return `/v1/chats/${encodeURIComponent(chatId)}`; }

  async availability() { return (await this.request("GET", "/v1/availability")).data; }
  async getChat(chatId) { return (await this.request("GET", this.chatPath(chatId))).data.chat; }
  async listChats() { return (await this.request("GET", "/v1/chats")).data.chats; }

  async startChat(visitorName, extra = {}) {
    const body = { visitor_name: visitorName, ...extra };
    let answer;
    try {
      answer = await this.request("POST", "/v1/chats", body);
    } catch (error) {
      if (error.status !== 401 || !this.token) throw error;
      this.forgetVisitor(); // a token this server does not know: start as a new visitor
      answer = await this.request("POST", "/v1/chats", body);
    }
    if (answer.data.visitor_token) this.write("visitor-token", answer.data.visitor_token);
    this.write("chat-id", answer.data.chat.id);
    return { chat: answer.data.chat, resumed: answer.status === 200 };
  }

  async resumeChat() {
    const chatId = this.chatId;
    if (!this.token || !chatId) return null;
    try {
      return await this.getChat(chatId);
    } catch (error) {
      if (error.status === 401) { this.forgetVisitor(); return null; }
      if (error.status === 404) { this.forgetChat(); return null; }
      throw error;
    }
  }

  /** Sends with a client_message_id; retries with the same id, so it is sent at most once. */
  async send(text, { clientMessageId = this.newClientMessageId(), chatId } = {}) {
    const chat = chatId || (this.run && this.run.chatId) || this.chatId;
    const body = { text, client_message_id: clientMessageId };
    for (let attempt = 0; ; attempt += 1) {
      try {
        const { data } = await this.request("POST", `${this.chatPath(chat)}/messages`, body);
        if (this.run && this.run.chatId === chat) this.onMessages([data.message], { source: "send" });
        return data.message;
      } catch (error) {
        if (!error.retryable || attempt >= this.options.sendRetries) throw error;
        await sleep(error.retryAfterMs ?? jitter(Math.min(8000, 500 * 2 ** attempt)));
      }
    }
  }

  get hasOlder() { return Boolean(this.run && this.run.olderCursor); }
  get cursor() { return this.run ? this.run.cursor : null; }

  async loadOlder() {
    const run = this.run;
    if (!run || !run.olderCursor) return [];
    const query = `?before=${encodeURIComponent(run.olderCursor)}&limit=${this.options.pageSize}`;
    const { data } = await this.request("GET", `${this.chatPath(run.chatId)}/messages${query}`);
    if (run !== this.run) return [];
    run.olderCursor = data.prev_cursor;
    this.onMessages(data.messages, { source: "older" });
    return data.messages;
  }

  // ---- following a chat -----------------------------------------------------------------------

  follow(chat) {
    this.stop();
    const run = {
      chatId: chat.id,
      chatJson: null,
      cursor: null,
      olderCursor: null,
      socket: null,
      subscribed: false,
      syncing: null, // the poll in flight, if any
      pollTimer: null,
      reconnectTimer: null,
      connectTimer: null,
      endTimer: null,
      failures: 0, // socket attempts that did not open, for the backoff
      failing: false, // an error was reported; report null when syncing works again
      stopped: false,
    };
    this.run = run;
    this.write("chat-id", chat.id);
    this.setMode("connecting");
    this.chatState(run, chat);
    this.sync(run);
    return this;
  }

  stop() {
    const run = this.run;
    if (run) {
      run.stopped = true;
      this.closeSocket(run);
      for (const timer of ["pollTimer", "reconnectTimer", "connectTimer", "endTimer"]) {
        clearTimeout(run[timer]);
      }
      this.run = null;
    }
    this.setMode("stopped");
  }

  /** Polls at once (page shown again), and with `reconnect` retries the socket at once. */
  wake(reconnect = false) {
    const run = this.run;
    if (!run || run.stopped || run.subscribed || this.mode === "idle") return;
    if (globalThis.document && document.hidden) return;
    if (run.cursor !== null) this.schedulePoll(run, 0);
    if (reconnect && !run.socket && this.WebSocket && run.cursor !== null) {
      clearTimeout(run.reconnectTimer);
      this.connect(run);
    }
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.onMode(mode);
  }

  chatState(run, chat) {
    const json = JSON.stringify(chat);
    if (json === run.chatJson) return;
    run.chatJson = json;
    this.onChat(chat);
    if (chat.status === "ended" && !run.endTimer) {
      run.endTimer = setTimeout(() => this.idle(run), this.options.endedGrace);
    }
  }

  /** The chat ended and its last changes were collected: nothing more to follow. */
  idle(run) {
    if (run !== this.run || run.stopped) return;
    this.closeSocket(run);
    clearTimeout(run.pollTimer);
    clearTimeout(run.reconnectTimer);
    run.stopped = true;
    this.setMode("idle");
  }

  recovered(run) {
    if (run.failing) {
      run.failing = false;
      this.onError(null);
    }
  }

  failed(run, error, source) {
    error.source = source;
    error.fatal = source === "sync" && (error.status === 401 || error.status === 404);
    if (error.fatal) {
      if (error.status === 401) this.forgetVisitor(); else this.forgetChat();
      this.stop();
    } else {
      run.failing = true;
    }
    this.onError(error);
  }

  schedulePoll(run, delay) {
    clearTimeout(run.pollTimer);
    run.pollTimer = setTimeout(() => this.sync(run), delay);
  }

  /** One page of the history view (first) or of the sync feed, then what comes next. */
  sync(run) {
    if (run.stopped || run.subscribed || run.syncing) return;
    const first = run.cursor === null;
    const o = this.options;
    const query = first
      ? `?limit=${o.pageSize}`
      : `?after=${encodeURIComponent(run.cursor)}&limit=${o.pollLimit}`;
    run.syncing = (async () => {
      let next = null;
      try {
        const { data } = await this.request("GET", `${this.chatPath(run.chatId)}/messages${query}`);
        if (run.stopped || run.subscribed) return;
        run.cursor = data.next_cursor || run.cursor;
        if (first) run.olderCursor = data.prev_cursor;
        this.recovered(run);
        this.chatState(run, data.chat);
        this.onMessages(data.messages, { source: first ? "history" : "poll" });
        if (run.stopped) return;
        if (first && this.WebSocket) this.connect(run);
        const full = !first && data.messages.length >= o.pollLimit;
        const hidden = globalThis.document && document.hidden;
        next = full ? 0 : hidden ? o.hiddenPollInterval : o.pollInterval;
        if (first && !this.WebSocket) this.setMode("poll");
      } catch (error) {
        if (run.stopped) return;
        this.failed(run, error, "sync");
        next = o.pollInterval * 2;
      } finally {
        run.syncing = null;
      }
      if (next !== null && !run.stopped && !run.subscribed) this.schedulePoll(run, next);
    })();
  }

  feedUrl() {
    if (this.options.feedUrl) return this.options.feedUrl;
    const base = this.options.baseUrl || globalThis.location.href;
    const url = new URL("/v1/feed", base);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  /** Opens the socket; once open (and no poll in flight) subscribes from the cursor. */
  connect(run) {
    if (run.stopped || run.socket) return;
    let socket;
    try {
      socket = new this.WebSocket(this.feedUrl(), ["bearer", this.token]);
    } catch {
      this.feedDown(run, false);
      return;
    }
    run.socket = socket;
    let opened = false;
    run.connectTimer = setTimeout(() => {
      if (run.socket === socket && !opened) this.feedDown(run, false);
    }, this.options.connectTimeout);
    socket.onopen = async () => {
      if (run.socket !== socket) return;
      opened = true;
      clearTimeout(run.connectTimer);
      run.failures = 0;
      clearTimeout(run.pollTimer);
      while (run.syncing) await run.syncing; // one cursor at a time: never poll and push at once
      if (run.socket !== socket || socket.readyState !== 1 || run.stopped) return;
      clearTimeout(run.pollTimer);
      run.subscribed = true;
      socket.send(JSON.stringify({ action: "subscribe", chat_id: run.chatId, after: run.cursor }));
      this.recovered(run);
      this.setMode("push");
    };
    socket.onmessage = (event) => {
      if (run.socket === socket && run.subscribed) this.frame(run, event.data);
    };
    socket.onerror = noop; // a close follows
    socket.onclose = () => {
      if (run.socket === socket) this.feedDown(run, opened);
    };
  }

  frame(run, text) {
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    if (frame.type === "messages" && frame.chat_id === run.chatId) {
      run.cursor = frame.next_cursor || run.cursor;
      this.onMessages(frame.messages || [], { source: "push" });
    } else if (frame.type === "chat" && frame.chat && frame.chat.id === run.chatId) {
      this.chatState(run, frame.chat);
    } else if (frame.type === "error") {
      const error = frame.error || {};
      this.failed(run, new ApiError(FRAME_STATUS[error.code] || 500, error.code || "internal",
        error.message || "The live feed refused a request."), "feed");
      this.feedDown(run, false); // the sync feed decides whether the chat is really gone
    }
  }

  closeSocket(run) {
    const socket = run.socket;
    run.socket = null;
    run.subscribed = false;
    clearTimeout(run.connectTimer);
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try { socket.close(); } catch { /* already closed */ }
  }

  /** The socket dropped or could not open: poll from the cursor now, reconnect later. */
  feedDown(run, wasOpen) {
    this.closeSocket(run);
    if (run.stopped) return;
    this.setMode("poll");
    this.schedulePoll(run, 0);
    if (!wasOpen) run.failures += 1;
    const o = this.options;
    const delay = jitter(Math.min(o.maxReconnectDelay, o.reconnectDelay * 2 ** Math.max(0, run.failures - 1)));
    clearTimeout(run.reconnectTimer);
    run.reconnectTimer = setTimeout(() => this.connect(run), delay);
  }
}
