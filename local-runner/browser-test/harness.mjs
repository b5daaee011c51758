// What the browser test and the latency benchmark share: paths, Chromium's flags, and starting
// the local runner on free ports.

import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "..", "..");
export const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(repo, process.env.CARGO_TARGET_DIR)
  : path.join(repo, "target");
export const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Variables the runner reads: cleared so the caller's shell cannot change the run. */
const RUNNER_ENV = [
  "LOCAL_RUNNER_BIND", "LOCAL_RUNNER_PORT", "LOCAL_RUNNER_SIM_PORT", "LOCAL_RUNNER_DATA_FILE",
  "LOCAL_RUNNER_CREATE_TABLE", "DYNAMODB_ENDPOINT", "TABLE_NAME", "GIOSG_BASE_URL", "GIOSG_ORG_ID",
  "GIOSG_ROOM_ID", "GIOSG_API_TOKEN", "WEBHOOK_SECRET", "ALLOW_OFFLINE_CHATS", "ALLOWED_ORIGINS",
  "LOG_FORMAT", "ADMIN_TOKEN", "IDENTITY_SECRET",
];

/** Starts the runner binary `bin` on free ports (with `extraEnv` on top of a cleared
 * environment); resolves with its URLs once it printed them and `stop()`, which ends it with
 * SIGTERM and saves its log (stderr) to `logPath`. */
export function startRunner(bin, logPath, rustLog = "info", extraEnv = {}) {
  const env = { ...process.env, RUST_LOG: rustLog };
  for (const name of RUNNER_ENV) delete env[name];
  Object.assign(env, extraEnv);
  const child = spawn(bin, ["--port", "0", "--sim-port", "0"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (chunk) => { log += chunk; });
  const saveLog = () => writeFileSync(logPath, log);
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { saveLog(); resolve(); return; }
    child.once("exit", () => { saveLog(); resolve(); });
    child.kill("SIGTERM");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the runner printed no listening line in 60 s; log:\n${log}`));
    }, 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin} (build it with cargo build -p local-runner): ${error.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the runner exited with ${code} before listening; log:\n${log}`));
    });
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.startsWith("listening ")) return;
      clearTimeout(timer);
      const field = (name) => line.split(" ").find((part) => part.startsWith(`${name}=`)).slice(name.length + 1);
      resolve({ api: field("api"), sim: field("sim"), stop });
    });
  });
}
