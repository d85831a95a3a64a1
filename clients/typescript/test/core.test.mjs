// Tasks, events, artifacts, messages, health and the errors the client raises.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { AgentshareClient, AgentshareError } from "@agentshare/sdk";
import { client, otherClient, runningTask, SERVER, unique } from "./helpers.mjs";

const c = client();

test("the server comes from AGENTSHARE_SERVER, and health reports the database", async () => {
  assert.equal(c.server, SERVER.replace(/\/+$/, ""));
  assert.deepEqual(await c.health(), { status: "ok", database: "sqlite" });
  assert.deepEqual(await c.ready(), {
    status: "ready", database: "sqlite", reasons: [],
    checks: { database: true, migrations: true, view_writer: true, workers: true },
  });
  const explicit = new AgentshareClient({ apiKey: "unused", server: `${SERVER}/` });
  assert.equal(explicit.server, SERVER.replace(/\/+$/, ""));
  assert.equal((await explicit.health()).status, "ok");
});

test("a task is created, changed, read and listed with filters and pages", async () => {
  const external = `run-${unique()}`;
  const task = await c.tasks.create({
    title: "Fix the login bug",
    prompt: "Users cannot log in",
    agent: "coder 1.0",
    source: "cli",
    external_id: external,
    metadata: { model: "m1" },
  });
  assert.match(task.task_id, /^task_[0-9a-f]{16}$/);
  assert.equal(task.status, "pending");
  assert.equal(task.mode, "cloud");
  assert.deepEqual(task.metadata, { model: "m1" });

  const running = await c.tasks.update(task.task_id, { status: "running" });
  assert.equal(running.status, "running");
  assert.ok(running.started_at);
  assert.equal((await c.tasks.get(task.task_id)).title, "Fix the login bug");

  const found = await c.tasks.list({ source: "cli", external_id: external });
  assert.deepEqual(found.tasks.map((t) => t.task_id), [task.task_id]);

  // Pages of one, followed to the end, give the same tasks as one big page.
  const more = [];
  for (let i = 0; i < 3; i++) more.push((await c.tasks.create({ title: `Page ${i}`, source: "import", external_id: `${external}-${i}` })).task_id);
  const first = await c.tasks.list({ source: "import", limit: 1 });
  assert.equal(first.tasks.length, 1);
  assert.equal(first.has_more, true);
  const second = await c.tasks.list({ source: "import", limit: 1, cursor: first.next_cursor });
  assert.notEqual(second.tasks[0].task_id, first.tasks[0].task_id);
  const all = [];
  for await (const t of c.tasks.listAll({ source: "import", limit: 1 })) all.push(t.task_id);
  const whole = await c.tasks.list({ source: "import", limit: 100 });
  assert.deepEqual(all, whole.tasks.map((t) => t.task_id));
  for (const id of more) assert.ok(all.includes(id));
});

test("errors carry the status, the code, the server's message, the field and the details", async () => {
  await assert.rejects(c.tasks.create({ title: "" }), (error) => {
    assert.ok(error instanceof AgentshareError);
    assert.ok(error instanceof Error);
    assert.equal(error.status, 400);
    assert.equal(error.code, "INVALID_REQUEST");
    assert.equal(error.field, "title");
    assert.equal(error.issue, "Title must not be empty");
    assert.equal(error.message, "Invalid request parameters: Title must not be empty");
    assert.equal(error.details.field, "title");
    return true;
  });

  const id = await runningTask(c, "Transition");
  await c.tasks.update(id, { status: "completed" });
  await assert.rejects(c.tasks.update(id, { status: "running" }), (error) => {
    assert.equal(error.status, 409);
    assert.equal(error.code, "INVALID_STATUS_TRANSITION");
    assert.equal(error.details.status, "completed");
    assert.equal(error.details.requested_status, "running");
    assert.equal(error.field, null);
    return true;
  });

  // Another owner's task is a task that does not exist.
  await assert.rejects(otherClient().tasks.get(id), { status: 404, code: "TASK_NOT_FOUND", message: "Task not found or not accessible" });
  await assert.rejects(new AgentshareClient({ apiKey: "ask_not-a-key" }).tasks.list(), {
    status: 401,
    code: "UNAUTHORIZED",
    message: "Invalid or missing API key",
  });

  const external = `dup-${unique()}`;
  const original = await c.tasks.create({ title: "Once", source: "import", external_id: external });
  await assert.rejects(c.tasks.create({ title: "Twice", source: "import", external_id: external }), (error) => {
    assert.equal(error.status, 409);
    assert.equal(error.code, "TASK_EXISTS");
    assert.ok(JSON.stringify(error.details).includes(original.task_id), JSON.stringify(error.details));
    return true;
  });
});

