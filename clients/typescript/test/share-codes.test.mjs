// Share codes and viewer sessions: following a task live, messages, pull requests.

import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentshareClient, AgentshareError } from "@agentshare/sdk";
import { API_KEY, client, deadline, otherClient, repositoryWithFeature, runningTask, unique } from "./helpers.mjs";

const c = client();

test("codes are created, read and revoked on both route families, in the share-code API's shapes", async () => {
  const task = await runningTask(c, "Codes");
  const created = await c.shareCodes.create(task, {
    permissions: { canSendMessage: true, canViewPr: true },
    expiresAt: "2030-01-01T00:00:00Z",
  });
  assert.match(created.shareCode, /^[A-Za-z0-9]{24}$/);
  for (const route of ["agentrix", "tasks"]) {
    const info = await c.shareCodes.get(task, { route });
    assert.equal(info.shareCode, created.shareCode);
    assert.equal(info.taskId, task);
    assert.deepEqual(info.permissions, { canSendMessage: true, canCreatePr: false, canApprovePr: false, canViewPr: true, canMergePr: false });
    assert.equal(info.expiresAt, "2030-01-01T00:00:00.000Z");
    assert.equal(info.sessionsIssued, 0);
  }

  // A second code rotates the first.
  const rotated = await c.shareCodes.create(task, {}, { route: "tasks" });
  assert.notEqual(rotated.shareCode, created.shareCode);
  assert.equal((await c.shareCodes.get(task)).shareCode, rotated.shareCode);
  assert.deepEqual((await c.shareCodes.get(task)).permissions.canSendMessage, false);
  await assert.rejects(c.shareCodes.exchange(created.shareCode), {
    status: 401,
    code: "INVALID_SHARE_CODE",
    errorType: "unauthorized",
    message: "Invalid, expired or revoked share code",
  });

  await c.shareCodes.revoke(task, { route: "tasks" });
  await assert.rejects(c.shareCodes.get(task, { route: "tasks" }), { status: 404, code: "SHARE_NOT_FOUND", errorType: "not_found" });
  await c.shareCodes.create(task);
  await c.shareCodes.revoke(task);
  await assert.rejects(c.shareCodes.get(task), { status: 404, code: "SHARE_NOT_FOUND" });

  await assert.rejects(otherClient().shareCodes.create(task), (error) => {
    assert.ok(error instanceof AgentshareError);
    assert.equal(error.status, 403);
    assert.equal(error.code, "FORBIDDEN");
    assert.equal(error.errorType, "forbidden");
    assert.equal(error.message, "Only task owner can create share links");
    return true;
  });
  await assert.rejects(c.shareCodes.create(task, { permissions: { canSendMessage: "yes" } }), {
    status: 400,
    code: "INVALID_REQUEST",
    errorType: "validation_error",
  });
  const local = await c.tasks.create({ title: "Local", machine_id: "laptop" });
  await assert.rejects(c.shareCodes.create(local.task_id), { status: 409, code: "TASK_NOT_IN_CLOUD_MODE", errorType: "conflict" });
});

test("each route family is the one called", async () => {
  const task = await runningTask(c, "Routes");
  const paths = [];
  const recording = new AgentshareClient({
    apiKey: API_KEY,
    fetch: (url, init) => {
      paths.push(`${init.method} ${new URL(url).pathname}`);
      return fetch(url, init);
    },
  });
  await recording.shareCodes.create(task);
  await recording.shareCodes.get(task);
  await recording.shareCodes.revoke(task);
  await recording.shareCodes.create(task, {}, { route: "tasks" });
  await recording.shareCodes.get(task, { route: "tasks" });
  await recording.shareCodes.revoke(task, { route: "tasks" });
  assert.deepEqual(paths, [
    `POST /v1/agentrix/tasks/${task}/share`,
    `GET /v1/agentrix/tasks/${task}/share`,
    `DELETE /v1/agentrix/tasks/${task}/share`,
    `POST /v1/tasks/${task}/share`,
    `GET /v1/tasks/${task}/share`,
    `DELETE /v1/tasks/${task}/share`,
  ]);
});

