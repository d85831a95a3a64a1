// An owner shares a task from the console; viewers open it in their own browsers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { serverAndBrowser, freshContext, finishedTask, shareLink, mailTo, signInToConsole } from "./harness.mjs";

const env = serverAndBrowser();

/** A page of a fresh context, signed in to the console as alice. */
const signIn = (context) => signInToConsole(env.server, context);

async function viewCount(id) {
  const { body } = await env.server.api(`/v1/share-links/${id}`);
  return body.data.view_count;
}

test("an owner shares from the console; a viewer unlocks it with the password and downloads a file", async () => {
  await finishedTask(env.server, {
    title: "Quarterly numbers",
    files: [{ name: "numbers.csv", type: "text/csv", content: "quarter,revenue\nQ3,1200\n" }],
  });
  const owner = await freshContext(env.browser);
  await owner.grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.server.base });
  const desk = await signIn(owner);
  await desk.click("text=Quarterly numbers");
  await desk.click("[data-open='#share-dialog']");
  assert.ok(await desk.isVisible("#share-dialog"), "the Share dialog opens");
  await desk.fill("#s-title", "Numbers for the board");
  await desk.fill("#s-password", "board-password");
  await desk.selectOption("#s-expires", "7d");
  await desk.click("#share-dialog button[type=submit]");
  await desk.waitForSelector("#created-dialog[open]");
  const url = await desk.inputValue("#created-url");
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/s\/[A-Za-z0-9_-]{43}$/);
  assert.ok(await desk.isVisible("#created-dialog img.qr"), "with a QR code");
  await desk.click("#created-dialog button:has-text('Copy link')");
  assert.equal(await desk.evaluate(() => navigator.clipboard.readText()), url, "Copy link copies the link");
  const id = new URL(await desk.getAttribute("#created-dialog a:has-text('Details')", "href"), env.server.base).pathname.split("/").pop();

  const viewer = await freshContext(env.browser);
  const page = await viewer.newPage();
  await page.goto(url);
  assert.match(await page.textContent("h1"), /protected/);
  await page.fill("#password", "wrong-password");
  await page.click("button:has-text('Open')");
  assert.match(await page.textContent("[role=alert]"), /not correct\. No view was used\./);
  assert.equal(await viewCount(id), 0, "a wrong password spends no view");

  await page.fill("#password", "board-password");
  await page.click("button:has-text('Open')");
  await page.waitForSelector("text=The session cookie was not renewed.");
  assert.equal(await page.textContent("h1"), "Numbers for the board");
  assert.ok(!(await page.content()).includes("PROMPT-NOT-FOR-VIEWERS"), "never the prompt");
  await page.reload();
  await page.waitForSelector("text=The session cookie was not renewed.");
  assert.equal(await viewCount(id), 1, "reloading after unlocking spends nothing");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click(".artifacts li:has-text('numbers.csv') a:has-text('Download')"),
  ]);
  assert.equal(download.suggestedFilename(), "numbers.csv");
  assert.equal(readFileSync(await download.path(), "utf8"), "quarter,revenue\nQ3,1200\n");
  assert.deepEqual([...owner.alarms, ...viewer.alarms], []);
});

test("the Share dialog previews what viewers will get before the link is made", async () => {
  await finishedTask(env.server, {
    title: "Mail digest",
    outputs: [{ name: "Digest", content: "Sent to ops@example.com from /home/alice/mail." }],
  });
  const desk = await signIn(await freshContext(env.browser));
  await desk.click("text=Mail digest");
  const links = async () => (await env.server.api("/v1/share-links?limit=100")).body.data.share_links.length;
  const before = await links();
  await desk.click("[data-open='#share-dialog']");
  await desk.check("input[name=redact_emails]");
  await desk.click("#share-dialog button:has-text('Preview')");
  await desk.waitForSelector("#share-dialog[open] .preview");
  const findings = await desk.textContent(".preview .findings");
  assert.match(findings, /1 e-mail address in the output “Digest”: ops@example\.com — hidden from viewers/);
  assert.match(findings, /1 home-directory path in the output “Digest”: \/home\/alice — shown to viewers/);
  assert.ok(await desk.isChecked("input[name=redact_emails]"), "the choices are kept");
  assert.equal(await links(), before, "a preview makes no link");

  await desk.check("input[name=redact_paths]");
  await desk.click("#share-dialog button:has-text('Create link')");
  await desk.waitForSelector("#created-dialog[open]");
  const url = await desk.inputValue("#created-url");
  const viewer = await (await freshContext(env.browser)).newPage();
  await viewer.goto(url);
  const shown = await viewer.textContent(".markdown");
  assert.match(shown, /Sent to \[email hidden\] from \/home\/\[user\]\/mail\./);
});

