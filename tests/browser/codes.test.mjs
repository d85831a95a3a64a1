// Someone who received a share code follows the task live and acts on it only as
// far as the code allows.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serverAndBrowser, freshContext, git } from "./harness.mjs";

const env = serverAndBrowser();

/** A running cloud-mode task. */
async function runningTask(title) {
  const { body } = await env.server.api("/v1/tasks", { method: "POST", json: { title } });
  const id = body.data.task_id;
  await env.server.api(`/v1/tasks/${id}`, { method: "PATCH", json: { status: "running" } });
  return id;
}

async function shareCode(taskId, permissions) {
  const { status, body } = await env.server.api(`/v1/agentrix/tasks/${taskId}/share`, { method: "POST", json: { permissions } });
  assert.equal(status, 201, JSON.stringify(body));
  return body.shareCode;
}

/** Opens the code's link in a fresh env.browser and presses Open; answers the task page. */
async function openCode(code) {
  const context = await freshContext(env.browser);
  const page = await context.newPage();
  await page.goto(`${env.server.base}/code/${code}`);
  assert.equal(await page.inputValue("#code"), code, "the link fills the code in");
  await page.click("button:has-text('Open')");
  await page.waitForURL(/\/t\/task_[0-9a-f]{16}$/);
  return { context, page };
}

/** A bare repository `name` whose `main` has one commit, and a clone of it to work in. */
function repository(name) {
  const bare = join(env.server.repositories, name);
  git(env.server.repositories, "init", "--bare", "-b", "main", name);
  const work = mkdtempSync(join(tmpdir(), "agentshare-work-"));
  git(work, "clone", bare, ".");
  git(work, "checkout", "-b", "main");
  git(work, "commit", "--allow-empty", "-m", "start");
  git(work, "push", "origin", "main");
  return { bare, work };
}

test("a viewer with a code sees progress arrive live, sends a message, and loses access when it is revoked", async () => {
  const task = await runningTask("Nightly upgrade");
  await env.server.api(`/v1/tasks/${task}/events`, { method: "POST", json: { type: "progress", content: "Reading the lock file" } });
  const code = await shareCode(task, { canSendMessage: true });
  const { context, page } = await openCode(code);
  assert.match(await page.textContent(".timeline"), /Reading the lock file/);
  await page.waitForSelector("[data-live-state=live]");
  await page.evaluate(() => { window.__samePage = true; });

  await env.server.api(`/v1/tasks/${task}/events`, { method: "POST", json: { type: "progress", content: "Upgraded **12** packages" } });
  await page.waitForSelector(".events li:has-text('Upgraded 12 packages') strong:has-text('12')");
  assert.equal(await page.evaluate(() => window.__samePage), true, "it arrived without a reload");

  await page.fill("#m-content", "Please keep React at 18");
  await page.click(".message-box button:has-text('Send')");
  await page.waitForSelector("text=Message sent.");
  const { body } = await env.server.api(`/v1/tasks/${task}/events?type=message`);
  assert.deepEqual(body.data.events.map((e) => [e.author, e.content]), [["viewer", "Please keep React at 18"]]);

  await page.evaluate(() => { window.__samePage = true; });
  await env.server.api(`/v1/tasks/${task}/share`, { method: "DELETE" });
  await page.waitForSelector("[data-live-state=revoked]");
  assert.equal(await page.evaluate(() => window.__samePage), true);
  assert.equal(await page.$("#m-content"), null, "the message box goes with the access");
  const response = await page.reload();
  assert.equal(response.status(), 401);
  assert.match(await page.textContent("h1"), /no longer have access/);
  assert.deepEqual(context.alarms, []);
});

test("when the task finishes the page shows its final state by itself", async () => {
  const task = await runningTask("Almost done");
  const code = await shareCode(task, {});
  const { context, page } = await openCode(code);
  await page.waitForSelector("[data-live-state=live]");
  await env.server.api(`/v1/tasks/${task}/events`, { method: "POST", json: { type: "output", name: "Result", content: "All green." } });
  await env.server.api(`/v1/tasks/${task}`, { method: "PATCH", json: { status: "completed" } });
  await page.waitForSelector(".status-line .badge:has-text('completed')");
  assert.match(await page.textContent(".timeline"), /All green\./);
  assert.deepEqual(context.alarms, []);
});

test("pull request buttons appear only for the permissions granted, and the server enforces them", async () => {
  const { bare, work } = repository("acme.git");
  git(work, "checkout", "-b", "feature");
  writeFileSync(join(work, "login.js"), "export const secure = true;\n");
  git(work, "add", "login.js");
  git(work, "commit", "-m", "Make the cookie secure");
  git(work, "push", "origin", "feature");
  env.server.grant("acme.git");

  const task = await runningTask("Fix login");
  const linked = await env.server.api(`/v1/tasks/${task}`, { method: "PATCH", json: { repository: "acme.git", base_branch: "main" } });
  assert.equal(linked.status, 200, JSON.stringify(linked.body));
  const opened = await env.server.api(`/v1/tasks/${task}/pull-requests`, { method: "POST", json: { title: "Secure cookie", head_branch: "feature" } });
  assert.equal(opened.status, 201, JSON.stringify(opened.body));

  const code = await shareCode(task, { canViewPr: true, canApprovePr: true, canMergePr: false, canCreatePr: false });
  const { context, page } = await openCode(code);
  assert.equal(await page.$("text=Open a pull request"), null, "no Create without canCreatePr");
  await page.click("text=#1 Secure cookie");
  await page.waitForSelector(".patch .add:has-text('export const secure = true;')");
  assert.ok(await page.isVisible("button:has-text('Approve')"));
  assert.equal(await page.$("button:has-text('Merge')"), null, "no Merge without canMergePr");
  await page.click("button:has-text('Approve')");
  await page.waitForSelector("text=Approved.");
  assert.match(await page.textContent(".status-line"), /1 approval\b/);

  // A merge forged from the page itself, with the page's own token, is still refused.
  const status = await page.evaluate(async () => {
    const csrf = document.querySelector("input[name=csrf]").value;
    const response = await fetch(`${location.pathname}/merge`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `csrf=${encodeURIComponent(csrf)}`,
    });
    return response.status;
  });
  assert.equal(status, 403);
  const pr = await env.server.api(`/v1/tasks/${task}/pull-requests/1`);
  assert.equal(pr.body.data.status, "open");
  assert.equal(pr.body.data.approvals, 1);

  const merger = await openCode(await shareCode(task, { canViewPr: true, canMergePr: true, canCreatePr: true }));
  assert.ok(await merger.page.isVisible("text=Open a pull request"), "Create is offered with canCreatePr");
  await merger.page.click("text=#1 Secure cookie");
  assert.equal(await merger.page.$("button:has-text('Approve')"), null);
  merger.page.__expectConfirm = true;
  await merger.page.click("button:has-text('Merge')");
  await merger.page.waitForSelector("text=Merged.");
  assert.equal(git(bare, "rev-parse", "main"), git(work, "rev-parse", "HEAD"), "main now has the change");
  assert.deepEqual([...context.alarms, ...merger.context.alarms], []);
});