test("a viewer session follows the task live, sends a message, and the stream ends when the task does", async () => {
  const task = await runningTask(c, "Nightly upgrade");
  await c.events.append(task, { type: "progress", content: "Reading the lock file" });
  await c.events.append(task, { type: "log", content: "owner only", private: true });
  await c.artifacts.upload(task, "lock.txt", "locked");
  const { shareCode } = await c.shareCodes.create(task, { permissions: { canSendMessage: true } });

  const session = await c.shareCodes.exchange(shareCode);
  assert.equal(session.taskId, task);
  assert.equal(session.tokenType, "Bearer");
  assert.match(session.token, /^vst_/);
  assert.equal(session.permissions.canSendMessage, true);
  assert.equal(session.permissions.canMergePr, false);
  assert.ok(Date.parse(session.expiresAt) > Date.now());

  const seen = await session.getTask();
  assert.equal(seen.title, "Nightly upgrade");
  assert.equal(seen.owner_id ?? null, null, "no owner data");
  const events = await session.listEvents({ after: 0 });
  assert.deepEqual(events.events.map((e) => e.content), ["Reading the lock file"], "private events are not shared");
  const files = await session.listArtifacts();
  assert.deepEqual(files.artifacts.map((a) => a.name), ["lock.txt"]);
  assert.equal(new TextDecoder().decode(await session.downloadArtifact(files.artifacts[0].artifact_id)), "locked");
  const fileStream = await session.downloadArtifactStream(files.artifacts[0].artifact_id, { signal: deadline() });
  assert.equal(await new Response(fileStream).text(), "locked");

  const received = [];
  const signal = deadline(15_000);
  const stream = session.streamEvents({ signal });
  // The first message is what was there already; then new events arrive as they are appended.
  let appended = false;
  for await (const message of stream) {
    received.push(message);
    if (message.event === "progress" && message.data.content === "Reading the lock file" && !appended) {
      appended = true;
      await c.events.append(task, { type: "output", name: "Result", content: "Upgraded **12** packages" });
    } else if (message.event === "output") {
      const sent = await session.sendMessage("Please keep React at 18");
      assert.equal(sent.author, "viewer");
    } else if (message.event === "message") {
      await c.tasks.update(task, { status: "completed" });
    }
  }
  assert.deepEqual(
    received.map((m) => [m.event, m.id, m.event === "end" ? m.data : m.data.content]),
    [
      ["progress", "1", "Reading the lock file"],
      ["output", "3", "Upgraded **12** packages"],
      ["message", "4", "Please keep React at 18"],
      // An SSE message without an id keeps the last one.
      ["end", "4", {}],
    ],
  );
  assert.equal(received[1].data.name, "Result");
  assert.equal(received[2].data.author, "viewer");

  // Resuming after an id sends only what came later.
  const resumed = [];
  for await (const message of session.streamEvents({ lastEventId: "3", signal: deadline() })) resumed.push(message.event);
  assert.deepEqual(resumed, ["message", "end"]);
  const after = [];
  for await (const message of session.streamEvents({ after: 1, signal: deadline() })) after.push(message.event);
  assert.deepEqual(after, ["output", "message", "end"]);
  assert.equal((await c.shareCodes.get(task)).sessionsIssued, 1);
});

test("the stream says when the code is revoked, and the session stops working", async () => {
  const task = await runningTask(c, "Revoked while watched");
  await c.events.append(task, { type: "progress", content: "Working" });
  const { shareCode } = await c.shareCodes.create(task);
  const session = await c.shareCodes.exchange(shareCode);
  const received = [];
  for await (const message of session.streamEvents({ signal: deadline() })) {
    received.push(message.event);
    if (message.event === "progress") await c.shareCodes.revoke(task);
  }
  assert.deepEqual(received, ["progress", "revoked"]);
  await assert.rejects(session.getTask(), { status: 401 });
});

