// Screenshots of the main pages for the README, taken from `agentshare demo`:
//   node tests/browser/screenshots.mjs [DIR]        (default: docs/screenshots)
// Views come from a few browsers, referrers and (through the test GeoIP database)
// countries, so that the analytics page has something to show.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { BIN, root, launchBrowser } from "./harness.mjs";

const out = resolve(process.argv[2] || join(root, "docs/screenshots"));
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "agentshare-screenshots-"));

const demo = spawn(BIN, [
  "demo", "--listen", "127.0.0.1:0", "--database-url", `sqlite://${dir}/demo.db`, "--mail-dir", join(dir, "mail"),
  "--geoip-db", join(root, "tests/fixtures/test-city.mmdb"), "--trusted-proxy", "127.0.0.1/32",
], { cwd: dir, env: { ...process.env, RUST_LOG: "warn" }, stdio: ["ignore", "pipe", "inherit"] });

const printed = await new Promise((done, fail) => {
  const lines = [];
  demo.once("exit", (code) => fail(new Error(`agentshare demo exited with ${code}`)));
  createInterface({ input: demo.stdout }).on("line", (line) => {
    lines.push(line);
    if (line.startsWith("Press Ctrl-C")) done(lines.join("\n"));
  });
});
const find = (pattern) => printed.match(pattern)[1];
const base = find(/serving on (http:\/\/\S+?),/);
const shared = find(/what a viewer sees\):\s+(\S+)/);
const code = find(/shared by code:\s+(\S+)/);
const key = find(/^(ask_\S+)$/m);

// Some viewers: phones and desktops, from mail and chat, in two countries.
const viewers = [
  ["203.0.113.7", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "https://mail.google.com/"],
  ["203.0.113.8", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", "https://app.slack.com/"],
  ["198.51.100.20", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "https://mail.google.com/"],
  ["198.51.100.21", "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36", ""],
  ["203.0.113.9", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", "https://teams.microsoft.com/"],
];
for (const [ip, agent, referer] of viewers) {
  await fetch(shared, { headers: { accept: "application/json", "user-agent": agent, "x-forwarded-for": ip, ...(referer ? { referer } : {}) } });
}

const browser = await launchBrowser();
try {
  const desktop = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await desktop.newPage();
  await page.goto(shared);
  await page.screenshot({ path: join(out, "share-page.png"), fullPage: true });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const mobile = await phone.newPage();
  await mobile.goto(shared);
  await mobile.screenshot({ path: join(out, "share-page-mobile.png") });

  await page.goto(`${base}/console/login`);
  await page.fill("#api-key", key);
  await page.click("button:has-text('Sign in')");
  await page.waitForURL(/\/console\/tasks$/);
  await page.screenshot({ path: join(out, "console-tasks.png") });
  await page.click("text=Fix the login redirect loop");
  await page.click("[data-open='#share-dialog']");
  await page.fill("#s-title", "Login fix for the client");
  await page.screenshot({ path: join(out, "console-share-dialog.png") });
  await page.click("#share-dialog button[type=submit]");
  await page.waitForSelector("#created-dialog[open]");
  await page.screenshot({ path: join(out, "console-link-ready.png") });
  await page.goto(`${base}/console/shares`);
  await page.click("text=Login fix — results");
  await page.screenshot({ path: join(out, "console-analytics.png"), fullPage: true });

  const viewer = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const live = await viewer.newPage();
  await live.goto(code);
  await live.click("button:has-text('Open')");
  await live.waitForSelector("[data-live-state=live]");
  await live.waitForFunction(() => document.querySelectorAll(".events > li").length >= 2);
  await live.screenshot({ path: join(out, "live-task.png") });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  demo.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
