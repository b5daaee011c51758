// Benchmark (not a test): how long an agent's reply takes to show on the visitor page, pushed
// over the real-time feed and polled, and whether a busy chat whose WebSocket keeps dropping
// still shows every reply exactly once.
//
//   cargo build --release -p local-runner          (or a debug build: it takes the release one
//   (cd local-runner/browser-test && npm ci)        when there is one, else the debug one)
//   node local-runner/browser-test/latency.mjs [--replies 100] [--drops 1000] [--runs push,poll,chaos]
//
// Each run starts the local runner on free ports (like the browser test), opens the visitor page
// in headless Chromium and starts a chat.
// - push, poll: the agent posts `--replies` replies through the simulator's control API
//   (POST {sim}/_sim/chats/{chat}/messages), one at a time, each after a random pause of
//   0-1.5 s (so replies land anywhere in the poll cycle). Latency = from just before the POST
//   (this process's clock) to the reply's bubble being inserted in the page (a MutationObserver,
//   the page's clock; both are the machine's clock). push: the page as served; poll: `?feed=off`,
//   the page's default poll interval (1.5 s).
// - chaos: the agent posts replies continuously (a random pause of 50-150 ms) while the page's
//   socket is closed from page code `--drops` times, each at a random moment 0-400 ms after it
//   opened (the page reconnects after 25-50 ms: `?reconnect_ms=50`). Then it counts each reply's
//   bubbles: missed (none), duplicated (more than one), out of order; and how often a message
//   reached the page twice over the feed or the polls (merged by id, so never shown twice).
// Results: target/bench/latency.json and a table on stdout. LOCAL_RUNNER_BIN, CHROMIUM_PATH
// override the binary and the browser.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

import { CHROMIUM_ARGS, chromiumPath, startRunner, targetDir } from "./harness.mjs";

const { values: args } = parseArgs({
  options: {
    replies: { type: "string", default: "100" },
    drops: { type: "string", default: "1000" },
    runs: { type: "string", default: "push,poll,chaos" },
  },
});
const REPLIES = Number(args.replies);
const DROPS = Number(args.drops);
const release = path.join(targetDir, "release", "local-runner");
const runnerBin = process.env.LOCAL_RUNNER_BIN
  || (existsSync(release) ? release : path.join(targetDir, "debug", "local-runner"));
const outDir = path.join(targetDir, "bench");
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Installed in the page before its scripts: when each reply's bubble first appeared, every
 * WebSocket the page opens (so page code can close it), and each message id the page received
 * over the feed or a poll. */
function pageProbe() {
  window.__shown = {};
  window.__received = {};
  window.__sockets = [];
  const count = (messages) => {
    for (const message of messages || []) window.__received[message.id] = (window.__received[message.id] || 0) + 1;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
      this.addEventListener("message", (event) => {
        try { count(JSON.parse(event.data).messages); } catch { /* not JSON */ }
      });
    }
  };
  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (url, init) => {
    const response = await nativeFetch(url, init);
    if (String(url).includes("/messages?after=")) response.clone().json().then((data) => count(data.messages), () => {});
    return response;
  };
  new MutationObserver((records) => {
    const at = performance.timeOrigin + performance.now();
    for (const record of records) {
      for (const node of record.addedNodes) {
        const key = node.nodeType === 1 && node.matches(".bubble.theirs") && /\[((?:push|poll|chaos)-\d+)\]/.exec(node.textContent);
        if (key && !(key[1] in window.__shown)) window.__shown[key[1]] = at;
      }
    }
  }).observe(document, { childList: true, subtree: true });
}

let chromiumVersion = null;

async function openVisitor(runner, query) {
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
  chromiumVersion = browser.version();
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.setDefaultTimeout(30_000);
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.addInitScript(pageProbe);
  await page.goto(`${runner.api}/${query}`);
  await page.getByLabel("Your name").fill("Bench");
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.getByRole("heading", { name: "Chatting as Bench" }).waitFor();
  const chatId = await page.evaluate(() => localStorage.getItem("giosg-bridge.chat-id"));
  const close = () => browser.close();
  return { page, chatId, errors, close };
}