test("leaving the loop closes the stream, and a stream that outlives its deadline fails instead of hanging", async () => {
  const task = await runningTask(c, "Quiet");
  await c.events.append(task, { type: "progress", content: "One" });
  // More loops than the server allows open streams per client: each must have been closed.
  for (let i = 0; i < 10; i++) {
    for await (const message of c.events.stream(task, { signal: deadline() })) {
      assert.equal(message.data.content, "One");
      break;
    }
  }
  const started = Date.now();
  await assert.rejects(
    (async () => {
      for await (const _ of c.events.stream(task, { after: 1, signal: AbortSignal.timeout(300) })) {
        // nothing arrives on a quiet task
      }
    })(),
    (error) => error.name === "TimeoutError",
  );
  assert.ok(Date.now() - started < 5_000);
});

test("a session acts only as far as its code allows", async () => {
  const task = await runningTask(c, "Read only");
  const { shareCode } = await c.shareCodes.create(task, { permissions: { canSendMessage: false } });
  const session = await c.shareCodes.exchange(shareCode);
  await assert.rejects(session.sendMessage("hello"), (error) => {
    assert.equal(error.status, 403);
    assert.equal(error.code, "FORBIDDEN");
    assert.equal(error.details.permission, "canSendMessage");
    return true;
  });
  await assert.rejects(session.createPullRequest({ title: "x", head_branch: "y" }), { status: 403, code: "FORBIDDEN" });
  // A session reaches its one task and nothing else.
  const other = await runningTask(c, "Not shared");
  const kept = c.shareCodes.session(session.token, other);
  await assert.rejects(kept.getTask(), { status: 404, code: "TASK_NOT_FOUND" });
  const same = c.shareCodes.session(session.token, task);
  assert.equal((await same.getTask()).task_id, task);
});

test("pull requests: a viewer creates, views, approves and merges as allowed; the owner can do everything", async () => {
  const name = `acme-${unique()}.git`;
  repositoryWithFeature(name, "login.js", "export const secure = true;\n");
  const task = await runningTask(c, "Fix login");
  const linked = await c.tasks.update(task, { repository: name, base_branch: "main", require_pr_approval: true });
  assert.equal(linked.repository, name);

  const { shareCode } = await c.shareCodes.create(task, {
    permissions: { canCreatePr: true, canViewPr: true, canApprovePr: true, canMergePr: false },
  });
  const session = await c.shareCodes.exchange(shareCode);
  const opened = await session.createPullRequest({ title: "Secure cookie", head_branch: "feature", description: "Makes it secure" });
  assert.equal(opened.number, 1);
  assert.equal(opened.status, "open");
  assert.equal(opened.base_branch, "main");
  await assert.rejects(session.createPullRequest({ title: "Again", head_branch: "feature" }), { status: 409, code: "PULL_REQUEST_EXISTS" });
  await assert.rejects(session.createPullRequest({ title: "Nope", head_branch: "missing" }), { status: 409, code: "BRANCH_NOT_FOUND" });

  assert.deepEqual((await session.listPullRequests()).pull_requests.map((pr) => pr.title), ["Secure cookie"]);
  const detail = await session.getPullRequest(1);
  assert.deepEqual(detail.diff.files.map((f) => [f.path, f.status, f.insertions]), [["login.js", "added", 1]]);
  assert.match(detail.diff.patch, /\+export const secure = true;/);

  await assert.rejects(c.pullRequests.merge(task, 1), { status: 409, code: "APPROVAL_REQUIRED" });
  await assert.rejects(session.mergePullRequest(1), { status: 403, code: "FORBIDDEN" });
  const approved = await session.approvePullRequest(1);
  assert.equal(approved.approvals, 1);

  const merged = await c.pullRequests.merge(task, 1);
  assert.equal(merged.status, "merged");
  assert.match(merged.merge_commit, /^[0-9a-f]{40}$/);
  assert.equal((await c.pullRequests.get(task, 1)).status, "merged");
  assert.equal((await c.pullRequests.list(task)).pull_requests.length, 1);
  await assert.rejects(c.pullRequests.approve(task, 1), { status: 409, code: "PULL_REQUEST_NOT_OPEN" });
});