test("an owner limits a link to their team; a teammate opens it with the code mailed to them", async () => {
  await finishedTask(env.server, { title: "Team only" });
  const desk = await signIn(await freshContext(env.browser));
  await desk.click("text=Team only");
  await desk.click("[data-open='#share-dialog']");
  await desk.fill("#s-audience", "@example.com");
  await desk.click("#share-dialog button:has-text('Create link')");
  await desk.waitForSelector("#created-dialog[open]");
  const url = await desk.inputValue("#created-url");
  await desk.click("#created-dialog a:has-text('Details')");
  assert.match(await desk.textContent("dl.settings"), /Who may open it\s*@example\.com/, "the link's page says who may open it");

  const viewer = await (await freshContext(env.browser)).newPage();
  await viewer.goto(url);
  assert.equal(await viewer.textContent("h1"), "Enter your e-mail address");
  assert.ok(!(await viewer.content()).includes("The session cookie was not renewed"), "nothing shows before the proof");
  await viewer.fill("#email", "ana@example.com");
  await viewer.click("button:has-text('Send me a code')");
  await viewer.waitForSelector("#code");
  const mail = await mailTo(env.server, "ana@example.com");
  const code = mail.match(/is:\s+(\d{6})/)[1];
  await viewer.fill("#code", code);
  await viewer.click("button:has-text('Open')");
  await viewer.waitForSelector("text=The session cookie was not renewed.");
  await viewer.reload();
  assert.match(await viewer.textContent(".markdown"), /The session cookie was not renewed/, "the proof lasts the session");
});

test("a one-time link is revealed once, by a deliberate click, and is gone for the next visitor", async () => {
  const task = await finishedTask(env.server, { title: "One look only" });
  const link = await shareLink(env.server, task, { max_views: 1 });
  const first = await freshContext(env.browser);
  const page = await first.newPage();
  await page.goto(link.url);
  assert.match(await page.textContent("main"), /can be opened 1 more time/);
  assert.ok(!(await page.content()).includes("session cookie was not renewed"), "nothing shown before the click");
  assert.equal(await viewCount(link.share_link_id), 0, "opening the URL (as a preview bot would) spends nothing");
  await page.click("button:has-text('Reveal')");
  await page.waitForSelector("text=The session cookie was not renewed.");
  await page.reload();
  await page.waitForSelector("text=The session cookie was not renewed.");

  const second = await freshContext(env.browser);
  const late = await second.newPage();
  const response = await late.goto(link.url);
  assert.equal(response.status(), 404);
  assert.match(await late.textContent("h1"), /no longer available/);
  assert.equal(await viewCount(link.share_link_id), 1);
  assert.deepEqual([...first.alarms, ...second.alarms], []);
});