async function reply(runner, chatId, text) {
  const response = await fetch(`${runner.sim}/_sim/chats/${chatId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ agent_name: "Smith", text }),
  });
  if (!response.ok) throw new Error(`the simulator refused a reply: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

/** p in 0..100, nearest rank. */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (ms) => Math.round(ms * 10) / 10;
  return {
    n: sorted.length,
    p50_ms: round(percentile(sorted, 50)),
    p90_ms: round(percentile(sorted, 90)),
    p99_ms: round(percentile(sorted, 99)),
    min_ms: round(sorted[0]),
    max_ms: round(sorted[sorted.length - 1]),
    mean_ms: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

async function latencyRun(mode) {
  const runner = await startRunner(runnerBin, path.join(outDir, `runner-${mode}.log`), "warn");
  const visitor = await openVisitor(runner, mode === "poll" ? "?feed=off" : "");
  try {
    await visitor.page.locator(`#feed-status[data-mode="${mode}"]`).waitFor();
    await reply(runner, visitor.chatId, "warm-up"); // the agent joins with it
    await visitor.page.locator("#messages .bubble.theirs", { hasText: "warm-up" }).waitFor();
    const samples = [];
    for (let i = 0; i < REPLIES; i += 1) {
      await sleep(Math.random() * 1500);
      const key = `${mode}-${i}`;
      const sent = now();
      await reply(runner, visitor.chatId, `Reply [${key}]`);
      await visitor.page.waitForFunction((k) => k in window.__shown, key, { timeout: 30_000, polling: 20 });
      samples.push((await visitor.page.evaluate((k) => window.__shown[k], key)) - sent);
    }
    const stillMode = await visitor.page.locator("#feed-status").getAttribute("data-mode");
    if (stillMode !== mode) throw new Error(`the page left ${mode} mode: ${stillMode}`);
    return { ...summary(samples), page_errors: visitor.errors, samples_ms: samples.map((ms) => Math.round(ms)) };
  } finally {
    await visitor.close();
    await runner.stop();
  }
}

/** In the page: closes its open WebSocket `drops` times, each 0-400 ms after it opened. */
async function dropSockets(drops) {
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  let done = 0;
  window.__drops = 0;
  while (done < drops) {
    const socket = window.__sockets[window.__sockets.length - 1];
    if (!socket || socket.readyState !== WebSocket.OPEN) { await pause(2); continue; }
    await pause(Math.random() * 400);
    if (socket.readyState !== WebSocket.OPEN) continue;
    socket.close();
    done += 1;
    window.__drops = done;
  }
  return { drops: done, sockets: window.__sockets.length };
}

async function chaosRun() {
  const runner = await startRunner(runnerBin, path.join(outDir, "runner-chaos.log"), "warn");
  const visitor = await openVisitor(runner, "?reconnect_ms=50");
  const { page } = visitor;
  try {
    await page.locator('#feed-status[data-mode="push"]').waitFor();
    let polls = 0;
    page.on("request", (request) => { if (request.url().includes("/messages?after=")) polls += 1; });
    const started = now();
    const dropping = page.evaluate(dropSockets, DROPS);
    let stop = false;
    let posted = 0;
    dropping.finally(() => { stop = true; });
    while (!stop) {
      await reply(runner, visitor.chatId, `Reply [chaos-${posted}]`);
      posted += 1;
      await sleep(50 + Math.random() * 100);
      if (posted % 500 === 0) {
        const done = await page.evaluate(() => window.__drops).catch(() => "?");
        process.stderr.write(`  chaos: ${posted} replies, ${done} drops, ${Math.round((now() - started) / 1000)} s\n`);
      }
    }
    const drops = await dropping;
    const busySeconds = (now() - started) / 1000;
    // Settle: every posted reply on the page, or 30 s.
    await page.waitForFunction((n) => Object.keys(window.__shown).length >= n, posted, { timeout: 30_000, polling: 100 })
      .catch(() => {});
    const seen = await page.evaluate(() => {
      const keys = Array.from(document.querySelectorAll("#messages .bubble.theirs"), (node) => {
        const key = /\[chaos-(\d+)\]/.exec(node.textContent);
        return key ? Number(key[1]) : null;
      }).filter((key) => key !== null);
      const redundant = Object.values(window.__received).filter((n) => n > 1).length;
      return { keys, redundant, mode: document.getElementById("feed-status").dataset.mode };
    });
    const counts = new Map();
    for (const key of seen.keys) counts.set(key, (counts.get(key) || 0) + 1);
    let missed = 0;
    for (let i = 0; i < posted; i += 1) if (!counts.has(i)) missed += 1;
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    let outOfOrder = 0;
    for (let i = 1; i < seen.keys.length; i += 1) if (seen.keys[i] < seen.keys[i - 1]) outOfOrder += 1;
    return {
      replies: posted,
      drops: drops.drops,
      sockets_opened: drops.sockets,
      polls,
      busy_seconds: Math.round(busySeconds),
      missed,
      duplicated,
      out_of_order: outOfOrder,
      received_more_than_once: seen.redundant,
      mode_at_end: seen.mode,
      page_errors: visitor.errors,
    };
  } finally {
    await visitor.close();
    await runner.stop();
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, cpu: cpus[0] && cpus[0].model, node: process.version, chromium: chromiumVersion,
    runner: path.relative(targetDir, runnerBin),
  };
}

mkdirSync(outDir, { recursive: true });
const results = { date: new Date().toISOString(), machine: null, replies: REPLIES };
const runs = args.runs.split(",");
const file = path.join(outDir, "latency.json");
for (const run of runs) {
  process.stderr.write(`running ${run}...\n`);
  results[run] = run === "chaos" ? await chaosRun() : await latencyRun(run);
  results.machine = machine();
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

console.log(`\n${results.date}, ${results.machine.cpus} × ${results.machine.cpu}, runner ${results.machine.runner}\n`);
const latency = runs.filter((run) => run !== "chaos");
if (latency.length) {
  console.log("| reply → shown | n | p50 ms | p90 ms | p99 ms | min ms | max ms |");
  console.log("|---|---|---|---|---|---|---|");
  for (const run of latency) {
    const r = results[run];
    console.log(`| ${run} | ${r.n} | ${r.p50_ms} | ${r.p90_ms} | ${r.p99_ms} | ${r.min_ms} | ${r.max_ms} |`);
  }
}
if (results.chaos) {
  const c = results.chaos;
  console.log("\n| chaos | replies | drops | sockets | polls | seconds | missed | duplicated | out of order | received twice |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  console.log(`| | ${c.replies} | ${c.drops} | ${c.sockets_opened} | ${c.polls} | ${c.busy_seconds} | ${c.missed} | ${c.duplicated} | ${c.out_of_order} | ${c.received_more_than_once} |`);
}
console.log(`\n${path.relative(process.cwd(), file)}`);
