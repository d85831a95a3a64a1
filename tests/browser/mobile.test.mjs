// Every page is usable on a phone: at 375 CSS pixels wide nothing makes the page
// scroll sideways (long code and wide tables scroll inside their own boxes), and
// the main controls are on screen and big enough to tap.

import { test } from "node:test";
import assert from "node:assert/strict";
import { serverAndBrowser, freshContext, finishedTask, shareLink } from "./harness.mjs";

const PHONE = { viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const WIDE = [
  "## Results with a very-long-identifier-that-does-not-break-anywhere-at-all-in-the-title-line",
  "```\n" + "const answer = computeTheAnswerToTheQuestion(" + "argument, ".repeat(30) + ");\n```",
  "| " + Array.from({ length: 12 }, (_, i) => `column ${i}`).join(" | ") + " |\n|" + "---|".repeat(12) + "\n| " + Array.from({ length: 12 }, () => "value").join(" | ") + " |",
  "https://example.com/" + "a-very-long-path-segment/".repeat(10),
].join("\n\n");

const env = serverAndBrowser();

/** Asserts `page` doesn't scroll sideways and `control` (if given) is on screen and tappable. */
async function fitsAPhone(page, what, control) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `${what}: the page is ${width} px wide`);
  if (control) {
    const box = await page.locator(control).first().boundingBox();
    assert.ok(box, `${what}: ${control} is shown`);
    assert.ok(box.x >= 0 && box.x + box.width <= 375, `${what}: ${control} is within the screen (${JSON.stringify(box)})`);
    assert.ok(box.height >= 32, `${what}: ${control} is big enough to tap (${box.height} px high)`);
  }
}

test("viewer pages fit a 375-px screen", async () => {
  const task = await finishedTask(env.server, {
    title: "A task with a rather long title that has to wrap on a small screen",
    outputs: [{ name: "Summary", content: WIDE }],
    files: [{ name: "a-file-with-a-long-name-for-a-phone-screen.txt", type: "text/plain", content: "x" }],
  });
  const open = await shareLink(env.server, task, { permissions: { allow_comments: true } });
  const locked = await shareLink(env.server, task, { password: "phone-password" });
  const limited = await shareLink(env.server, task, { max_views: 3 });
  const context = await freshContext(env.browser, PHONE);
  const page = await context.newPage();

  await page.goto(open.url);
  await fitsAPhone(page, "shared page", ".artifacts a.button");
  await fitsAPhone(page, "shared page", "button:has-text('Copy link')");
  await fitsAPhone(page, "shared page", ".comments button:has-text('Send')");
  await page.goto(locked.url);
  await fitsAPhone(page, "password form", "button:has-text('Open')");
  await page.goto(limited.url);
  await fitsAPhone(page, "reveal", "button:has-text('Reveal')");
  await page.goto(`${env.server.base}/s/${"x".repeat(43)}`);
  await fitsAPhone(page, "gone page");

  const { body } = await env.server.api("/v1/tasks", { method: "POST", json: { title: "Running on a phone" } });
  const running = body.data.task_id;
  await env.server.api(`/v1/tasks/${running}`, { method: "PATCH", json: { status: "running" } });
  await env.server.api(`/v1/tasks/${running}/events`, { method: "POST", json: { type: "progress", content: WIDE } });
  const code = (await env.server.api(`/v1/agentrix/tasks/${running}/share`, { method: "POST", json: { permissions: { canSendMessage: true } } })).body.shareCode;
  await page.goto(`${env.server.base}/code`);
  await fitsAPhone(page, "code form", "button:has-text('Open')");
  await page.goto(`${env.server.base}/code/${code}`);
  await page.click("button:has-text('Open')");
  await page.waitForURL(/\/t\//);
  await fitsAPhone(page, "share-code task page", ".message-box button:has-text('Send')");
  assert.deepEqual(context.alarms, []);
});

test("console pages fit a 375-px screen", async () => {
  const task = await finishedTask(env.server, { title: "Console on a phone", outputs: [{ name: "Summary", content: WIDE }] });
  const link = await shareLink(env.server, task, {});
  await fetch(link.url, { headers: { accept: "application/json" } });
  const context = await freshContext(env.browser, PHONE);
  const page = await context.newPage();
  await page.goto(`${env.server.base}/console/login`);
  await fitsAPhone(page, "sign-in", "button:has-text('Sign in')");
  await page.fill("#api-key", env.server.key);
  await page.click("button:has-text('Sign in')");
  await page.waitForURL(/\/console\/tasks$/);
  await fitsAPhone(page, "tasks", ".rows a.row-title");
  await page.goto(`${env.server.base}/console/tasks/${task}`);
  await fitsAPhone(page, "task", "[data-open='#share-dialog']");
  await page.click("[data-open='#share-dialog']");
  await fitsAPhone(page, "share dialog", "#share-dialog button[type=submit]");
  await page.click("#share-dialog button[type=submit]");
  await page.waitForSelector("#created-dialog[open]");
  await fitsAPhone(page, "new link", "#created-dialog button:has-text('Copy link')");
  await page.goto(`${env.server.base}/console/links/${link.share_link_id}`);
  await fitsAPhone(page, "analytics", "button:has-text('Revoke')");
  await page.goto(`${env.server.base}/console/shares`);
  await fitsAPhone(page, "shares", "button:has-text('Revoke')");
  assert.deepEqual(context.alarms, []);
});

test("the password card says what it opens, stays narrow, and tables keep their words", async () => {
  const table = "| Suite | passed | failed | skipped |\n|---|---|---|---|\n| authentication and sessions | 214 | 0 | 3 |";
  const task = await finishedTask(env.server, { title: "Cards and tables", outputs: [{ name: "Tests", content: table }] });
  const locked = await shareLink(env.server, task, { password: "desk-password", max_views: 5, title: "Release notes for ACME" });
  const desk = await freshContext(env.browser, { viewport: { width: 1280, height: 800 } });
  const page = await desk.newPage();
  await page.goto(locked.url);
  const card = await page.locator("section.card").boundingBox();
  assert.ok(card.width <= 560, `the password card is ${card.width} px wide on a desktop`);
  const input = await page.locator("#password").boundingBox();
  assert.ok(input.width <= 520, `the password field is ${input.width} px wide`);
  const text = await page.textContent("section.card");
  assert.match(text, /Release notes for ACME/, "it names what is being opened");
  assert.match(text, /uses one of its views: 5 left/, "and that opening it spends a view");

  const open = await shareLink(env.server, task, { permissions: { allow_comments: true } });
  await page.goto(open.url);
  const email = await page.locator("#c-email").boundingBox();
  const comment = await page.locator(".comments textarea").boundingBox();
  assert.equal(Math.round(comment.width), Math.round(email.width), "the comment box is as wide as the other fields");

  const phone = await freshContext(env.browser, PHONE);
  const small = await phone.newPage();
  await small.goto(open.url);
  const headers = await small.locator(".markdown th").evaluateAll((cells) =>
    cells.map((th) => {
      const range = document.createRange();
      range.selectNodeContents(th);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      return { text: th.textContent, lines };
    }));
  for (const { text, lines } of headers) {
    assert.ok(lines <= 1, `the header "${text}" is on one line, not broken mid-word (${lines} lines)`);
  }
  await fitsAPhone(small, "a wide table");
  assert.deepEqual(desk.alarms, []);
  assert.deepEqual(phone.alarms, []);
});
