// Browser test of the local runner: a visitor chats on the visitor page, an agent answers from
// the simulator's agent console, both in headless Chromium (Debian's /usr/bin/chromium) driven
// by playwright-core. Screenshots of both pages go to target/browser-test/. The last tests check
// the real-time feed: a reply pushed with polling all but off, polling when the WebSocket is
// blocked, and a dropped socket whose lost push the cursor recovers.
//
// Run from the repository root after `cargo build -p local-runner`:
//   node --test local-runner/browser-test/visitor_and_agent.test.mjs
// LOCAL_RUNNER_BIN, CHROMIUM_PATH and BROWSER_TEST_OUT override the defaults.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { chromium } from "playwright-core";

import { CHROMIUM_ARGS, chromiumPath, startRunner as startHarnessRunner, targetDir } from "./harness.mjs";

const runnerBin = process.env.LOCAL_RUNNER_BIN || path.join(targetDir, "debug", "local-runner");
const outDir = process.env.BROWSER_TEST_OUT || path.join(targetDir, "browser-test");

/** The runner, its log saved as `runner-<name>.log` next to the screenshots. */
const startRunner = (name) => startHarnessRunner(runnerBin, path.join(outDir, `runner-${name}.log`));

test("a visitor chats with an agent who answers from the simulator's agent console", { timeout: 180_000 }, async (t) => {
  mkdirSync(outDir, { recursive: true });
  const runner = await startRunner("chat");
  t.after(() => runner.stop());

  const userDataDir = mkdtempSync(path.join(tmpdir(), "local-runner-chromium-"));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 820 },
  });
  t.after(async () => {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });
  browser.setDefaultTimeout(15_000);
  const pageErrors = [];

  // The visitor: sees that agents are online, gives a name, starts a chat, writes.
  const visitor = browser.pages()[0] || await browser.newPage();
  visitor.on("pageerror", (error) => pageErrors.push(`visitor: ${error.message}`));
  await visitor.goto(`${runner.api}/`);
  await visitor.getByText("Agents are online").waitFor();
  await visitor.screenshot({ path: path.join(outDir, "visitor-start.png"), fullPage: true });
  await visitor.getByLabel("Your name").fill("Ada Lovelace");
  await visitor.getByRole("button", { name: "Start chat" }).click();
  await visitor.getByRole("heading", { name: "Chatting as Ada Lovelace" }).waitFor();
  await visitor.getByLabel("Your message").fill("Hello! Can you help me with my order?");
  await visitor.getByRole("button", { name: "Send", exact: true }).click();
  await visitor.locator("#messages .bubble.mine", { hasText: "Can you help me with my order?" }).waitFor();

  // The agent, in the simulator's console: picks the chat, joins, replies.
  const agent = await browser.newPage();
  agent.on("pageerror", (error) => pageErrors.push(`console: ${error.message}`));
  await agent.goto(`${runner.sim}/_sim/console`);
  await agent.getByRole("heading", { name: "Giosg simulator — agent console (simulation)" }).waitFor();
  await agent.getByRole("button", { name: /Ada Lovelace/ }).click();
  await agent.locator("#transcript li", { hasText: "Can you help me with my order?" }).waitFor();
  await agent.getByRole("button", { name: "Join", exact: true }).click();
  await agent.locator("#transcript li", { hasText: "Smith joined" }).waitFor();
  await agent.getByLabel("Reply as the agent").fill("Hi Ada, Smith here. Of course: what is your order number?");
  await agent.getByRole("button", { name: "Send reply" }).click();
  await agent.locator("#transcript li.agent", { hasText: "Smith here" }).waitFor();
  await agent.locator("#deliveries td.status.ok").first().waitFor();
  assert.equal(await agent.locator("#deliveries td.status.bad").count(), 0, "every webhook delivery succeeded");
  await agent.screenshot({ path: path.join(outDir, "agent-console.png"), fullPage: true });

  // Back to the visitor: the reply shows under the agent's public name.
  await visitor.bringToFront();
  const reply = visitor.locator("#messages .bubble.theirs", { hasText: "Smith here" });
  await reply.waitFor();
  assert.equal((await reply.locator(".who").textContent()).trim(), "Smith");
  await visitor.getByText("Smith joined the chat").waitFor();
  await visitor.screenshot({ path: path.join(outDir, "visitor.png"), fullPage: true });

  // A reload keeps the chat (token and chat id in localStorage), each message once.
  await visitor.reload();
  await visitor.locator("#messages .bubble.theirs", { hasText: "Smith here" }).waitFor();
  assert.equal(await visitor.locator("#messages .bubble.mine").count(), 1);

  // The agent ends the chat; the visitor is told and offered a new one.
  await agent.getByRole("button", { name: "End chat" }).click();
  await visitor.getByText("This chat has ended.").waitFor();
  assert.equal(await visitor.locator("#composer").isVisible(), false);
  await visitor.screenshot({ path: path.join(outDir, "visitor-chat-ended.png"), fullPage: true });
  await visitor.getByRole("button", { name: "Start a new chat" }).click();
  await visitor.getByText(/Waiting for an agent|Chat open/).waitFor();
  assert.equal(await visitor.locator("#messages .bubble").count(), 0, "a new chat starts empty");

  assert.deepEqual(pageErrors, [], "no script errors on either page");
});

