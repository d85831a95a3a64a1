// Share links: the owner's API, and what someone holding the link can do with it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { completedTask, client, mailTo, otherClient, unique } from "./helpers.mjs";

const c = client();
const future = new Date(Date.now() + 10 * 24 * 3600 * 1000).toISOString();

test("a link is created with every seed field, read back, listed by filter and page, and changed", async () => {
  const task = await completedTask(c, "Login Bug Fix");
  const link = await c.shareLinks.create({
    task_id: task,
    title: "Login Bug Fix Results",
    description: "Results from fixing the authentication issue",
    expires_at: future,
    password: "securepass123",
    permissions: { allow_download: true, allow_comments: false, show_metadata: true },
    max_views: 100,
    notify_on_view: true,
  });
  assert.match(link.share_link_id, /^share_[0-9a-f]{16}$/);
  assert.match(link.url, /^http:\/\/.+\/s\/[A-Za-z0-9_-]{43}$/);
  assert.match(link.short_url, /^http:\/\/.+\/s\/[A-Za-z0-9]{8}$/);
  assert.equal(link.password_protected, true);
  assert.equal(link.max_views, 100);
  assert.equal(link.status, "active");
  assert.deepEqual(link.permissions, { allow_download: true, allow_comments: false, show_metadata: true });

  const read = await c.shareLinks.get(link.share_link_id);
  assert.equal(read.url, link.url);
  assert.equal(read.title, "Login Bug Fix Results");
  assert.equal(read.expires_at, future);

  // null removes; only what is given changes.
  const changed = await c.shareLinks.update(link.share_link_id, {
    password: null,
    description: null,
    max_views: null,
    permissions: { allow_comments: true },
  });
  assert.equal(changed.password_protected, false);
  assert.equal(changed.description, null);
  assert.equal(changed.max_views, null);
  assert.deepEqual(changed.permissions, { allow_download: true, allow_comments: true, show_metadata: true });
  assert.equal(changed.title, "Login Bug Fix Results");

  const second = await c.shareLinks.create({ task_id: task });
  const revoked = await c.shareLinks.create({ task_id: task });
  const gone = await c.shareLinks.revoke(revoked.share_link_id);
  assert.equal(gone.status, "revoked");
  assert.ok(gone.revoked_at);

  const active = await c.shareLinks.list({ task_id: task, status: "active" });
  assert.deepEqual(active.share_links.map((l) => l.share_link_id).sort(), [link.share_link_id, second.share_link_id].sort());
  const onlyRevoked = await c.shareLinks.list({ task_id: task, status: "revoked" });
  assert.deepEqual(onlyRevoked.share_links.map((l) => l.share_link_id), [revoked.share_link_id]);
  const page = await c.shareLinks.list({ task_id: task, limit: 2 });
  assert.equal(page.share_links.length, 2);
  assert.equal(page.has_more, true);
  const rest = await c.shareLinks.list({ task_id: task, limit: 2, cursor: page.next_cursor });
  assert.equal(rest.share_links.length, 1);
  const all = [];
  for await (const l of c.shareLinks.listAll({ task_id: task, limit: 1 })) all.push(l.share_link_id);
  assert.deepEqual(all.sort(), [link.share_link_id, second.share_link_id, revoked.share_link_id].sort());

  await assert.rejects(c.shareLinks.update(revoked.share_link_id, { title: "again" }), {
    status: 409,
    code: "SHARE_LINK_REVOKED",
  });
  await assert.rejects(otherClient().shareLinks.get(link.share_link_id), { status: 404, code: "SHARE_LINK_NOT_FOUND" });
});

test("refusals of a link carry the server's message and field", async () => {
  const task = await completedTask(c, "Refusals");
  await assert.rejects(c.shareLinks.create({ task_id: task, expires_at: "2024-02-15T23:59:59Z" }), {
    status: 400,
    code: "INVALID_REQUEST",
    field: "expires_at",
    message: "Invalid request parameters: expires_at must be in the future",
    issue: "expires_at must be in the future",
  });
  await assert.rejects(c.shareLinks.create({ task_id: task, password: "short" }), { status: 400, field: "password" });
  const running = await c.tasks.create({ title: "Still running" });
  await assert.rejects(c.shareLinks.create({ task_id: running.task_id }), (error) => {
    assert.equal(error.status, 403);
    assert.equal(error.code, "TASK_NOT_COMPLETED");
    assert.equal(error.details.status, "pending");
    return true;
  });
});