test("a comment appears once its author follows the link mailed to them; the owner can delete it", async () => {
  const task = await finishedTask(env.server, { title: "Open for comments" });
  const link = await shareLink(env.server, task, { permissions: { allow_comments: true } });
  const viewer = await freshContext(env.browser);
  const page = await viewer.newPage();
  await page.goto(link.url);
  await page.fill("#c-name", "Carol");
  await page.fill("#c-email", "carol@example.com");
  await page.fill("#c-content", "Looks right to me. <b>Ship it</b>");
  await page.click(".comments button:has-text('Send')");
  await page.waitForSelector("text=Check your email");
  await page.goto(link.url);
  assert.match(await page.textContent(".comments"), /No comments yet/, "not shown before it is verified");

  const mail = await mailTo(env.server, "carol@example.com");
  const verify = mail.match(/https?:\/\/\S+\/comments\/verify\?code=[A-Za-z0-9_-]+/)[0];
  await page.goto(verify);
  await page.waitForSelector("text=Your comment is published");
  await page.goto(link.url);
  assert.match(await page.textContent(".comments"), /Looks right to me\. <b>Ship it<\/b>/, "shown, as text");

  const owner = await freshContext(env.browser);
  const desk = await signIn(owner);
  await desk.goto(`${env.server.base}/console/links/${link.share_link_id}`);
  assert.match(await desk.textContent("#comments"), /carol@example\.com/);
  desk.__expectConfirm = true;
  await desk.click("#comments button:has-text('Delete')");
  await desk.waitForSelector("#comments >> text=deleted");
  await page.reload();
  assert.match(await page.textContent(".comments"), /No comments yet/);
  assert.deepEqual([...viewer.alarms, ...owner.alarms], []);
});

test("revoking in the console shows viewers the 404 page at once; analytics show who looked", async () => {
  const task = await finishedTask(env.server, { title: "Soon revoked" });
  const link = await shareLink(env.server, task, { title: "Revoke me" });
  for (const agent of ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1", "curl/8.4.0"]) {
    await fetch(link.url, { headers: { accept: "application/json", "user-agent": agent, referer: "https://mail.example.com/inbox" } });
  }
  const viewer = await freshContext(env.browser);
  const page = await viewer.newPage();
  await page.goto(link.url);
  await page.waitForSelector("text=The session cookie was not renewed.");

  const owner = await freshContext(env.browser);
  const desk = await signIn(owner);
  await desk.goto(`${env.server.base}/console/links/${link.share_link_id}`);
  assert.equal(await desk.textContent("[data-stat=total]"), "3");
  assert.ok((await desk.$$("svg rect.bar")).length >= 14, "a views-per-day chart");
  assert.match(await desk.textContent(".breakdowns"), /mail\.example\.com/);
  assert.match(await desk.textContent(".breakdowns"), /mobile/);

  await desk.goto(`${env.server.base}/console/tasks/${task}`);
  desk.__expectConfirm = true;
  await desk.click("#links li:has-text('Revoke me') button:has-text('Revoke')");
  await desk.waitForSelector("#links li:has-text('Revoke me') .badge:has-text('revoked')");

  const response = await page.reload();
  assert.equal(response.status(), 404, "even the viewer who had it open loses it");
  assert.match(await page.textContent("h1"), /no longer available/);
  const stranger = await (await freshContext(env.browser)).newPage();
  assert.equal((await stranger.goto(link.url)).status(), 404);
  assert.deepEqual([...viewer.alarms, ...owner.alarms], []);
});

test("the shares page lists every live share across tasks and revokes them", async () => {
  const a = await finishedTask(env.server, { title: "Task A" });
  const b = await finishedTask(env.server, { title: "Task B" });
  await shareLink(env.server, a, { title: "Link of A" });
  const linkB = await shareLink(env.server, b, { title: "Link of B" });
  const owner = await freshContext(env.browser);
  const desk = await signIn(owner);
  await desk.click("nav >> text=Shares");
  for (const text of ["Link of A", "Link of B", "Task A", "Task B"]) {
    assert.match(await desk.textContent("main"), new RegExp(text));
  }
  desk.__expectConfirm = true;
  await desk.click("li:has-text('Link of B') button:has-text('Revoke')");
  await desk.waitForURL(/\/console\/shares$/);
  assert.doesNotMatch(await desk.textContent("main"), /Link of B/);
  assert.equal((await fetch(linkB.url)).status, 404);
  assert.deepEqual(owner.alarms, []);
});
