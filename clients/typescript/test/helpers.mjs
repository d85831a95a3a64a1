// What the tests share: the servers they run against (from the environment that
// scripts/client-tests sets), tasks in a given state, mail, git repositories and
// child processes that are always killed.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { AgentshareClient } from "@agentshare/sdk";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/client-tests typescript`);
  return value;
}

export const SERVER = required("AGENTSHARE_SERVER");
export const API_KEY = required("AGENTSHARE_API_KEY");
export const OTHER_API_KEY = required("AGENTSHARE_TEST_OTHER_API_KEY");
export const MAIL_DIR = required("AGENTSHARE_TEST_MAIL_DIR");

/** Alice's client, configured as a user would: the key given, the server from AGENTSHARE_SERVER. */
export function client() {
  return new AgentshareClient({ apiKey: API_KEY });
}

/** Bob's client. */
export function otherClient() {
  return new AgentshareClient({ apiKey: OTHER_API_KEY, server: SERVER });
}

/** A signal that aborts after `ms`: every read of a stream in these tests has one. */
export function deadline(ms = 10_000) {
  return AbortSignal.timeout(ms);
}

/** A unique suffix, so that tests sharing a server never see each other's data. */
export function unique() {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** A running task with the given title. */
export async function runningTask(c, title) {
  const task = await c.tasks.create({ title });
  await c.tasks.update(task.task_id, { status: "running" });
  return task.task_id;
}

/** A completed task with one output (and the given artifacts: name → text). */
export async function completedTask(c, title, { output = "All done.", artifacts = {} } = {}) {
  const id = await runningTask(c, title);
  await c.events.append(id, { type: "output", name: "Result", content: output });
  for (const [name, text] of Object.entries(artifacts)) await c.artifacts.upload(id, name, text);
  await c.tasks.update(id, { status: "completed" });
  return id;
}

/** Calls `check` until it answers something truthy, at most `timeoutMs`. */
export async function waitFor(what, check, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((tick) => setTimeout(tick, 50));
  }
}

/**
 * The newest mail to `to` in the server's mail directory, as text (quoted-printable
 * decoded), waiting for it: mail goes out after the response.
 */
export async function mailTo(to, timeoutMs = 10_000) {
  return waitFor(`a mail to ${to}`, () => {
    const files = existsSync(MAIL_DIR) ? readdirSync(MAIL_DIR).filter((f) => f.endsWith(".eml")).sort().reverse() : [];
    for (const file of files) {
      const raw = readFileSync(join(MAIL_DIR, file), "utf8");
      if (raw.includes(`To: ${to}`)) {
        return /Content-Transfer-Encoding:\s*quoted-printable/i.test(raw)
          ? raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
          : raw;
      }
    }
    return null;
  }, timeoutMs);
}

/** Runs `git` in `cwd` (a deadline of 30 s). */
export function git(cwd, ...args) {
  return execFileSync("git", args, {
    cwd,
    timeout: 30_000,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    },
  }).toString().trim();
}

/**
 * A bare repository `name` in the server's repositories directory whose `main` has
 * one commit and whose `feature` branch adds `file` with `content`, granted to alice.
 */
export function repositoryWithFeature(name, file, content) {
  const repositories = required("AGENTSHARE_TEST_REPOSITORIES");
  const bare = join(repositories, name);
  git(repositories, "init", "--bare", "-b", "main", name);
  const work = mkdtempSync(join(tmpdir(), "agentshare-ts-work-"));
  git(work, "clone", bare, ".");
  git(work, "checkout", "-b", "main");
  git(work, "commit", "--allow-empty", "-m", "start");
  git(work, "push", "origin", "main");
  git(work, "checkout", "-b", "feature");
  execFileSync("sh", ["-c", 'printf "%s" "$1" > "$2"', "sh", content, join(work, file)], { timeout: 10_000 });
  git(work, "add", file);
  git(work, "commit", "-m", `Add ${file}`);
  git(work, "push", "origin", "feature");
  execFileSync(required("AGENTSHARE_BIN"), [
    "repositories", "grant", "--owner", "alice", name,
    "--repositories-dir", repositories, "--database-url", required("AGENTSHARE_TEST_DATABASE_URL"),
  ], { timeout: 30_000, stdio: ["ignore", "pipe", "pipe"] });
  return { bare, work };
}

const children = new Set();
function killAll() {
  for (const child of children) child.kill("SIGKILL");
}
process.once("exit", killAll);
after(killAll);

/**
 * Runs `node file` as a separate process with `env`; answers its exit code, stdout
 * and stderr. It is killed after `timeoutMs` (and then this fails), and whenever
 * the test process ends first.
 */
export function runNode(file, { env, cwd, timeoutMs = 30_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`node ${file} did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

