// The visitor page's "signed in as" demo (local runner with IDENTITY_SECRET): two browsers
// signed in as one user id reach the same chat, each with its own visitor token, and see each
// other's messages.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";

import { CHROMIUM_ARGS, chromiumPath, startRunner, targetDir } from "./harness.mjs";

const runnerBin = process.env.LOCAL_RUNNER_BIN || path.join(targetDir, "debug", "local-runner");
const outDir = process.env.BROWSER_TEST_OUT || path.join(targetDir, "browser-test");

async function browserFor(t) {
  const userDataDir = mkdtempSync(path.join(tmpdir(), "local-runner-chromium-"));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 760 },
  });
  t.after(async () => {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });
  browser.setDefaultTimeout(15_000);
  return browser;
}

/** Opens the page in `browser`, signs in as `userId` and starts (or resumes) the chat. */
async function signIn(browser, api, userId, name) {
  const page = browser.pages()[0] || await browser.newPage();
  await page.goto(`${api}/`);
  await page.getByLabel(/Signed in as/).fill(userId);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.getByText(`Signed in as ${userId}`).waitFor();
  return page;
}

test("two browsers signed in as one user share the chat", { timeout: 120_000 }, async (t) => {
  mkdirSync(outDir, { recursive: true });
  const runner = await startRunner(runnerBin, path.join(outDir, "runner-signed-in.log"), "info", {
    IDENTITY_SECRET: "an-identity-secret-for-the-browser-test-0123456789",
  });
  t.after(() => runner.stop());

  const phone = await signIn(await browserFor(t), runner.api, "customer-7", "Ada");
  await phone.getByLabel("Your message").fill("Sent from the phone");
  await phone.getByRole("button", { name: "Send" }).click();
  await phone.locator("#messages .bubble", { hasText: "Sent from the phone" }).waitFor();

  const laptop = await signIn(await browserFor(t), runner.api, "customer-7", "Ada");
  await laptop.locator("#messages .bubble", { hasText: "Sent from the phone" }).waitFor();
  const tokens = await Promise.all([phone, laptop].map((page) =>
    page.evaluate(() => Object.entries(localStorage).find(([key]) => key.includes("visitor-token"))?.[1])));
  assert.ok(tokens[0] && tokens[1], "each browser keeps a visitor token");
  assert.notEqual(tokens[0], tokens[1], "each browser has its own visitor token");
  await laptop.screenshot({ path: path.join(outDir, "signed-in.png") });
});