test("with no agent online, the visitor page says so and shows the API's refusal", { timeout: 120_000 }, async (t) => {
  mkdirSync(outDir, { recursive: true });
  const runner = await startRunner("offline");
  t.after(() => runner.stop());
  const offline = await fetch(`${runner.sim}/_sim/room`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ online: false }),
  });
  assert.equal(offline.status, 200);

  const userDataDir = mkdtempSync(path.join(tmpdir(), "local-runner-chromium-"));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 640 },
  });
  t.after(async () => {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });
  browser.setDefaultTimeout(15_000);
  const visitor = browser.pages()[0] || await browser.newPage();
  await visitor.goto(`${runner.api}/`);
  await visitor.getByText("No agents online right now").waitFor();
  await visitor.getByLabel("Your name").fill("Grace");
  await visitor.getByRole("button", { name: "Start chat" }).click();
  const error = visitor.getByRole("alert");
  await error.getByText("No agent is online right now").waitFor();
  assert.equal(await visitor.locator("#chat").isVisible(), false);
  await visitor.screenshot({ path: path.join(outDir, "visitor-agents-offline.png"), fullPage: true });
});

// ---------------------------------------------------------------------------------------------
// The real-time feed (static/chat-client.js): push first, polling when the socket is down.

/** A fresh headless Chromium context, closed (and its profile removed) after the test. */
async function openBrowser(t) {
  const userDataDir = mkdtempSync(path.join(tmpdir(), "local-runner-chromium-"));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 700 },
  });
  t.after(async () => {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });
  browser.setDefaultTimeout(15_000);
  return browser;
}

/** Opens the visitor page (with `query`), starts a chat as Ada; resolves with its chat id. The
 * page's polls (`?after=` requests) are counted in `counters.polls`, script errors and CSP
 * violations collected in `counters.problems`. */
async function visitorWithChat(browser, runner, query, counters) {
  const page = browser.pages()[0] || await browser.newPage();
  page.on("pageerror", (error) => counters.problems.push(`script error: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) counters.problems.push(message.text());
  });
  page.on("request", (request) => {
    if (request.url().includes("/messages?after=")) counters.polls += 1;
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  await page.goto(`${runner.api}/${query}`);
  await page.getByLabel("Your name").fill("Ada");
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.getByRole("heading", { name: "Chatting as Ada" }).waitFor();
  const chatId = await page.evaluate(() => localStorage.getItem("giosg-bridge.chat-id"));
  assert.ok(chatId, "the page keeps the chat id");
  return { page, chatId };
}

/** The agent answers through the simulator's control API. */
async function agentReply(runner, chatId, text) {
  const response = await fetch(`${runner.sim}/_sim/chats/${chatId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ agent_name: "Smith", text }),
  });
  assert.ok(response.ok, `the simulator took the reply: ${response.status}`);
}

const feedMode = (page) => page.locator("#feed-status").getAttribute("data-mode");

