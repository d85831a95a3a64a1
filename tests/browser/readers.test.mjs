// What people notice at once and tools barely measure: pages that stay still while
// read, typing that survives live updates, live updates that are announced, code
// and tables that scroll by keyboard, controls named after what they act on.

import { test } from "node:test";
import assert from "node:assert/strict";
import { serverAndBrowser, freshContext, finishedTask, shareLink, signInToConsole } from "./harness.mjs";

const env = serverAndBrowser();
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** A page of a fresh context, signed in to the console as alice. */
const signIn = (context) => signInToConsole(env.server, context);

/**
 * Starts recording layout shifts before the page's first byte: all of them, since
 * nothing is typed or clicked while they are measured (emulated touch devices mark
 * shifts as following input even then).
 */
async function recordShifts(context) {
  await context.addInitScript(() => {
    window.__shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__shifts.push(entry.value);
    }).observe({ type: "layout-shift", buffered: true });
  });
}

/**
 * Opens `url` as a slow connection shows it: the page is painted before its script
 * arrives (the script is held until the first paint), then the script runs. Answers
 * the page's cumulative layout shift once it has.
 */
async function shiftWhenScriptComesLate(page, url) {
  let release;
  const painted = new Promise((resolve) => { release = resolve; });
  await page.route("**/assets/agentshare.js*", async (route) => {
    await painted;
    await route.continue();
  });
  await page.goto(url, { waitUntil: "commit" });
  await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0, null, { timeout: 10_000 });
  release();
  await page.waitForLoadState("load");
  // The script has run when the times carry the reader's own time.
  await page.waitForFunction(() => document.querySelector("time[title]") !== null, null, { timeout: 10_000 });
  // Two frames later, a shift the script caused has been reported.
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  await page.unroute("**/assets/agentshare.js*");
  return page.evaluate(() => window.__shifts.reduce((sum, value) => sum + value, 0));
}

/** A running cloud-mode task shared by a code with `permissions`; its page open in a phone. */
async function liveTask(title, permissions) {
  const { body } = await env.server.api("/v1/tasks", { method: "POST", json: { title } });
  const task = body.data.task_id;
  await env.server.api(`/v1/tasks/${task}`, { method: "PATCH", json: { status: "running" } });
  await env.server.api(`/v1/tasks/${task}/events`, { method: "POST", json: { type: "progress", content: "Started" } });
  const created = await env.server.api(`/v1/agentrix/tasks/${task}/share`, { method: "POST", json: { permissions } });
  const context = await freshContext(env.browser, PHONE);
  const page = await context.newPage();
  await page.goto(`${env.server.base}/code/${created.body.shareCode}`);
  await page.click("button:has-text('Open')");
  await page.waitForURL(/\/t\/task_[0-9a-f]{16}$/);
  await page.waitForSelector("[data-live-state=live]", { timeout: 10_000 });
  return { task, context, page };
}

test("a share page and a link's analytics do not move once shown, on a phone", async () => {
  const task = await finishedTask(env.server, { title: "Quarterly numbers" });
  const link = await shareLink(env.server, task, { permissions: { allow_comments: true } });
  const context = await freshContext(env.browser, PHONE);
  await recordShifts(context);
  const viewer = await context.newPage();
  const shared = await shiftWhenScriptComesLate(viewer, link.url);
  assert.ok(shared < 0.01, `share page layout shift ${shared.toFixed(3)}`);
  const expiry = await viewer.$eval(".notice time", (time) => [time.textContent, time.title]);
  assert.match(expiry[0], /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC$/, `the server's final form: ${expiry}`);
  assert.match(expiry[1], /^Your time: /, `the reader's own time on hover: ${expiry}`);

  const owner = await freshContext(env.browser, PHONE);
  await recordShifts(owner);
  const desk = await signIn(owner);
  const analytics = await shiftWhenScriptComesLate(desk, `${env.server.base}/console/links/${link.share_link_id}`);
  assert.ok(analytics < 0.01, `analytics page layout shift ${analytics.toFixed(3)}`);
  // The numbers behind the chart can be read without hovering.
  await desk.click(".chart-days summary");
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(await desk.textContent(`.chart-days tr:has(td:text-is("${today}")) td:nth-child(2)`), "1");
  assert.deepEqual([...context.alarms, ...owner.alarms], []);
  await context.close();
  await owner.close();
});

