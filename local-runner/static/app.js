// The visitor chat page: the reference frontend of the chat bridge's public /v1 API. The API
// work is chat-client.js (copy it into your own frontend); this file is the page around it.
//
//   GET  /v1/availability                     are agents online? (header badge)
//   POST /v1/chats {visitor_name}             start (201) or resume (200) a chat; a new visitor
//                                             gets a visitor_token, kept in localStorage
//   GET  /v1/chats/{id}                       the current chat again after a reload
//   GET  /v1/chats/{id}/messages?limit=50     the newest page of history ...
//   ws:  /v1/feed {"action":"subscribe"}      ... then every change, pushed as it is stored ...
//        .../messages?after=<next_cursor>     ... or polled while the socket is down (sync feed)
//        .../messages?before=<prev_cursor>    ... and older pages on demand
//   POST /v1/chats/{id}/messages {text, client_message_id}
//                                             send; a retry with the same client_message_id
//                                             never sends twice
//   POST /v1/chats {visitor_name, identity_token}
//                                             the same, signed in: every browser of one user id
//                                             reaches the same chats (the local runner's demo
//                                             mints the token: POST /local/identity-token, only
//                                             with IDENTITY_SECRET; a real site's backend signs it)
// Every error is {"error": {"code", "message"}}: the page shows the message as it is.
//
// Page options in the query string (for tests and benchmarks): poll_ms=<ms between polls>,
// reconnect_ms=<first reconnect delay>, feed=off (no WebSocket: poll only). Whether the page is
// live is shown in #feed-status, whose data-mode is the client's mode (push, poll, ...).

import { ChatClient } from "/chat-client.js";

const AVAILABILITY_MS = 15000;
const NAME_KEY = "giosg-bridge.visitor-name";
const USER_KEY = "giosg-bridge.demo-user";

function pageOptions() {
  const params = new URLSearchParams(location.search);
  const number = (name, min, max) => {
    const value = Number(params.get(name));
    return params.has(name) && Number.isFinite(value) && value >= min && value <= max ? value : undefined;
  };
  const options = {};
  const poll = number("poll_ms", 50, 3600000);
  if (poll !== undefined) options.pollInterval = poll;
  const reconnect = number("reconnect_ms", 10, 600000);
  if (reconnect !== undefined) options.reconnectDelay = reconnect;
  if (params.get("feed") === "off") options.WebSocket = null;
  return options;
}

const savedName = {
  get() { try { return localStorage.getItem(NAME_KEY); } catch { return null; } },
  set(value) { try { localStorage.setItem(NAME_KEY, value); } catch { /* not kept */ } },
};

/** The user id of the "signed in as" demo ("" or null: not signed in). */
const savedUser = {
  get() { try { return localStorage.getItem(USER_KEY); } catch { return null; } },
  set(value) {
    try {
      if (value) localStorage.setItem(USER_KEY, value); else localStorage.removeItem(USER_KEY);
    } catch { /* not kept */ }
  },
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// State

const state = {
  chat: null,
  /** message id -> its list item. */
  nodes: new Map(),
  /** client_message_id -> an outbox entry not confirmed yet (sending, or failed). */
  outbox: new Map(),
  /** Whether the local runner offers the "signed in as" demo (IDENTITY_SECRET is set). */
  demo: false,
};

const client = new ChatClient({
  ...pageOptions(),
  onMessages(messages, { source }) {
    addMessages(messages);
    if (source === "history" || source === "older") showOlderButton();
  },
  onChat: (chat) => setChat(chat),
  onError: (error) => syncFailed(error),
  onMode: (mode) => showMode(mode),
});

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
  client.stop();
  state.chat = null;
  $("chat").hidden = true;
  $("start").hidden = false;
  const name = $("visitor-name");
  if (!name.value) name.value = savedName.get() || "";
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
    const existing = state.nodes.get(message.id);
    if (existing) {
      if (node) existing.replaceWith(node); else existing.remove();
      if (node) state.nodes.set(message.id, node); else state.nodes.delete(message.id);
      continue;
    }
    if (!node) continue;
    state.nodes.set(message.id, node);
    // After the last shown at or before it: from the end, as new messages are usually newest.
    const at = Number(node.dataset.at);
    let before = null;
    let child = list.lastElementChild;
    while (child && Number(child.dataset.at) > at) {
      before = child;
      child = child.previousElementSibling;
    }
    list.insertBefore(node, before);
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
  state.nodes.clear();
  setChat(chat);
  if (chat.status !== "ended") $("message-text").focus();
}

