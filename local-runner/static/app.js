"use strict";
// The visitor chat page: the reference frontend of the chat bridge's public /v1 API.
//
//   GET  /v1/availability                     are agents online? (header badge)
//   POST /v1/chats {visitor_name}             start (201) or resume (200) a chat; a new visitor
//                                             gets a visitor_token, kept in localStorage
//   GET  /v1/chats/{id}                       the current chat again after a reload
//   GET  /v1/chats/{id}/messages?limit=50     the newest page of history ...
//        .../messages?after=<next_cursor>     ... then every change since, once (the sync feed)
//        .../messages?before=<prev_cursor>    ... and older pages on demand
//   POST /v1/chats/{id}/messages {text, client_message_id}
//                                             send; a retry with the same client_message_id
//                                             never sends twice
// Calls after the first send `Authorization: Bearer <visitor_token>`. Every error is
// {"error": {"code", "message"}}: the page shows the message as it is.

const POLL_MS = 1500;
const HIDDEN_POLL_MS = 6000;
const AVAILABILITY_MS = 15000;
const PAGE_LIMIT = 50;
const POLL_LIMIT = 100;
/** Polls after the chat ended, so a late leave message still shows. */
const POLLS_AFTER_END = 3;

const KEYS = {
  token: "giosg-bridge.visitor-token",
  chat: "giosg-bridge.chat-id",
  name: "giosg-bridge.visitor-name",
};

const saved = {
  get(key) {
    try { return localStorage.getItem(KEYS[key]); } catch { return null; }
  },
  set(key, value) {
    try {
      if (value === null || value === undefined) localStorage.removeItem(KEYS[key]);
      else localStorage.setItem(KEYS[key], value);
    } catch {
      // Storage disabled: everything works, the chat just does not survive a reload.
    }
  },
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** One call to the API; throws ApiError carrying the API's own error message. */
async function api(method, path, body) {
  const headers = { accept: "application/json" };
  const token = saved.get("token");
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "The chat service cannot be reached right now. We keep trying.");
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: handled below */ }
  if (!response.ok) {
    const error = data && data.error;
    throw new ApiError(
      response.status,
      error && error.code ? error.code : `http_${response.status}`,
      error && error.message ? error.message : `The chat service answered ${response.status}.`,
    );
  }
  return { status: response.status, data };
}

const $ = (id) => document.getElementById(id);
const chatPath = (chatId) => `/v1/chats/${encodeURIComponent(chatId)}`;

function newClientMessageId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  chat: null,
  /** id -> message, for de-duplication (a sent message comes back in the next poll). */
  messages: new Map(),
  /** The `after` cursor: poll for what came later than this. */
  cursor: null,
  /** The `before` cursor of the oldest page shown; null at the start of the chat. */
  olderCursor: null,
  /** Bumped whenever the chat changes, so answers for an old chat are dropped. */
  generation: 0,
  pollTimer: null,
  pollsAfterEnd: 0,
  /** client_message_id -> an outbox entry not confirmed yet (sending, or failed). */
  outbox: new Map(),
};

// ---------------------------------------------------------------------------------------------
// Rendering

/** Shows an error ("" clears it); `source` "poll" marks one the next good poll may clear. */
function showError(message, source) {
  const box = $("error");
  box.textContent = message || "";
  if (source) box.dataset.source = source; else delete box.dataset.source;
}

function setAvailability(online, problem) {
  const badge = $("availability");
  badge.classList.toggle("online", online === true);
  badge.classList.toggle("offline", online === false);
  $("availability-text").textContent =
    online === true ? "Agents are online" :
    online === false ? "No agents online right now" :
    problem || "Availability unknown";
}

function showStart() {
  stopPolling();
  state.chat = null;
  $("chat").hidden = true;
  $("start").hidden = false;
  const name = $("visitor-name");
  if (!name.value) name.value = saved.get("name") || "";
  name.focus();
}