test("a message being typed survives the task finishing, and the page says what happened", async () => {
  const { task, context, page } = await liveTask("Migration", { canSendMessage: true });
  assert.equal(await page.getAttribute(".live", "role"), "status", "the live state is a status region");
  assert.equal(await page.getAttribute("[data-events]", "aria-live"), "polite", "new events are announced");
  const leave = await page.locator(".leave button").boundingBox();
  assert.ok(leave.height >= 24, `"Leave this task on this device": ${leave.height} px high`);
  await page.evaluate(() => { window.__samePage = true; });

  await page.click("#m-content");
  await page.keyboard.type("Please also update the");
  await env.server.api(`/v1/tasks/${task}/events`, { method: "POST", json: { type: "output", name: "Result", content: "Done." } });
  await page.waitForSelector(".events li:has-text('Done.')", { timeout: 10_000 });
  await env.server.api(`/v1/tasks/${task}/artifacts?name=plan.txt`, { method: "POST", body: "the plan", headers: { "content-type": "text/plain" } });
  await env.server.api(`/v1/tasks/${task}`, { method: "PATCH", json: { status: "completed" } });

  await page.waitForSelector("#task-status:has-text('completed')", { timeout: 10_000 });
  await page.waitForSelector("#task-files a[aria-label='Download plan.txt']", { timeout: 10_000 });
  assert.equal(await page.textContent(".live"), "Finished");
  assert.equal(await page.evaluate(() => window.__samePage), true, "updated in place, not reloaded");
  assert.equal(await page.inputValue("#m-content"), "Please also update the", "the half-typed message is kept");
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "m-content", "and the focus");
  await page.keyboard.type(" docs");
  assert.equal(await page.inputValue("#m-content"), "Please also update the docs");
  assert.deepEqual(context.alarms, []);
  await context.close();
});

test("when access ends the page says so, and says why each form went away", async () => {
  const { task, context, page } = await liveTask("Audit", { canSendMessage: true });
  await env.server.api(`/v1/tasks/${task}/share`, { method: "DELETE" });
  await page.waitForSelector("[data-live-state=revoked]", { timeout: 10_000 });
  assert.match(await page.textContent("[role=status].live"), /Access ended/);
  assert.equal(await page.$("#m-content"), null, "the message box is gone");
  assert.match(await page.textContent(".message-box"), /Access ended, so this can no longer be done here\./);
  assert.deepEqual(context.alarms, []);
  await context.close();
});

test("code blocks and tables scroll sideways by keyboard on a phone, and words stay whole", async () => {
  const long = "const answer = computeTheAnswerToTheUltimateQuestionOfLifeTheUniverseAndEverything(42, { deep: true });";
  const task = await finishedTask(env.server, {
    title: "Wide output",
    outputs: [{
      name: "Report",
      content: `# Findings\n\n\`\`\`js\n${long}\n\`\`\`\n\n| service | status | explanation |\n|---|---|---|\n| authentication_gateway | degraded | intermittently_unreachable_upstream_dependency |\n| notifications | healthy | nothing_to_report_whatsoever_at_this_time |\n`,
    }],
  });
  const link = await shareLink(env.server, task);
  const context = await freshContext(env.browser, PHONE);
  const page = await context.newPage();
  await page.goto(link.url);
  assert.equal(await page.$eval(".markdown h3", (h) => h.textContent), "Findings", "an output's # is below the page's h2");
  assert.equal(await page.$$eval("h1", (all) => all.length), 1);

  for (const [selector, label] of [[".markdown pre", "Code"], [".markdown .table-scroll", "Table"]]) {
    assert.equal(await page.getAttribute(selector, "aria-label"), label);
    await page.focus(selector);
    const width = await page.$eval(selector, (el) => [el.scrollWidth, el.clientWidth]);
    assert.ok(width[0] > width[1], `${label} is wider than the phone: ${width}`);
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("End");
    await page.waitForFunction((s) => document.querySelector(s).scrollLeft > 0, selector, { timeout: 5_000 });
  }
  // Each cell holds one word: on two lines, it was cut in half.
  const broken = await page.$$eval(".markdown td", (cells) => cells.flatMap((cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return range.getClientRects().length > 1 ? [cell.textContent] : [];
  }));
  assert.deepEqual(broken, [], "no cell's word is split over lines");
  assert.deepEqual(context.alarms, []);
  await context.close();
});

