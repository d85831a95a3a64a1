// An agent's output is untrusted. A corpus of XSS payloads, put everywhere an agent
// or a viewer can put text, must run nothing, load nothing and break nothing on any
// page — including events that arrive live and are inserted by the page's script.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { serverAndBrowser, freshContext, finishedTask, shareLink, mailTo } from "./harness.mjs";

const PAYLOADS = JSON.parse(readFileSync(new URL("./fixtures/xss-payloads.json", import.meta.url), "utf8"));
const NAMED = "<img src=x onerror=alert('name')>";

const env = serverAndBrowser();

/** Everything on `page` that could run or load something it shouldn't. */
async function inspect(page) {
  // Let anything that was going to run, run: two animation frames.
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  // Hover and focus everything the payloads brought, as a person moving around would.
  await page.evaluate(() => {
    for (const element of document.querySelectorAll(".markdown *, .events *, .comment *")) {
      element.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
      if (typeof element.focus === "function") element.focus();
    }
  });
  return page.evaluate(() => {
    const found = [];
    if (window.__xss !== undefined) found.push(`window.__xss = ${window.__xss}`);
    for (const script of document.scripts) {
      if (!/\/assets\/agentshare\.js\?v=/.test(script.src)) found.push(`script: ${script.outerHTML.slice(0, 120)}`);
    }
    for (const element of document.querySelectorAll("*")) {
      for (const attribute of element.attributes) {
        if (/^on/i.test(attribute.name)) found.push(`handler: <${element.localName} ${attribute.name}>`);
        if (attribute.name === "style") found.push(`style: <${element.localName}>`);
        if (/^(href|src|action|formaction|xlink:href|data|background)$/i.test(attribute.name)
          && /^\s*(javascript|vbscript|data:text)/i.test(attribute.value)) {
          found.push(`url: <${element.localName} ${attribute.name}=${attribute.value.slice(0, 40)}>`);
        }
      }
    }
    for (const element of document.querySelectorAll("iframe, frame, object, embed, base, meta[http-equiv], style, template, math")) {
      found.push(`element: <${element.localName}>`);
    }
    for (const link of document.querySelectorAll("link")) {
      if (!/\/assets\/(agentshare\.css|favicon\.svg)\?v=/.test(link.href)) found.push(`link: ${link.href}`);
    }
    for (const image of document.querySelectorAll("img")) {
      if (!image.src.startsWith("data:image/svg+xml;base64,") || image.className !== "qr") found.push(`img: ${image.src.slice(0, 60)}`);
    }
    for (const form of document.querySelectorAll("form")) {
      if (form.action && new URL(form.action).origin !== location.origin) found.push(`form: ${form.action}`);
    }
    return found;
  });
}

test("the shared page, the console and comments run none of the payloads", async () => {
  const task = await finishedTask(env.server, {
    title: `Report ${NAMED}`,
    outputs: PAYLOADS.map((content, i) => ({ name: `Output ${i} ${NAMED}`, content })),
    files: [{ name: `notes ${NAMED}.txt`, type: "text/plain", content: "<script>alert('file')</script>" }],
  });
  const link = await shareLink(env.server, task, {
    title: `Shared ${NAMED}`,
    description: `Why <script>alert('description')</script>`,
    permissions: { allow_comments: true },
  });

  // A viewer's comment carries payloads too.
  const { body: view } = await env.server.api(new URL(link.url).pathname, { key: null, headers: { accept: "application/json" } });
  const comment = await env.server.api(`${new URL(link.url).pathname}/comments`, {
    key: null,
    method: "POST",
    json: { name: `Eve ${NAMED}`, email: "eve@example.com", content: PAYLOADS.join("\n"), grant: view.data.grant },
  });
  assert.equal(comment.status, 202, JSON.stringify(comment.body));
  const verify = (await mailTo(env.server, "eve@example.com")).match(/https?:\/\/\S+\/comments\/verify\?code=[A-Za-z0-9_-]+/)[0];
  assert.equal((await fetch(verify)).status, 200);

  const viewer = await freshContext(env.browser);
  const page = await viewer.newPage();
  await page.goto(link.url);
  await page.waitForSelector(".output");
  assert.equal(await page.locator(".output").count(), PAYLOADS.length, "every output is there, none broke the page");
  assert.ok(await page.isVisible(".share-this"), "the page renders to its end");
  assert.match(await page.textContent("h1"), /Shared <img src=x onerror=alert\('name'\)>/, "titles show as text");
  assert.deepEqual(await inspect(page), []);
  assert.deepEqual(viewer.alarms, []);

  const owner = await freshContext(env.browser);
  const desk = await owner.newPage();
  await desk.goto(`${env.server.base}/console/login`);
  await desk.fill("#api-key", env.server.key);
  await desk.click("button[type=submit]");
  await desk.waitForURL(/\/console\/tasks$/);
  for (const path of [`/console/tasks`, `/console/tasks/${task}`, `/console/links/${link.share_link_id}`, `/console/shares`]) {
    await desk.goto(env.server.base + path);
    assert.deepEqual(await inspect(desk), [], path);
  }
  assert.deepEqual(owner.alarms, []);
});

test("a share-code viewer's page runs none of them, not even those that arrive live", async () => {
  const { body } = await env.server.api("/v1/tasks", { method: "POST", json: { title: `Live ${NAMED}` } });
  const task = body.data.task_id;
  await env.server.api(`/v1/tasks/${task}`, { method: "PATCH", json: { status: "running" } });
  for (const content of PAYLOADS.slice(0, 20)) {
    await env.server.api(`/v1/tasks/${task}/events`, { method: "POST", json: { type: "progress", content } });
  }
  const code = (await env.server.api(`/v1/agentrix/tasks/${task}/share`, { method: "POST", json: { permissions: { canSendMessage: true } } })).body.shareCode;
  const viewer = await freshContext(env.browser);
  const page = await viewer.newPage();
  await page.goto(`${env.server.base}/code/${code}`);
  await page.click("button:has-text('Open')");
  await page.waitForSelector("[data-live-state=live]");

  const before = await page.locator(".events > li").count();
  for (const [i, content] of PAYLOADS.entries()) {
    const type = i % 2 ? "message" : "output";
    await env.server.api(`/v1/tasks/${task}/events`, { method: "POST", json: { type, content, ...(type === "output" ? { name: `Out ${NAMED}` } : {}) } });
  }
  await page.waitForFunction((n) => document.querySelectorAll(".events > li").length === n, before + PAYLOADS.length);
  assert.deepEqual(await inspect(page), []);
  await page.reload();
  await page.waitForSelector(".events > li");
  assert.deepEqual(await inspect(page), []);
  assert.deepEqual(viewer.alarms, []);
});
