// What every page owes its reader whatever the browser's settings: readable buttons
// in dark mode, a copy that is announced, an icon that exists, assets that come
// compressed and are never asked for twice.

import { test } from "node:test";
import assert from "node:assert/strict";
import { serverAndBrowser, freshContext, finishedTask, shareLink, signInToConsole } from "./harness.mjs";

const env = serverAndBrowser();

/** A page of a fresh context, signed in to the console as alice. */
const signIn = (context) => signInToConsole(env.server, context);

/** WCAG contrast of an element's text against its own background (both opaque). */
function contrastOf(page, selector) {
  return page.$eval(selector, (element) => {
    const rgb = (css) => css.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
    const luminance = ([r, g, b]) => {
      const [R, G, B] = [r, g, b].map((v) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const style = getComputedStyle(element);
    const [a, b] = [luminance(rgb(style.color)), luminance(rgb(style.backgroundColor))].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  });
}

for (const colorScheme of ["dark", "light"]) {
  test(`in ${colorScheme} mode, danger and copied buttons are readable and a copy is announced`, async () => {
    const task = await finishedTask(env.server, { title: `Contrast ${colorScheme}` });
    await shareLink(env.server, task);
    const context = await freshContext(env.browser, { colorScheme, permissions: ["clipboard-read", "clipboard-write"] });
    const page = await signIn(context);
    await page.click(`text=Contrast ${colorScheme}`);

    const revoke = await contrastOf(page, "button.danger");
    assert.ok(revoke >= 4.5, `Revoke: ${revoke.toFixed(2)}:1`);

    await page.click("button[data-copy]");
    await page.waitForSelector("button.copied", { timeout: 5_000 });
    const copied = await contrastOf(page, "button.copied");
    assert.ok(copied >= 4.5, `Copied: ${copied.toFixed(2)}:1`);
    const announcer = page.locator("#announcer[role=status][aria-live=polite]");
    await announcer.filter({ hasText: "Copied to the clipboard" }).waitFor({ timeout: 5_000 });
    assert.deepEqual(context.alarms, []);
    await context.close();
  });
}

test("a share page asks for nothing that is missing, gets its assets gzipped, and keeps them", async () => {
  const task = await finishedTask(env.server, { title: "Icons" });
  const link = await shareLink(env.server, task);
  const context = await freshContext(env.browser);
  const page = await context.newPage();
  const answers = [];
  page.on("response", (response) => answers.push(response));
  await page.goto(link.url);
  await page.waitForLoadState("load");

  const failed = answers.filter((r) => r.status() >= 400).map((r) => `${r.status()} ${r.url()}`);
  assert.deepEqual(failed, [], "no request fails");
  // Headless Chromium asks for no icon; a browser with a tab strip asks for the
  // page's, and tools ask for /favicon.ico.
  const iconHref = await page.$eval("link[rel=icon]", (link) => link.href);
  for (const url of [iconHref, `${env.server.base}/favicon.ico`]) {
    const icon = await page.request.get(url);
    assert.equal(icon.status(), 200, url);
    assert.equal(icon.headers()["content-type"], "image/svg+xml", url);
  }

  for (const name of ["agentshare.css", "agentshare.js"]) {
    const asset = answers.find((r) => new URL(r.url()).pathname === `/assets/${name}`);
    assert.ok(asset, name);
    const headers = await asset.allHeaders();
    assert.equal(headers["content-encoding"], "gzip", name);
    assert.match(headers["cache-control"], /immutable/, name);
  }
  const page2 = answers.find((r) => r.url() === link.url);
  assert.equal((await page2.allHeaders())["content-encoding"], "gzip", "the page itself");

  // A second page reads the assets from the browser's cache: nothing crosses the
  // network for them (a transfer size of 0).
  await page.goto(link.url);
  await page.waitForLoadState("load");
  const transfers = await page.evaluate(() =>
    performance.getEntriesByType("resource")
      .filter((entry) => new URL(entry.name).pathname.startsWith("/assets/agentshare."))
      .map((entry) => [new URL(entry.name).pathname, entry.transferSize]));
  assert.equal(transfers.length, 2, JSON.stringify(transfers));
  for (const [path, bytes] of transfers) assert.equal(bytes, 0, `${path} came over the network again`);
  assert.deepEqual(context.alarms, []);
  await context.close();
});
