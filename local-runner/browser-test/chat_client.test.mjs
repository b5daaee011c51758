// Unit tests of static/chat-client.js in Node, with a scripted fetch and a fake WebSocket (no
// runner, no browser): idempotent sends and their retries, the feed with its fallback to
// polling, reconnects that resubscribe from the last cursor, fatal errors.
//   node --test local-runner/browser-test/chat_client.test.mjs

import assert from "node:assert/strict";
import { test } from "node:test";

import { ChatClient } from "../static/chat-client.js";

const CHAT = { id: "c1", status: "open", visitor_name: "Ada" };
const msg = (id) => ({ id, type: "msg", text: `m${id}`, created_at: "2025-01-01T00:00:00Z" });
const until = async (check, what) => {
  for (let i = 0; i < 200; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
};

/** A fetch answering from `route(method, url, body)` -> [status, body, headers] or throwing. */
function scripted(route) {
  const calls = [];
  const fetch = async (url, init) => {
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ method: init.method, url, body, auth: init.headers.authorization });
    const [status, data, headers = {}] = route(init.method, url, body, calls.length);
    return new Response(data === undefined ? "" : JSON.stringify(data), { status, headers });
  };
  return { fetch, calls };
}

/** WebSocket stand-in: tests open, feed and drop the instances. */
function fakeSockets() {
  const sockets = [];
  class FakeSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    send(text) { this.sent.push(JSON.parse(text)); }
    close() { this.readyState = 3; }
    open() { this.readyState = 1; this.onopen && this.onopen(); }
    frame(data) { this.onmessage && this.onmessage({ data: JSON.stringify(data) }); }
    drop() { this.readyState = 3; this.onclose && this.onclose({ code: 1006 }); }
  }
  return { FakeSocket, sockets };
}

function memoryStorage(entries = {}) {
  const map = new Map(Object.entries(entries));
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, v),
    removeItem: (k) => map.delete(k),
  };
}

test("a send is retried with the same client_message_id, after Retry-After, and never twice", async () => {
  const { fetch, calls } = scripted((method, url, body, n) => {
    if (n === 1) return [503, { error: { code: "giosg_unavailable", message: "later" } }, { "retry-after": "0" }];
    if (n === 2) throw new TypeError("network down");
    return [201, { message: { ...msg("s1"), client_message_id: body.client_message_id } }];
  });
  const storage = memoryStorage({ "giosg-bridge.visitor-token": "v1.token" });
  const client = new ChatClient({ fetch, storage, WebSocket: null });
  const sent = await client.send("hi", { clientMessageId: "k-1", chatId: "c1" });
  assert.equal(sent.id, "s1");
  assert.equal(calls.length, 3);
  assert.deepEqual(new Set(calls.map((c) => c.body.client_message_id)), new Set(["k-1"]));
  assert.ok(calls.every((c) => c.auth === "Bearer v1.token" && c.url === "/v1/chats/c1/messages"));

  // A refusal is not retried.
  const refused = scripted(() => [409, { error: { code: "chat_ended", message: "ended" } }]);
  const other = new ChatClient({ fetch: refused.fetch, storage, WebSocket: null });
  await assert.rejects(other.send("hi", { chatId: "c1" }), { code: "chat_ended", status: 409 });
  assert.equal(refused.calls.length, 1);
});