test("too many wrong passwords are refused with the time to wait", async () => {
  const task = await completedTask(c, "Guessing");
  const link = await c.shareLinks.create({ task_id: task, password: "securepass123" });
  for (let i = 0; i < 5; i++) {
    await assert.rejects(c.linkViewer.open(link.url, { password: `guess-${i}-wrong` }), { status: 401, code: "INVALID_PASSWORD" });
  }
  await assert.rejects(c.linkViewer.open(link.url, { password: "securepass123" }), (error) => {
    assert.equal(error.status, 429);
    assert.equal(error.code, "TOO_MANY_ATTEMPTS");
    assert.ok(Number.isInteger(error.retryAfter) && error.retryAfter > 0, `retryAfter ${error.retryAfter}`);
    return true;
  });
  assert.equal((await c.shareLinks.get(link.share_link_id)).view_count, 0, "no view was spent");
});

test("a preview shows what viewers would get and what the content holds, and creates nothing", async () => {
  const task = await completedTask(c, "Preview", { output: "Mailed ops@example.com the logs of /home/alice/agent" });
  const preview = await c.shareLinks.preview({ task_id: task, redact: { emails: true } });
  assert.match(preview.view.outputs[0].content, /Mailed \[email hidden\] the logs of \/home\/alice\/agent/);
  const email = preview.findings.find((f) => f.kind === "email");
  assert.deepEqual(email.samples, ["ops@example.com"]);
  assert.equal(email.redacted, true);
  assert.deepEqual(email.location, { type: "output", name: "Result" });
  const path = preview.findings.find((f) => f.kind === "path");
  assert.equal(path.redacted, false);
  assert.deepEqual((await c.shareLinks.list({ task_id: task })).share_links, []);
});