test("a server that can't be reached is an AgentshareError with status 0", async () => {
  const nowhere = new AgentshareClient({ apiKey: "k", server: "http://127.0.0.1:9" });
  await assert.rejects(nowhere.health(), (error) => {
    assert.ok(error instanceof AgentshareError);
    assert.equal(error.status, 0);
    assert.equal(error.code, "CONNECTION_FAILED");
    assert.match(error.message, /cannot reach http:\/\/127\.0\.0\.1:9/);
    return true;
  });
});

test("events are appended once per key and read in order, by type and by page", async () => {
  const id = await runningTask(c, "Events");
  const progress = await c.events.append(id, { type: "progress", content: "Reproducing the bug", key: "p1" });
  assert.equal(progress.seq, 1);
  const again = await c.events.append(id, { type: "progress", content: "Reproducing the bug", key: "p1" });
  assert.equal(again.seq, 1, "a retried event is stored once");
  await c.events.append(id, { type: "output", name: "Summary", content: "## Fixed" });
  await c.events.append(id, { type: "log", content: "secret log", private: true });
  const message = await c.tasks.sendMessage(id, "Please also fix logout");
  assert.equal(message.type, "message");
  assert.equal(message.author, "owner");

  const all = await c.events.list(id, { after: 0 });
  assert.deepEqual(all.events.map((e) => [e.seq, e.type]), [[1, "progress"], [2, "output"], [3, "log"], [4, "message"]]);
  assert.equal(all.events[2].private, true);
  assert.equal(all.next_after, 4);
  const outputs = await c.events.list(id, { type: "output" });
  assert.deepEqual(outputs.events.map((e) => e.name), ["Summary"]);
  const page = await c.events.list(id, { after: 1, limit: 2 });
  assert.deepEqual(page.events.map((e) => e.seq), [2, 3]);
  assert.equal(page.has_more, true);
  assert.deepEqual((await c.events.list(id, { after: page.next_after })).events.map((e) => e.seq), [4]);
});

test("artifacts upload from a string, bytes and a Blob and download byte for byte", async () => {
  const id = await runningTask(c, "Artifacts");
  const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
  const text = await c.artifacts.upload(id, "notes.md", "# Notes\nünïcode ✓\n");
  assert.equal(text.content_type, "text/plain; charset=utf-8");
  assert.equal(text.size_bytes, new TextEncoder().encode("# Notes\nünïcode ✓\n").length);
  const binary = await c.artifacts.upload(id, "data.bin", bytes);
  assert.equal(binary.content_type, "application/octet-stream");
  assert.equal(binary.sha256, createHash("sha256").update(bytes).digest("hex"));
  const blob = await c.artifacts.upload(id, "report.json", new Blob(['{"ok":true}'], { type: "application/json" }));
  assert.equal(blob.content_type, "application/json");
  const typed = await c.artifacts.upload(id, "page.html", "<p>hi</p>", { contentType: "text/html" });
  assert.equal(typed.content_type, "text/html");

  const listed = await c.artifacts.list(id);
  assert.deepEqual(listed.artifacts.map((a) => a.name).sort(), ["data.bin", "notes.md", "page.html", "report.json"]);
  assert.deepEqual(await c.artifacts.download(id, binary.artifact_id), bytes);
  assert.equal(new TextDecoder().decode(await c.artifacts.download(id, text.artifact_id)), "# Notes\nünïcode ✓\n");

  const stream = await c.artifacts.downloadStream(id, binary.artifact_id, { signal: AbortSignal.timeout(10_000) });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), bytes);

  await assert.rejects(c.artifacts.upload(id, "data.bin", "again"), { status: 409, code: "ARTIFACT_EXISTS" });
  await c.artifacts.delete(id, typed.artifact_id);
  await assert.rejects(c.artifacts.download(id, typed.artifact_id), { status: 404, code: "ARTIFACT_NOT_FOUND" });
  assert.equal((await c.artifacts.list(id)).artifacts.length, 3);
});