function timeOf(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function timeNode(iso) {
  const node = document.createElement("time");
  node.dateTime = iso;
  node.textContent = timeOf(iso);
  return node;
}

function eventNode(text) {
  const li = document.createElement("li");
  li.className = "event";
  li.textContent = text;
  return li;
}

/** The list item for a message, or null for a type this page does not show. */
function messageNode(message) {
  const mine = message.sender && message.sender.type === "visitor";
  const name = mine ? "You" : (message.sender && message.sender.name) || "Agent";
  let li;
  if (message.deleted) {
    li = document.createElement("li");
    li.className = `bubble deleted ${mine ? "mine" : "theirs"}`;
    li.textContent = "This message was deleted.";
  } else if (message.type === "msg") {
    li = document.createElement("li");
    li.className = `bubble ${mine ? "mine" : "theirs"}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = name;
    li.append(who, message.text || "", timeNode(message.created_at));
  } else if (message.type === "join") {
    li = eventNode(`${name} joined the chat`);
  } else if (message.type === "leave") {
    li = eventNode(`${name} left the chat`);
  } else if (message.text) {
    li = eventNode(message.text);
  } else {
    return null; // A type this page does not render (the API passes unknown types through).
  }
  li.dataset.id = message.id;
  li.dataset.at = String(Date.parse(message.created_at) || 0);
  return li;
}

/** Adds or updates messages, keeping the list in created_at order. */
function addMessages(messages) {
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  let added = false;
  for (const message of messages) {
    // Our own message, confirmed by the feed (its answer may have been lost on the way): the
    // outbox entry for its key is done.
    const pending = message.client_message_id && state.outbox.get(message.client_message_id);
    if (pending) {
      if (pending.node) pending.node.remove();
      state.outbox.delete(message.client_message_id);
    }
    const node = messageNode(message);
    const existing = list.querySelector(`[data-id="${CSS.escape(message.id)}"]`);
    state.messages.set(message.id, message);
    if (existing) {
      if (node) existing.replaceWith(node); else existing.remove();
      continue;
    }
    if (!node) continue;
    const at = Number(node.dataset.at);
    const later = Array.from(list.children).find((child) => Number(child.dataset.at) > at);
    list.insertBefore(node, later || null);
    added = true;
  }
  if (added && nearBottom) list.scrollTop = list.scrollHeight;
}

function setChat(chat) {
  state.chat = chat;
  const ended = chat.status === "ended";
  $("chat-title").textContent = `Chatting as ${chat.visitor_name}`;
  const status = $("chat-status");
  status.classList.toggle("ended", ended);
  status.textContent =
    ended ? "This chat has ended" :
    chat.status === "waiting" ? "Waiting for an agent to answer…" :
    "Chat open";
  const wasEnded = !$("ended").hidden;
  $("ended").hidden = !ended;
  $("composer").hidden = ended;
  if (ended && !wasEnded) $("new-chat").focus();
}

function showChat(chat) {
  $("start").hidden = true;
  $("chat").hidden = false;
  $("messages").replaceChildren();
  $("outbox").replaceChildren();
  setChat(chat);
  if (chat.status !== "ended") $("message-text").focus();
}

// ---------------------------------------------------------------------------------------------
// Chats and history

function openChat(chat) {
  state.generation += 1;
  state.messages.clear();
  state.outbox.clear();
  state.cursor = null;
  state.olderCursor = null;
  state.pollsAfterEnd = 0;
  saved.set("chat", chat.id);
  showChat(chat);
  schedulePoll(0);
}

function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function schedulePoll(delay) {
  stopPolling();
  const generation = state.generation;
  state.pollTimer = setTimeout(() => poll(generation), delay);
}

/** The newest page first; afterwards only messages after the cursor. */
async function poll(generation) {
  if (generation !== state.generation || !state.chat) return;
  const first = state.cursor === null;
  const query = first
    ? `?limit=${PAGE_LIMIT}`
    : `?after=${encodeURIComponent(state.cursor)}&limit=${POLL_LIMIT}`;
  try {
    const { data } = await api("GET", `${chatPath(state.chat.id)}/messages${query}`);
    if (generation !== state.generation) return;
    if ($("error").dataset.source === "poll") showError("");
    addMessages(data.messages);
    state.cursor = data.next_cursor || state.cursor;
    if (first) {
      state.olderCursor = data.prev_cursor;
      showOlderButton();
    }
    setChat(data.chat);
    if (data.chat.status === "ended") {
      state.pollsAfterEnd += 1;
      if (state.pollsAfterEnd > POLLS_AFTER_END) return;
    }
    const full = data.messages.length >= (first ? PAGE_LIMIT : POLL_LIMIT);
    schedulePoll(full && !first ? 0 : document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  } catch (error) {
    if (generation !== state.generation) return;
    if (error.status === 401) {
      forgetVisitor();
      showStart();
      showError("Your earlier chat is no longer available. Start a new chat.");
      return;
    }
    if (error.status === 404) {
      saved.set("chat", null);
      showStart();
      showError(error.message);
      return;
    }
    showError(error.message, "poll");
    schedulePoll(POLL_MS * 2);
  }
}

function showOlderButton() {
  const list = $("messages");
  let button = $("older");
  if (!state.olderCursor) {
    if (button) button.parentElement.remove();
    return;
  }
  if (!button) {
    button = document.createElement("button");
    button.id = "older";
    button.type = "button";
    button.className = "link";
    button.textContent = "Show earlier messages";
    button.addEventListener("click", loadOlder);
    const li = document.createElement("li");
    li.className = "event";
    li.dataset.at = "-1";
    li.append(button);
    list.prepend(li);
  }
}

async function loadOlder() {
  const generation = state.generation;
  try {
    const query = `?before=${encodeURIComponent(state.olderCursor)}&limit=${PAGE_LIMIT}`;
    const { data } = await api("GET", `${chatPath(state.chat.id)}/messages${query}`);
    if (generation !== state.generation) return;
    addMessages(data.messages);
    state.olderCursor = data.prev_cursor;
    showOlderButton();
  } catch (error) {
    showError(error.message);
  }
}

function forgetVisitor() {
  saved.set("token", null);
  saved.set("chat", null);
}

async function startChat(name) {
  const button = $("start-button");
  button.disabled = true;
  $("new-chat").disabled = true;
  showError("");
  try {
    let answer;
    try {
      answer = await api("POST", "/v1/chats", { visitor_name: name });
    } catch (error) {
      // A token this server does not know (its store was reset): start over as a new visitor.
      if (error.status !== 401 || !saved.get("token")) throw error;
      forgetVisitor();
      answer = await api("POST", "/v1/chats", { visitor_name: name });
    }
    if (answer.data.visitor_token) saved.set("token", answer.data.visitor_token);
    saved.set("name", name);
    openChat(answer.data.chat);
  } catch (error) {
    showError(error.message);
    if (error.code === "agents_offline") refreshAvailability();
  } finally {
    button.disabled = false;
    $("new-chat").disabled = false;
  }
}

/** Re-opens the saved chat after a reload, or shows the start form. */
async function resume() {
  const chatId = saved.get("chat");
  if (!saved.get("token") || !chatId) {
    showStart();
    return;
  }
  try {
    const { data } = await api("GET", chatPath(chatId));
    openChat(data.chat);
  } catch (error) {
    if (error.status === 401) forgetVisitor();
    else if (error.status === 404) saved.set("chat", null);
    else showError(error.message);
    showStart();
  }
}

// ---------------------------------------------------------------------------------------------
// Sending

function outboxNode(entry) {
  const li = document.createElement("li");
  li.className = `bubble mine ${entry.failed ? "failed" : "pending"}`;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = entry.failed ? `Not sent: ${entry.failed}` : "Sending…";
  li.append(who, entry.text);
  if (entry.failed && entry.retryable) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "link";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => send(entry));
    const line = document.createElement("span");
    line.className = "who";
    line.append(retry);
    li.append(line);
  }
  return li;
}

/** Sends one message. A retry reuses the entry's client_message_id, so it never sends twice. */
async function send(entry) {
  const generation = state.generation;
  const chatId = state.chat.id;
  entry.failed = null;
  const node = outboxNode(entry);
  if (entry.node) entry.node.replaceWith(node); else $("outbox").append(node);
  entry.node = node;
  state.outbox.set(entry.clientMessageId, entry);
  try {
    const { data } = await api("POST", `${chatPath(chatId)}/messages`, {
      text: entry.text,
      client_message_id: entry.clientMessageId,
    });
    node.remove();
    state.outbox.delete(entry.clientMessageId);
    if (generation === state.generation) addMessages([data.message]);
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  } catch (error) {
    // Confirmed by the feed meanwhile: nothing failed after all.
    if (!state.outbox.has(entry.clientMessageId)) return;
    entry.failed = error.message;
    entry.retryable = !["chat_ended", "invalid_request", "payload_too_large", "not_found"].includes(error.code);
    const failed = outboxNode(entry);
    node.replaceWith(failed);
    entry.node = failed;
    if (error.code === "chat_ended" && generation === state.generation) schedulePoll(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Availability and wiring

async function refreshAvailability() {
  try {
    const { data } = await api("GET", "/v1/availability");
    setAvailability(data.online);
  } catch (error) {
    setAvailability(null, error.message);
  }
}

$("start-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("visitor-name").value.trim();
  if (!name) {
    showError("Please tell us your name.");
    $("visitor-name").focus();
    return;
  }
  startChat(name);
});

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const textarea = $("message-text");
  const text = textarea.value;
  if (!text.trim()) {
    showError("Write a message first.");
    return;
  }
  showError("");
  textarea.value = "";
  textarea.focus();
  send({ text, clientMessageId: newClientMessageId(), node: null, failed: null });
});

$("message-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("new-chat").addEventListener("click", () => {
  const name = saved.get("name") || (state.chat && state.chat.visitor_name);
  if (name) startChat(name); else showStart();
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.chat && state.pollTimer) schedulePoll(0);
});

refreshAvailability();
setInterval(refreshAvailability, AVAILABILITY_MS);
resume();