test("an agent's reply is pushed to the visitor page, with no poll", { timeout: 120_000 }, async (t) => {
  mkdirSync(outDir, { recursive: true });
  const runner = await startRunner("push");
  t.after(() => runner.stop());
  const browser = await openBrowser(t);
  const counters = { polls: 0, problems: [] };
  // Polling every 10 minutes: only the feed can bring the reply in time.
  const { page, chatId } = await visitorWithChat(browser, runner, "?poll_ms=600000", counters);
  await page.locator('#feed-status[data-mode="push"]', { hasText: "Live" }).waitFor();

  const sent = Date.now();
  await agentReply(runner, chatId, "Pushed to you, Ada");
  await page.locator("#messages .bubble.theirs", { hasText: "Pushed to you, Ada" }).waitFor({ timeout: 5_000 });
  t.diagnostic(`reply shown ${Date.now() - sent} ms after it was posted`);
  assert.equal(counters.polls, 0, "no poll: the reply came over the WebSocket");
  assert.equal(await feedMode(page), "push");
  // connect-src 'self' lets the page open its own origin's ws: feed (CSP Level 3).
  assert.deepEqual(counters.problems, [], "no script errors or CSP violations");
  await page.screenshot({ path: path.join(outDir, "visitor-live.png"), fullPage: true });

  // A longer chat after a reload: the newest 50 messages, then the older ones on demand, in order.
  for (let i = 1; i <= 55; i += 1) await agentReply(runner, chatId, `Line ${i}`);
  await page.locator("#messages .bubble.theirs", { hasText: "Line 55" }).waitFor();
  await page.reload();
  await page.locator("#messages .bubble.theirs", { hasText: "Line 55" }).waitFor();
  const shown = () => page.locator("#messages .bubble.theirs").count();
  assert.equal(await shown(), 50, "the newest page: 50 messages");
  await page.getByRole("button", { name: "Show earlier messages" }).click();
  await page.locator("#messages .bubble.theirs", { hasText: "Pushed to you, Ada" }).waitFor();
  assert.equal(await shown(), 56);
  assert.equal(await page.getByRole("button", { name: "Show earlier messages" }).count(), 0);
  const texts = await page.locator("#messages .bubble.theirs").evaluateAll((nodes) =>
    nodes.map((node) => node.childNodes[1].textContent));
  assert.deepEqual(texts, ["Pushed to you, Ada", ...Array.from({ length: 55 }, (_, i) => `Line ${i + 1}`)]);
  assert.equal(await feedMode(page), "push");
});

test("with the WebSocket blocked, the page polls and still shows the reply", { timeout: 120_000 }, async (t) => {
  mkdirSync(outDir, { recursive: true });
  const runner = await startRunner("poll");
  t.after(() => runner.stop());
  const browser = await openBrowser(t);
  // Every feed connection is refused the moment it is made.
  await browser.routeWebSocket(/\/v1\/feed/, (ws) => ws.close({ code: 1011, reason: "blocked by the test" }));
  const counters = { polls: 0, problems: [] };
  const { page, chatId } = await visitorWithChat(browser, runner, "", counters);
  await page.locator('#feed-status[data-mode="poll"]', { hasText: "Polling" }).waitFor();

  await agentReply(runner, chatId, "Polled for you, Ada");
  await page.locator("#messages .bubble.theirs", { hasText: "Polled for you, Ada" }).waitFor();
  assert.ok(counters.polls > 0, "the reply came by polling");
  assert.equal(await feedMode(page), "poll");
  assert.deepEqual(counters.problems, []);
});

test("a push lost with a dropped socket comes back from the cursor, then push resumes", { timeout: 120_000 }, async (t) => {
  mkdirSync(outDir, { recursive: true });
  const runner = await startRunner("reconnect");
  t.after(() => runner.stop());
  const browser = await openBrowser(t);
  // The first connection loses what the server sends once `swallow` is set, then drops; the
  // later ones pass through.
  let connections = 0;
  let swallow = false;
  let dropFirst;
  const firstLost = new Promise((resolve) => { dropFirst = resolve; });
  await browser.routeWebSocket(/\/v1\/feed/, (ws) => {
    connections += 1;
    const server = ws.connectToServer();
    if (connections > 1) return;
    server.onMessage((frame) => {
      if (!swallow) ws.send(frame);
      else if (String(frame).includes("Lost on the way")) dropFirst();
    });
    firstLost.then(() => ws.close({ code: 1006 }));
  });
  const counters = { polls: 0, problems: [] };
  const { page, chatId } = await visitorWithChat(browser, runner, "?poll_ms=600000", counters);
  await page.locator('#feed-status[data-mode="push"]').waitFor();

  swallow = true;
  await agentReply(runner, chatId, "Lost on the way");
  await firstLost;
  // The drop: one poll from the last cursor brings the lost reply; the socket comes back.
  await page.locator("#messages .bubble.theirs", { hasText: "Lost on the way" }).waitFor();
  await page.locator('#feed-status[data-mode="push"]').waitFor();
  assert.equal(connections, 2);
  const polls = counters.polls;
  assert.ok(polls >= 1, "the drop was followed by a poll");

  await agentReply(runner, chatId, "Pushed again");
  await page.locator("#messages .bubble.theirs", { hasText: "Pushed again" }).waitFor({ timeout: 5_000 });
  assert.equal(counters.polls, polls, "pushed, not polled");
  for (const text of ["Lost on the way", "Pushed again"]) {
    assert.equal(await page.locator("#messages .bubble.theirs", { hasText: text }).count(), 1, text);
  }
  assert.deepEqual(counters.problems, []);
});