test("the feed first; when it drops, polling from the last cursor, then a resubscribe", async () => {
  const polls = [];
  const { fetch } = scripted((method, url) => {
    if (url.includes("?limit=")) return [200, { chat: CHAT, messages: [msg("1")], next_cursor: "h", prev_cursor: "p0" }];
    polls.push(url);
    return [200, { chat: CHAT, messages: [msg("3")], next_cursor: "q" }];
  });
  const { FakeSocket, sockets } = fakeSockets();
  const seen = [];
  const modes = [];
  const client = new ChatClient({
    fetch, WebSocket: FakeSocket, baseUrl: "http://api.test",
    storage: memoryStorage({ "giosg-bridge.visitor-token": "v1.token" }),
    pollInterval: 10_000, reconnectDelay: 20,
    onMessages: (messages, { source }) => seen.push(...messages.map((m) => `${source}:${m.id}`)),
    onMode: (mode) => modes.push(mode),
  });
  client.follow(CHAT);
  await until(() => sockets.length === 1, "a socket");
  assert.equal(sockets[0].url, "ws://api.test/v1/feed");
  assert.deepEqual(sockets[0].protocols, ["bearer", "v1.token"]);
  assert.equal(client.hasOlder, true);
  sockets[0].open();
  await until(() => sockets[0].sent.length === 1, "a subscribe");
  assert.deepEqual(sockets[0].sent[0], { action: "subscribe", chat_id: "c1", after: "h" });
  assert.equal(client.mode, "push");
  sockets[0].frame({ type: "messages", chat_id: "c1", messages: [msg("2")], next_cursor: "n2" });
  assert.equal(client.cursor, "n2");

  sockets[0].drop();
  assert.equal(client.mode, "poll");
  await until(() => polls.length === 1, "a poll");
  assert.ok(polls[0].endsWith("/messages?after=n2&limit=100"), polls[0]);
  await until(() => sockets.length === 2, "a reconnect");
  sockets[1].open();
  await until(() => sockets[1].sent.length === 1, "a resubscribe");
  assert.deepEqual(sockets[1].sent[0], { action: "subscribe", chat_id: "c1", after: "q" });
  assert.equal(client.mode, "push");
  assert.deepEqual(seen, ["history:1", "push:2", "poll:3"]);
  assert.deepEqual(modes, ["connecting", "push", "poll", "push"]);
  client.stop();
  assert.equal(client.mode, "stopped");
});

test("a socket that cannot open leaves the client polling, retrying the socket with backoff", async () => {
  let pollCount = 0;
  const { fetch } = scripted((method, url) => {
    if (url.includes("?limit=50")) return [200, { chat: CHAT, messages: [], next_cursor: "h", prev_cursor: null }];
    pollCount += 1;
    return [200, { chat: CHAT, messages: [msg(`p${pollCount}`)], next_cursor: `q${pollCount}` }];
  });
  const { FakeSocket, sockets } = fakeSockets();
  const seen = [];
  const client = new ChatClient({
    fetch, WebSocket: FakeSocket, storage: memoryStorage(), baseUrl: "http://api.test",
    pollInterval: 5, reconnectDelay: 10,
    onMessages: (messages) => seen.push(...messages.map((m) => m.id)),
  });
  client.follow(CHAT);
  await until(() => sockets.length === 1, "a socket");
  sockets[0].drop(); // closed before it opened
  assert.equal(client.mode, "poll");
  await until(() => seen.length >= 3, "polled messages");
  await until(() => sockets.length === 2, "a second attempt");
  sockets[1].drop();
  assert.equal(client.hasOlder, false);
  client.stop();
});

test("an unknown token stops the follow and is forgotten; a start then begins as a new visitor", async () => {
  const storage = memoryStorage({ "giosg-bridge.visitor-token": "v1.old", "giosg-bridge.chat-id": "c1" });
  const { fetch, calls } = scripted((method, url, body, n) => {
    if (method === "GET") return [401, { error: { code: "unauthorized", message: "no" } }];
    if (calls[n - 1].auth) return [401, { error: { code: "unauthorized", message: "no" } }];
    return [201, { chat: { ...CHAT, id: "c2" }, visitor_token: "v1.new" }];
  });
  const errors = [];
  const client = new ChatClient({ fetch, storage, WebSocket: null, onError: (e) => errors.push(e) });
  client.follow(CHAT);
  await until(() => errors.length === 1, "the error");
  assert.equal(errors[0].fatal, true);
  assert.equal(client.mode, "stopped");
  assert.equal(client.token, null);

  storage.setItem("giosg-bridge.visitor-token", "v1.old");
  const { chat, resumed } = await client.startChat("Ada");
  assert.equal(chat.id, "c2");
  assert.equal(resumed, false);
  assert.equal(client.token, "v1.new");
  assert.equal(client.chatId, "c2");
});