test("repeated controls are named after what they act on, and small ones are big enough to hit", async () => {
  const task = await finishedTask(env.server, {
    title: "Several files",
    files: [
      { name: "a.txt", type: "text/plain", content: "a" },
      { name: "b.txt", type: "text/plain", content: "b" },
    ],
  });
  const link = await shareLink(env.server, task);
  await shareLink(env.server, task, { title: "Second link" });
  const context = await freshContext(env.browser, PHONE);
  const viewer = await context.newPage();
  await viewer.goto(link.url);
  const downloads = await viewer.$$eval(".artifacts li a[download]", (all) => all.map((a) => a.getAttribute("aria-label")));
  assert.deepEqual(downloads, ["Download a.txt", "Download b.txt"]);
  const inputs = await viewer.$$eval("input:not([type=hidden]), textarea", (all) => all.map((i) => parseFloat(getComputedStyle(i).fontSize)));
  assert.ok(inputs.length > 0 && inputs.every((size) => size >= 16), `inputs that make iOS zoom: ${inputs}`);

  const desk = await signIn(context);
  await desk.click("text=Several files");
  for (const selector of ["button[data-copy]", ".links button.danger"]) {
    const names = await desk.$$eval(selector, (all) => all.map((b) => b.getAttribute("aria-label") || b.textContent));
    assert.equal(names.length, 2, selector);
    assert.equal(new Set(names).size, 2, `${selector}: ${names}`);
    assert.ok(names.some((n) => n.includes("Second link")), `${selector}: ${names}`);
  }
  for (const selector of [".signout button", ".crumbs a"]) {
    const box = await desk.locator(selector).first().boundingBox();
    assert.ok(box.height >= 24 && box.width >= 24, `${selector}: ${box.width}×${box.height}`);
  }
  assert.deepEqual(context.alarms, []);
  await context.close();
});

test("the Share control answers Space, and Escape on a dialog that loaded open returns the focus to it", async () => {
  await finishedTask(env.server, { title: "Keyboard only" });
  const context = await freshContext(env.browser);
  const desk = await signIn(context);
  await desk.click("text=Keyboard only");
  const taskUrl = desk.url();
  await desk.focus("[data-open='#share-dialog']");
  await desk.keyboard.press("Space");
  await desk.waitForSelector("#share-dialog[open]", { timeout: 5_000 });
  await desk.keyboard.press("Escape");

  await desk.goto(`${taskUrl}?share=1#share-dialog`);
  await desk.waitForSelector("#share-dialog[open]");
  await desk.keyboard.press("Escape");
  await desk.waitForFunction(() => !document.querySelector("#share-dialog").open, null, { timeout: 5_000 });
  // The focus moves once the dialog's close event has run.
  await desk.waitForFunction(() => document.activeElement?.getAttribute("data-open") === "#share-dialog", null, { timeout: 5_000 });
  const box = await desk.locator(".leave button, .signout button").first().boundingBox();
  assert.ok(box.height >= 24, `Sign out: ${box.height}`);
  assert.deepEqual(context.alarms, []);
  await context.close();
});