test("a viewer opens a protected link as JSON and markdown, downloads files and the zip; the owner sees views and activity", async () => {
  const task = await completedTask(c, "Viewer", {
    output: "## Fixed\nThe session cookie was not renewed.",
    artifacts: { "report.txt": "the report", "data.csv": "a,b\n1,2\n" },
  });
  const link = await c.shareLinks.create({ task_id: task, title: "Viewer results", password: "securepass123", max_views: 10 });

  await assert.rejects(c.linkViewer.open(link.url), { status: 401, code: "PASSWORD_REQUIRED" });
  await assert.rejects(c.linkViewer.open(link.url, { password: "wrong-password" }), {
    status: 401,
    code: "INVALID_PASSWORD",
    message: "The password is not correct",
  });
  const view = await c.linkViewer.open(link.url, { password: "securepass123" });
  assert.equal(view.share_link_id, link.share_link_id);
  assert.equal(view.title, "Viewer results");
  assert.deepEqual(view.outputs.map((o) => o.content), ["## Fixed\nThe session cookie was not renewed."]);
  assert.equal(view.metadata.status, "completed");
  assert.equal(view.view_count, 1);
  assert.equal(view.views_remaining, 9);
  assert.ok(view.grant);

  const report = view.artifacts.find((a) => a.name === "report.txt");
  assert.equal(new TextDecoder().decode(await c.linkViewer.download(report.download_url)), "the report");
  const stream = await c.linkViewer.downloadStream(report.download_url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(await new Response(stream).text(), "the report");
  const zip = await c.linkViewer.downloadAll(link.url, view.grant);
  assert.deepEqual([...zip.slice(0, 4)], [0x50, 0x4b, 0x03, 0x04], "a zip file");
  const zipText = new TextDecoder("latin1").decode(zip);
  assert.ok(zipText.includes("report.txt") && zipText.includes("data.csv"));
  const zipStream = await c.linkViewer.downloadAllStream(link.url, view.grant, { signal: AbortSignal.timeout(10_000) });
  assert.equal((await new Response(zipStream).arrayBuffer()).byteLength, zip.length);
  await assert.rejects(c.linkViewer.downloadAll(link.url, "not-a-grant"), { status: 401, code: "VIEW_REQUIRED" });

  const markdown = await c.linkViewer.openMarkdown(link.url, { password: "securepass123" });
  assert.match(markdown, /^# Viewer results\n/);
  assert.match(markdown, /## Result\n\n## Fixed\nThe session cookie was not renewed\./);
  // The short URL leads to the same link (its redirect is followed).
  const viaShort = await c.linkViewer.open(link.short_url, { password: "securepass123" });
  assert.equal(viaShort.view_count, 3);
  // The page's Reveal form spends a view too, and answers the page.
  const page = await c.linkViewer.reveal(link.url, { password: "securepass123" });
  assert.match(page, /<html/i);
  assert.match(page, /Viewer results/);
  assert.equal((await c.shareLinks.get(link.share_link_id)).view_count, 4);

  const analytics = await c.shareLinks.analytics(link.share_link_id);
  assert.equal(analytics.share_link_id, link.share_link_id);
  assert.equal(analytics.total_views, 4);
  assert.equal(analytics.views_by_day.reduce((sum, day) => sum + day.views, 0), 4);

  // Entries are written beside the answer, not before it: wait (at most 10 s) for
  // the download's.
  let activity;
  for (const deadline = Date.now() + 10_000; ;) {
    activity = await c.shareLinks.activity(link.share_link_id, { limit: 200 });
    if (activity.activity.some((a) => a.kind === "downloaded") || Date.now() > deadline) break;
    await new Promise((tick) => setTimeout(tick, 20));
  }
  const kinds = activity.activity.map((a) => a.kind);
  for (const kind of ["password_failed", "revealed", "downloaded"]) assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
  assert.ok(activity.activity.some((a) => a.kind === "downloaded" && a.file === "report.txt"));
  const firstPage = await c.shareLinks.activity(link.share_link_id, { limit: 1 });
  assert.equal(firstPage.activity.length, 1);
  assert.equal(firstPage.has_more, true);
  const nextPage = await c.shareLinks.activity(link.share_link_id, { limit: 1, cursor: firstPage.next_cursor });
  assert.deepEqual(nextPage.activity[0], activity.activity[1]);
  const csv = await c.shareLinks.activityCsv(link.share_link_id);
  const lines = csv.trim().split(/\r?\n/);
  assert.match(lines[0], /kind/);
  assert.equal(lines.length, activity.activity.length + 1, csv);
  assert.ok(lines.some((line) => line.includes("report.txt")));

  await c.shareLinks.revoke(link.share_link_id);
  await assert.rejects(c.linkViewer.open(link.url, { password: "securepass123" }), { status: 404, code: "SHARE_LINK_NOT_FOUND" });
});

test("a viewer's comment appears once verified from the mail; the owner lists and deletes it", async () => {
  const task = await completedTask(c, "Comments");
  const link = await c.shareLinks.create({ task_id: task, permissions: { allow_comments: true } });
  const view = await c.linkViewer.open(link.url);
  const email = `carol-${unique()}@example.org`;
  const pending = await c.linkViewer.postComment(link.url, { name: "Carol", email, content: "Looks good!", grant: view.grant });
  assert.equal(pending.status, "pending_verification");
  assert.match(pending.comment_id, /^comment_/);
  let listed = await c.shareLinks.listComments(link.share_link_id);
  assert.deepEqual(listed.comments.map((x) => [x.comment_id, x.status, x.email]), [[pending.comment_id, "pending_verification", email]]);

  const mail = await mailTo(email);
  const verifyUrl = mail.match(/https?:\/\/\S+\/comments\/verify\?code=\S+/)[0];
  await c.linkViewer.verifyComment(verifyUrl);
  listed = await c.shareLinks.listComments(link.share_link_id);
  assert.equal(listed.comments[0].status, "published");
  assert.ok(listed.comments[0].verified_at);
  const seen = await c.linkViewer.open(link.url);
  assert.deepEqual(seen.comments.map((x) => [x.name, x.content]), [["Carol", "Looks good!"]]);
  // The link and the code can also be given apart; an unknown code is refused.
  const code = new URL(verifyUrl).searchParams.get("code");
  await c.linkViewer.verifyComment(link.url, code);
  await assert.rejects(c.linkViewer.verifyComment(link.url, `x${code.slice(1)}`), { status: 404 });

  await c.shareLinks.deleteComment(link.share_link_id, pending.comment_id);
  assert.deepEqual((await c.shareLinks.listComments(link.share_link_id)).comments.map((x) => x.status), ["deleted"]);
  assert.deepEqual((await c.linkViewer.open(link.url)).comments, []);
  await assert.rejects(c.shareLinks.deleteComment(link.share_link_id, pending.comment_id), { status: 404, code: "COMMENT_NOT_FOUND" });

  const closed = await c.shareLinks.create({ task_id: task });
  const closedView = await c.linkViewer.open(closed.url);
  await assert.rejects(
    c.linkViewer.postComment(closed.url, { name: "Dan", email: `dan-${unique()}@example.org`, content: "Hi", grant: closedView.grant }),
    { status: 403, code: "COMMENTS_NOT_ALLOWED" },
  );
});

test("a link with an audience opens with the viewer token its mailed code is exchanged for", async () => {
  const task = await completedTask(c, "Audience", { output: "For the team only" });
  const member = `ana-${unique()}@example.com`;
  const link = await c.shareLinks.create({ task_id: task, audience: { type: "emails", emails: [member] } });
  assert.deepEqual(link.audience, { type: "emails", emails: [member] });

  await assert.rejects(c.linkViewer.open(link.url), { status: 401, code: "VERIFICATION_REQUIRED" });
  assert.deepEqual(await c.linkViewer.requestVerification(link.url, member), { status: "pending" });
  assert.deepEqual(await c.linkViewer.requestVerification(link.url, `stranger-${unique()}@example.com`), { status: "pending" });
  const mail = await mailTo(member);
  const code = mail.match(/\b(\d{6})\b/)[1];
  await assert.rejects(c.linkViewer.confirmVerification(link.url, member, code === "000000" ? "111111" : "000000"), {
    status: 401,
    code: "VERIFICATION_FAILED",
  });
  const token = await c.linkViewer.confirmVerification(link.url, member, code);
  assert.equal(token.expires_in_seconds, 43200);
  const view = await c.linkViewer.open(link.url, { viewerToken: token.viewer_token });
  assert.deepEqual(view.outputs.map((o) => o.content), ["For the team only"]);
  const analytics = await c.shareLinks.analytics(link.share_link_id);
  assert.deepEqual(analytics.viewers, [{ value: member, views: 1 }]);
});

test("revoke-all takes back a task's links, and its share code with include_codes", async () => {
  const task = await completedTask(c, "Revoke all");
  const other = await completedTask(c, "Kept");
  const a = await c.shareLinks.create({ task_id: task });
  await c.shareLinks.create({ task_id: task });
  const kept = await c.shareLinks.create({ task_id: other });
  await c.shareCodes.create(task);
  assert.deepEqual(await c.shareLinks.revokeAll({ task_id: task, include_codes: true }), { revoked_links: 2, revoked_codes: 1 });
  assert.equal((await c.shareLinks.get(a.share_link_id)).status, "revoked");
  assert.equal((await c.shareLinks.get(kept.share_link_id)).status, "active");
  await assert.rejects(c.shareCodes.get(task), { status: 404, code: "SHARE_NOT_FOUND" });
  assert.deepEqual(await c.shareLinks.revokeAll({ task_id: task }), { revoked_links: 0, revoked_codes: 0 });
  await assert.rejects(c.shareLinks.revokeAll({ task_id: "task_0000000000000000" }), { status: 404, code: "TASK_NOT_FOUND" });
});