const FEED_TEXT = {
  connecting: ["Connecting…", "Connecting to the live feed"],
  push: ["Live", "New messages show the moment they arrive"],
  poll: ["Polling", "The live feed is unavailable: checking for new messages every few seconds"],
  idle: ["", ""],
  stopped: ["", ""],
};

function showMode(mode) {
  const node = $("feed-status");
  node.dataset.mode = mode;
  const [text, title] = FEED_TEXT[mode] || ["", ""];
  node.textContent = text;
  node.title = title;
}

/** The client's sync errors: null when it works again; fatal ones end the chat view. */
function syncFailed(error) {
  if (!error) {
    if ($("error").dataset.source === "poll") showError("");
    return;
  }
  if (error.source === "feed") {
    console.warn(`live feed: ${error.code}: ${error.message} (polling instead)`);
  } else if (error.fatal && error.status === 401) {
    showStart();
    showError("Your earlier chat is no longer available. Start a new chat.");
  } else if (error.fatal) {
    showStart();
    showError(error.message);
  } else {
    showError(error.message, "poll");
  }
}

// ---------------------------------------------------------------------------------------------
// Chats and history

function openChat(chat) {
  const user = state.demo ? savedUser.get() : null;
  $("signed-in").hidden = !user;
  $("signed-in").textContent = user ? `Signed in as ${user}` : "";
  state.outbox.clear();
  showChat(chat);
  client.follow(chat);
}

function showOlderButton() {
  const list = $("messages");
  let button = $("older");
  if (!client.hasOlder) {
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
  try {
    await client.loadOlder();
  } catch (error) {
    showError(error.message);
  }
}

async function startChat(name) {
  const button = $("start-button");
  button.disabled = true;
  $("new-chat").disabled = true;
  showError("");
  try {
    const user = state.demo ? savedUser.get() : null;
    const extra = user ? { identity_token: await demoIdentityToken(user, name) } : {};
    const { chat } = await client.startChat(name, extra);
    savedName.set(name);
    openChat(chat);
  } catch (error) {
    showError(error.message);
    if (error.code === "agents_offline") refreshAvailability();
  } finally {
    button.disabled = false;
    $("new-chat").disabled = false;
  }
}

/** The demo's stand-in for a company's backend: the local runner signs an identity token for
 * `userId` (only when it runs with IDENTITY_SECRET). */
async function demoIdentityToken(userId, name) {
  const response = await fetch("/local/identity-token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: userId, name }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
  return data.identity_token;
}

/** Shows the "signed in as" field when the local runner offers the demo. */
async function detectDemo() {
  try {
    const response = await fetch("/local/identity");
    state.demo = response.ok;
  } catch {
    state.demo = false;
  }
  $("demo-signin").hidden = !state.demo;
  if (state.demo && !$("demo-user").value) $("demo-user").value = savedUser.get() || "";
}

/** Re-opens the saved chat after a reload, or shows the start form. */
async function resume() {
  try {
    const chat = await client.resumeChat();
    if (chat) openChat(chat); else showStart();
  } catch (error) {
    showError(error.message);
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

/** Sends one message. The client retries network errors, 5xx and 429 by itself; the Retry
 * button reuses the entry's client_message_id too, so nothing is ever sent twice. */
async function send(entry) {
  const chatId = state.chat.id;
  entry.failed = null;
  const node = outboxNode(entry);
  if (entry.node) entry.node.replaceWith(node); else $("outbox").append(node);
  entry.node = node;
  state.outbox.set(entry.clientMessageId, entry);
  try {
    await client.send(entry.text, { clientMessageId: entry.clientMessageId, chatId });
    node.remove();
    state.outbox.delete(entry.clientMessageId);
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
    if (error.code === "chat_ended") client.wake();
  }
}

// ---------------------------------------------------------------------------------------------
// Availability and wiring

async function refreshAvailability() {
  try {
    const data = await client.availability();
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
  if (state.demo) savedUser.set($("demo-user").value.trim());
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
  send({ text, clientMessageId: client.newClientMessageId(), node: null, failed: null });
});

$("message-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("new-chat").addEventListener("click", () => {
  const name = savedName.get() || (state.chat && state.chat.visitor_name);
  if (name) startChat(name); else showStart();
});

refreshAvailability();
setInterval(refreshAvailability, AVAILABILITY_MS);
detectDemo().then(resume);
