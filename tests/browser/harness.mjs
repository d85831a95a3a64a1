// Test harness: a real `agentshare serve` on a random port with a fresh SQLite
// database in a temporary directory, an owner with an API key, and Chromium
// (Debian's `chromium`, driven by playwright-core).

import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { before, after } from "node:test";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "../..");

/**
 * The agentshare binary: $AGENTSHARE_BIN (scripts/browser-tests sets it to the one
 * cargo built), or the debug build in $CARGO_TARGET_DIR (default `target`).
 */
export const BIN = process.env.AGENTSHARE_BIN ||
  join(resolve(root, process.env.CARGO_TARGET_DIR || "target"), "debug/agentshare");
/** Chromium: $CHROMIUM, or Debian's. */
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Starts a server; `extra` are more `serve` flags. Call `stop()` when done. */
export async function startServer(extra = []) {
  const dir = mkdtempSync(join(tmpdir(), "agentshare-browser-"));
  const database = `sqlite://${dir}/agentshare.db`;
  const mailDir = join(dir, "mail");
  const repositories = join(dir, "repositories");
  mkdirSync(repositories);
  const child = spawn(
    BIN,
    ["serve", "--listen", "127.0.0.1:0", "--database-url", database, "--mail-dir", mailDir,
      "--repositories-dir", repositories, ...extra],
    { cwd: dir, env: { ...process.env, RUST_LOG: "warn" }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const base = await new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    child.once("exit", (code) => fail(new Error(`agentshare serve exited with ${code}`)));
    lines.on("line", (line) => {
      const found = line.match(/^agentshare is serving on (\S+)/);
      if (found) ok(found[1]);
    });
  });
  const key = createKey(database, "alice");
  return {
    base, dir, database, mailDir, repositories, key,
    /** A new API key for another owner. */
    keyFor: (owner) => createKey(database, owner),
    /** Lets `owner` (default alice) use the repository `name`, as the operator does. */
    grant: (name, owner = "alice") => execFileSync(BIN, ["repositories", "grant", "--owner", owner, name,
      "--repositories-dir", repositories, "--database-url", database]),
    api: (path, options = {}) => api(base, "key" in options ? options.key : key, path, options),
    stop: () => new Promise((done) => {
      child.once("exit", () => { rmSync(dir, { recursive: true, force: true }); done(); });
      child.kill("SIGTERM");
    }),
  };
}

function createKey(database, owner) {
  const out = execFileSync(BIN, ["keys", "create", "--owner", owner, "--email", `${owner}@example.com`, "--database-url", database]);
  return out.toString().trim().split("\n").pop();
}

/** Calls the API as `key`; answers `{ status, body }` (the body parsed when JSON). */
async function api(base, key, path, { method = "GET", json, body, headers = {} } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(json !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: json !== undefined ? JSON.stringify(json) : body,
  });
  const text = await response.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, body: parsed };
}

/** Makes a finished task with `outputs` ({name, content}) and `files` ({name, type, content}). */
export async function finishedTask(server, { title = "Fix the login bug", outputs, files = [], machineId } = {}) {
  const created = await server.api("/v1/tasks", {
    method: "POST",
    json: { title, prompt: "PROMPT-NOT-FOR-VIEWERS", agent: "coder 1.0", ...(machineId ? { machine_id: machineId } : {}) },
  });
  const id = created.body.data.task_id;
  await server.api(`/v1/tasks/${id}`, { method: "PATCH", json: { status: "running" } });
  for (const output of outputs ?? [{ name: "Summary", content: "## Fixed\n\nThe session cookie was not renewed.\n\n```js\nrenew(session);\n```" }]) {
    await server.api(`/v1/tasks/${id}/events`, { method: "POST", json: { type: "output", ...output } });
  }
  for (const file of files) {
    await server.api(`/v1/tasks/${id}/artifacts?name=${encodeURIComponent(file.name)}`, {
      method: "POST", body: file.content, headers: { "content-type": file.type },
    });
  }
  await server.api(`/v1/tasks/${id}`, { method: "PATCH", json: { status: "completed" } });
  return id;
}

/** Signs `server`'s owner (alice) in to the console in a new page of `context`. */
export async function signInToConsole(server, context) {
  const page = await context.newPage();
  await page.goto(`${server.base}/console/login`);
  await page.fill("#api-key", server.key);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/console\/tasks$/);
  return page;
}

/** Creates a share link of `taskId` through the API; answers its data. */
export async function shareLink(server, taskId, options = {}) {
  const { status, body } = await server.api("/v1/share-links", { method: "POST", json: { task_id: taskId, ...options } });
  if (status !== 201) throw new Error(`share link: ${status} ${JSON.stringify(body)}`);
  return body.data;
}

/**
 * A server and a browser for the tests of one file: started before them, stopped
 * after. Read `env.server` and `env.browser` inside tests.
 */
export function serverAndBrowser(extra = []) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer(extra);
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/** Launches Chromium headless, as this machine allows. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * A fresh browser context (its own cookies, like another person's browser) whose
 * pages record every dialog, uncaught error and CSP violation: `context.alarms`.
 */
export async function freshContext(browser, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  context.alarms = [];
  await context.exposeBinding("__agentshareAlarm", (_source, what) => context.alarms.push(what));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__agentshareAlarm(`csp: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  context.on("page", (page) => watch(context, page));
  return context;
}

function watch(context, page) {
  page.on("dialog", async (dialog) => {
    // Confirmations of our own forms are expected; any other dialog is an alarm.
    if (dialog.type() === "confirm" && page.__expectConfirm) {
      await dialog.accept();
      return;
    }
    context.alarms.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on("pageerror", (error) => context.alarms.push(`error: ${error.message}`));
}

/**
 * The newest mail to `to` in the server's mail directory, as text (quoted-printable
 * decoded), waiting for it to be written: mail goes out after the response.
 */
export async function mailTo(server, to, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = existsSync(server.mailDir) ? readdirSync(server.mailDir).filter((f) => f.endsWith(".eml")).sort() : [];
    for (const file of files.reverse()) {
      const raw = readFileSync(join(server.mailDir, file), "utf8");
      if (raw.includes(`To: ${to}`)) {
        const quoted = /Content-Transfer-Encoding:\s*quoted-printable/i.test(raw);
        return quoted
          ? raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
          : raw;
      }
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
    await new Promise((tick) => setTimeout(tick, 50));
  }
}

/** Runs `git` in `cwd`. */
export function git(cwd, ...args) {
  return execFileSync("git", args, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
  }).toString().trim();
}

/** Where screenshots go, when asked for ($SCREENSHOTS_DIR), else null. */
export const SCREENSHOTS = process.env.SCREENSHOTS_DIR ? resolve(process.env.SCREENSHOTS_DIR) : null;
