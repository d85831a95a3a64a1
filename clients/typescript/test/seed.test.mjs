// Seed 001's TypeScript example, run as its own process exactly as written but for
// its import line and its task id.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after } from "node:test";
import { AgentshareClient } from "@agentshare/sdk";
import { API_KEY, SERVER, completedTask, runNode } from "./helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = resolve(here, "..");
const SEED_IMPORT = "import { AgentrixClient } from '@agentrix/sdk';";
const SEED_TASK = "'task_1234567890abcdef'";

function seedServer() {
  const server = process.env.AGENTSHARE_TEST_SEED_SERVER;
  const key = process.env.AGENTSHARE_TEST_SEED_API_KEY;
  if (!server || !key) throw new Error("AGENTSHARE_TEST_SEED_SERVER and AGENTSHARE_TEST_SEED_API_KEY are not set: run through scripts/client-tests");
  return { server, key };
}

/** The example in a directory of its own where `@agentshare/sdk` resolves to this package, as after `npm install`. */
function writeExample(taskId) {
  const seed = readFileSync(join(here, "fixtures", "seed-001-example.ts"), "utf8");
  assert.equal(seed.split(SEED_IMPORT).length, 2, "the seed imports its client once");
  assert.equal(seed.split(SEED_TASK).length, 2, "the seed names its task once");
  const script = seed
    .replace(SEED_IMPORT, "import { AgentrixClient } from '@agentshare/sdk';")
    .replace(SEED_TASK, `'${taskId}'`);
  const dir = mkdtempSync(join(tmpdir(), "agentshare-ts-seed-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "node_modules", "@agentshare"), { recursive: true });
  symlinkSync(packageRoot, join(dir, "node_modules", "@agentshare", "sdk"), "dir");
  const file = join(dir, "create-share-link.mjs");
  writeFileSync(file, script);
  return { dir, file };
}

/** The environment of the example: its own key variable and the server; no other agentshare settings. */
function exampleEnv(server, key) {
  const env = { ...process.env, AGENTRIX_API_KEY: key, AGENTSHARE_SERVER: server };
  delete env.AGENTSHARE_API_KEY;
  return env;
}

test("the seed's example creates its link on a server whose clock is at the seed's date", async () => {
  const { server, key } = seedServer();
  const owner = new AgentshareClient({ apiKey: key, server });
  const taskId = await completedTask(owner, "Login bug fix");
  const { dir, file } = writeExample(taskId);

  const run = await runNode(file, { cwd: dir, env: exampleEnv(server, key) });
  assert.equal(run.stderr, "");
  assert.equal(run.code, 0);
  const lines = run.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 3, run.stdout);
  const url = lines[0].match(/^Share link created: (http\S+\/s\/[A-Za-z0-9_-]{43})$/)?.[1];
  const shortUrl = lines[1].match(/^Short URL: (http\S+\/s\/[A-Za-z0-9]{8})$/)?.[1];
  const id = lines[2].match(/^Share link ID: (share_[0-9a-f]{16})$/)?.[1];
  assert.ok(url && shortUrl && id, run.stdout);

  // The link exists with the seed's fields.
  const link = await owner.shareLinks.get(id);
  assert.equal(link.url, url);
  assert.equal(link.short_url, shortUrl);
  assert.equal(link.task_id, taskId);
  assert.equal(link.title, "Login Bug Fix Results");
  assert.equal(link.description, "Results from fixing the authentication issue");
  assert.equal(Date.parse(link.expires_at), Date.parse("2024-02-15T23:59:59Z"));
  assert.equal(link.password_protected, true);
  assert.deepEqual(link.permissions, { allow_download: true, allow_comments: false, show_metadata: true });
  assert.equal(link.max_views, 100);
  assert.equal(link.notify_on_view, true);
  assert.equal(link.status, "active");
  // …and opens with the seed's password.
  await assert.rejects(owner.linkViewer.open(url), { code: "PASSWORD_REQUIRED" });
  const view = await owner.linkViewer.open(url, { password: "securepass123" });
  assert.equal(view.title, "Login Bug Fix Results");
  assert.equal(view.views_remaining, 99);
});

test("on today's server the seed's example prints the server's refusal of its past expiry", async () => {
  const owner = new AgentshareClient({ apiKey: API_KEY, server: SERVER });
  const taskId = await completedTask(owner, "Login bug fix");
  const { dir, file } = writeExample(taskId);

  const run = await runNode(file, { cwd: dir, env: exampleEnv(SERVER, API_KEY) });
  assert.equal(run.stdout, "");
  assert.equal(run.stderr, "Error creating share link: Invalid request parameters: expires_at must be in the future\n");
  assert.equal(run.code, 0);
  assert.deepEqual((await owner.shareLinks.list({ task_id: taskId })).share_links, [], "nothing was created");
});
