// Every page a person can reach passes axe-core's WCAG 2.2 AA and best-practice
// rules, in light and dark mode, on a phone and on a desktop. Each page is one
// test that checks all four variants before it fails, so one run lists every
// violation; set AXE_REPORT=FILE to also get them as JSON lines (with what axe
// left for a person to check, marked "kind": "incomplete").

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { startServer, launchBrowser, finishedTask, shareLink, mailTo, git } from "./harness.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const AXE_OPTIONS = {
  runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
};
const SCHEMES = ["light", "dark"];
const SCREENS = [
  { name: "390", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  { name: "1350", viewport: { width: 1350, height: 900 } },
];
/** How long any one step may take. */
const STEP_MS = 15_000;
/** How long axe may take over one page. */
const AXE_MS = 60_000;
const REPORT = process.env.AXE_REPORT || null;

const env = { server: null, browser: null };

/** A markdown output with most of what outputs contain. */
const MARKDOWN = `# Release 2.4 checks

Everything passed **except** one flaky test, see [the run](https://ci.example.com/runs/42).

## What changed

1. The session cookie is renewed on every request.
2. \`renew(session)\` runs *before* the handler.
   - nested item with \`inline code\`
   - another one

> Note: the old cookies stay valid until they expire.

### Test results

| Suite | passed | failed | skipped |
|---|---:|---:|---:|
| authentication | 214 | 0 | 3 |
| billing | 88 | 1 | 0 |

\`\`\`rust
fn renew(session: &mut Session) -> Result<(), Error> {
    session.expires_at = now() + Duration::from_secs(3600);
    Ok(())
}
\`\`\`

\`\`\`
$ cargo test --workspace
test result: ok. 302 passed; 1 failed; 3 ignored
\`\`\`

---

- [x] migrations
- [ ] docs
`;

const fixtures = {};

// One hook (rather than the harness's own) so that the pages are made only once
// the server is up.
before(async () => {
  env.server = await startServer();
  env.browser = await launchBrowser();
  const { server } = env;
  fixtures.plain = await finishedTask(server, { title: "Fix the login bug" });
  fixtures.rich = await finishedTask(server, {
    title: "Release 2.4 checks",
    outputs: [
      { name: "Report", content: MARKDOWN },
      { name: "Notes", content: "Short plain note with a link: https://example.com/notes" },
    ],
    files: [
      { name: "results.csv", type: "text/csv", content: "suite,passed\nauthentication,214\n" },
      { name: "build.log", type: "text/plain", content: "ok\n" },
    ],
  });
  fixtures.open = await shareLink(server, fixtures.plain, { title: "Login fix" });
  fixtures.richLink = await shareLink(server, fixtures.rich, { title: "Release checks" });
  fixtures.password = await shareLink(server, fixtures.plain, { password: "axe-password", max_views: 5, title: "Locked results" });
  fixtures.reveal = await shareLink(server, fixtures.plain, { max_views: 3 });
  fixtures.comments = await shareLink(server, fixtures.rich, { title: "Open for comments", permissions: { allow_comments: true } });
  fixtures.audience = await shareLink(server, fixtures.plain, { audience: { type: "domains", domains: ["example.com"] } });
  const gone = await shareLink(server, fixtures.plain, { title: "Revoked" });
  const revoked = await server.api(`/v1/share-links/${gone.share_link_id}`, { method: "DELETE" });
  assert.ok(revoked.status < 300, `revoke: ${revoked.status}`);
  fixtures.gone = gone;

  // Views from a few browsers and places, for the link's analytics.
  for (const [agent, referer] of [
    ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1", "https://mail.example.com/inbox"],
    ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", "https://chat.example.com/"],
    ["curl/8.4.0", ""],
  ]) {
    await fetch(fixtures.comments.url, { headers: { accept: "application/json", "user-agent": agent, ...(referer ? { referer } : {}) } });
  }

  // A published comment, so that the share page and the link's page list one.
  const context = await newContext("light", SCREENS[1]);
  try {
    const page = await context.newPage();
    await postComment(page, fixtures.comments.url, "published@example.com");
    await page.goto(await verificationLink("published@example.com"));
    await page.waitForSelector("text=Your comment is published", { timeout: STEP_MS });
  } finally {
    await context.close();
  }

  // A running task followed by share code: events, a file, a pull request.
  const repositories = server.repositories;
  const bare = join(repositories, "acme.git");
  git(repositories, "init", "--bare", "-b", "main", "acme.git");
  const work = fixtures.work = mkdtempSync(join(tmpdir(), "agentshare-axe-"));
  git(work, "clone", bare, ".");
  git(work, "checkout", "-b", "main");
  git(work, "commit", "--allow-empty", "-m", "start");
  git(work, "push", "origin", "main");
  git(work, "checkout", "-b", "feature");
  writeFileSync(join(work, "login.js"), "export const secure = true;\nexport const sameSite = \"lax\";\n");
  git(work, "add", "login.js");
  git(work, "commit", "-m", "Make the cookie secure");
  git(work, "push", "origin", "feature");
  server.grant("acme.git");

  const created = await server.api("/v1/tasks", { method: "POST", json: { title: "Nightly upgrade", agent: "coder 1.0" } });
  const running = created.body.data.task_id;
  fixtures.running = running;
  await server.api(`/v1/tasks/${running}`, { method: "PATCH", json: { status: "running", repository: "acme.git", base_branch: "main" } });
  for (const event of [
    { type: "progress", content: "Reading the lock file" },
    { type: "progress", content: "Upgraded **12** packages" },
    { type: "output", name: "Plan", content: "1. Upgrade\n2. Test\n\n```sh\nnpm test\n```" },
  ]) {
    await server.api(`/v1/tasks/${running}/events`, { method: "POST", json: event });
  }
  await server.api(`/v1/tasks/${running}/artifacts?name=upgrade.log`, {
    method: "POST", body: "upgraded 12 packages\n", headers: { "content-type": "text/plain" },
  });
  const pull = await server.api(`/v1/tasks/${running}/pull-requests`, {
    method: "POST", json: { title: "Secure cookie", head_branch: "feature", description: "Sets Secure and SameSite." },
  });
  assert.equal(pull.status, 201, JSON.stringify(pull.body));
  const code = await server.api(`/v1/agentrix/tasks/${running}/share`, {
    method: "POST",
    json: { permissions: { canSendMessage: true, canViewPr: true, canApprovePr: true, canMergePr: true, canCreatePr: true } },
  });
  assert.equal(code.status, 201, JSON.stringify(code.body));
  fixtures.code = code.body.shareCode;
  const richCode = await server.api(`/v1/agentrix/tasks/${fixtures.rich}/share`, { method: "POST", json: { permissions: {} } });
  assert.equal(richCode.status, 201, JSON.stringify(richCode.body));

  // The owner's signed-in browser state, reused by every console page.
  const owner = await newContext("light", SCREENS[1]);
  try {
    const page = await owner.newPage();
    await page.goto(`${server.base}/console/login`);
    await page.fill("#api-key", server.key);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/console\/tasks$/, { timeout: STEP_MS });
    fixtures.owner = await owner.storageState();
  } finally {
    await owner.close();
  }
});

after(async () => {
  await env.browser?.close();
  await env.server?.stop();
  if (fixtures.work) rmSync(fixtures.work, { recursive: true, force: true });
});

async function newContext(colorScheme, screen, extra = {}) {
  const { name: _name, ...device } = screen;
  const context = await env.browser.newContext({ bypassCSP: true, colorScheme, reducedMotion: "reduce", ...device, ...extra });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  // Forms that ask for confirmation are confirmed.
  context.on("page", (page) => page.on("dialog", (dialog) => dialog.accept()));
  return context;
}

/** Posts a comment on the share page at `url` as `email`; ends on the "check your mail" page. */
async function postComment(page, url, email) {
  await page.goto(url);
  await page.fill("#c-name", "Carol");
  await page.fill("#c-email", email);
  await page.fill("#c-content", "Looks right to me.");
  await page.click(".comments button:has-text('Send')");
  await page.waitForSelector("text=Check your email", { timeout: STEP_MS });
}

/** The comment verification link mailed to `email`. */
async function verificationLink(email) {
  const mail = await mailTo(env.server, email, STEP_MS);
  return mail.match(/https?:\/\/\S+\/comments\/verify\?code=[A-Za-z0-9_-]+/)[0];
}

/** Opens the share code as a new viewer; ends on the live task page. */
async function openCode(page) {
  await page.goto(`${env.server.base}/code/${fixtures.code}`);
  await page.click("button:has-text('Open')");
  await page.waitForURL(/\/t\/task_[0-9a-f]{16}$/, { timeout: STEP_MS });
  await page.waitForSelector("[data-live-state=live]", { timeout: STEP_MS });
}

/**
 * Runs axe over what `page` shows; answers its violations, and what axe could not
 * decide by itself (`incomplete`: only reported, in AXE_REPORT).
 */
async function runAxe(page) {
  await page.addScriptTag({ content: axeSource });
  let timer;
  const timeout = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`axe took over ${AXE_MS} ms`)), AXE_MS);
  });
  try {
    return await Promise.race([
      timeout,
      page.evaluate(async (options) => {
        const results = await window.axe.run(document, options);
        const brief = (list) => list.map((v) => ({
          id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
          nodes: v.nodes.map((n) => ({ target: n.target.map(String), failureSummary: n.failureSummary })),
        }));
        return { violations: brief(results.violations), incomplete: brief(results.incomplete) };
      }, AXE_OPTIONS),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(found) {
  return found.map((v) => {
    const nodes = v.nodes.slice(0, 5).map((n) =>
      `      ${n.target.join(" ")}\n        ${(n.failureSummary || "").replace(/\n/g, "\n        ")}`);
    const more = v.nodes.length > 5 ? [`      … and ${v.nodes.length - 5} more`] : [];
    return [`  ${v.page} [${v.scheme}, ${v.width}px] ${v.id} (${v.impact}): ${v.help}`, ...nodes, ...more].join("\n");
  }).join("\n");
}

/**
 * One test per page: `visit(page, variant)` brings a fresh browser to the page
 * (signed in to the console when `console` is set), then axe checks it.
 */
function page(name, visit, { console: signedIn = false } = {}) {
  test(`axe: ${name}`, { timeout: 4 * (2 * STEP_MS + AXE_MS) + 30_000 }, async () => {
    const found = [];
    const undecided = [];
    let variant = 0;
    for (const scheme of SCHEMES) {
      for (const screen of SCREENS) {
        const context = await newContext(scheme, screen, signedIn ? { storageState: fixtures.owner } : {});
        try {
          const tab = await context.newPage();
          await visit(tab, { scheme, width: screen.name, n: variant++ });
          const { violations, incomplete } = await runAxe(tab);
          for (const v of violations) found.push({ page: name, scheme, width: screen.name, url: tab.url(), ...v });
          for (const v of incomplete) undecided.push({ kind: "incomplete", page: name, scheme, width: screen.name, url: tab.url(), ...v });
        } finally {
          await context.close();
        }
      }
    }
    if (REPORT) for (const v of [...found, ...undecided]) appendFileSync(REPORT, JSON.stringify(v) + "\n");
    assert.equal(found.length, 0, `${found.length} axe violation(s) on ${name}:\n${describe(found)}`);
  });
}

const base = () => env.server.base;

// What viewers of a share link see.
page("share link page", async (tab) => {
  await tab.goto(fixtures.open.url);
  await tab.waitForSelector(".markdown", { timeout: STEP_MS });
});
page("share link page with markdown and files", async (tab) => {
  await tab.goto(fixtures.richLink.url);
  await tab.waitForSelector(".artifacts", { timeout: STEP_MS });
});
page("share link page with comments", async (tab) => {
  await tab.goto(fixtures.comments.url);
  await tab.waitForSelector(".comments form", { timeout: STEP_MS });
});
page("password form", async (tab) => {
  await tab.goto(fixtures.password.url);
  await tab.waitForSelector("#password", { timeout: STEP_MS });
});
page("password form after a wrong password", async (tab) => {
  await tab.goto(fixtures.password.url);
  await tab.fill("#password", "wrong-password");
  await tab.click("button:has-text('Open')");
  await tab.waitForSelector("[role=alert]", { timeout: STEP_MS });
});
page("reveal page of a view-limited link", async (tab) => {
  await tab.goto(fixtures.reveal.url);
  await tab.waitForSelector("button:has-text('Reveal')", { timeout: STEP_MS });
});
page("gone page", async (tab) => {
  const response = await tab.goto(fixtures.gone.url);
  assert.equal(response.status(), 404);
});
page("audience: enter your e-mail address", async (tab) => {
  await tab.goto(fixtures.audience.url);
  await tab.waitForSelector("#email", { timeout: STEP_MS });
});
page("audience: enter the code", async (tab, { n }) => {
  await tab.goto(fixtures.audience.url);
  await tab.fill("#email", `axe-audience-${n}@example.com`);
  await tab.click("button:has-text('Send me a code')");
  await tab.waitForSelector("#code", { timeout: STEP_MS });
});
page("comment sent, check your mail", async (tab, { n }) => {
  await postComment(tab, fixtures.comments.url, `axe-sent-${n}@example.com`);
});
page("comment verification page", async (tab, { n }) => {
  const email = `axe-verify-${n}@example.com`;
  await postComment(tab, fixtures.comments.url, email);
  await tab.goto(await verificationLink(email));
  await tab.waitForSelector("text=Your comment is published", { timeout: STEP_MS });
});
page("form that can't be accepted", async (tab) => {
  await tab.goto(fixtures.audience.url);
  await tab.$eval("input[name=csrf]", (input) => { input.value = "forged"; });
  await tab.fill("#email", "axe-forged@example.com");
  await tab.click("button:has-text('Send me a code')");
  await tab.waitForSelector("h1:has-text(\"can't be accepted\")", { timeout: STEP_MS });
});

// What someone given a share code sees.
page("share-code entry page", async (tab) => {
  await tab.goto(`${base()}/code`);
  await tab.waitForSelector("#code", { timeout: STEP_MS });
});
page("live task page", async (tab) => {
  await openCode(tab);
  await tab.waitForSelector(".message-box form", { timeout: STEP_MS });
});
page("pull request page", async (tab) => {
  await openCode(tab);
  await tab.click("text=#1 Secure cookie");
  await tab.waitForSelector(".patch", { timeout: STEP_MS });
});
page("session-ended page", async (tab) => {
  const response = await tab.goto(`${base()}/t/${fixtures.running}`);
  assert.equal(response.status(), 401);
});

// The owner's console.
page("console sign-in", async (tab) => {
  await tab.goto(`${base()}/console/login`);
  await tab.waitForSelector("#api-key", { timeout: STEP_MS });
});
page("console sign-in with a wrong key", async (tab) => {
  await tab.goto(`${base()}/console/login`);
  await tab.fill("#api-key", "ask_not-a-real-key");
  await tab.click("button[type=submit]");
  await tab.waitForSelector("[role=alert]", { timeout: STEP_MS });
});
page("console tasks", async (tab) => {
  await tab.goto(`${base()}/console/tasks`);
  await tab.waitForSelector(".rows", { timeout: STEP_MS });
}, { console: true });
page("console task page of a running task with a share code", async (tab) => {
  await tab.goto(`${base()}/console/tasks/${fixtures.running}`);
  await tab.waitForSelector("main h1", { timeout: STEP_MS });
}, { console: true });
page("console task page with outputs, files, links and a share code", async (tab) => {
  await tab.goto(`${base()}/console/tasks/${fixtures.rich}`);
  await tab.waitForSelector("#links", { timeout: STEP_MS });
}, { console: true });
page("console Share dialog", async (tab) => {
  await tab.goto(`${base()}/console/tasks/${fixtures.plain}`);
  await tab.click("[data-open='#share-dialog']");
  await tab.waitForSelector("#share-dialog[open]", { timeout: STEP_MS });
}, { console: true });
page("console Share dialog with a preview", async (tab) => {
  await tab.goto(`${base()}/console/tasks/${fixtures.plain}`);
  await tab.click("[data-open='#share-dialog']");
  await tab.click("#share-dialog button:has-text('Preview')");
  await tab.waitForSelector("#share-dialog[open] .preview", { timeout: STEP_MS });
}, { console: true });
page("console new link dialog", async (tab) => {
  await tab.goto(`${base()}/console/tasks/${fixtures.plain}`);
  await tab.click("[data-open='#share-dialog']");
  await tab.click("#share-dialog button[type=submit]");
  await tab.waitForSelector("#created-dialog[open]", { timeout: STEP_MS });
}, { console: true });
page("console link page", async (tab) => {
  await tab.goto(`${base()}/console/links/${fixtures.comments.share_link_id}`);
  await tab.waitForSelector("#comments", { timeout: STEP_MS });
}, { console: true });
page("console shares", async (tab) => {
  await tab.goto(`${base()}/console/shares`);
  await tab.waitForSelector("main", { timeout: STEP_MS });
}, { console: true });
page("console sharing policy", async (tab) => {
  await tab.goto(`${base()}/console/settings/sharing`);
  await tab.waitForSelector("button:has-text('Save policy')", { timeout: STEP_MS });
}, { console: true });
page("console revoke-all confirmation", async (tab) => {
  await tab.goto(`${base()}/console/shares/revoke-all`);
  await tab.waitForSelector("form", { timeout: STEP_MS });
}, { console: true });
page("404 page", async (tab) => {
  const response = await tab.goto(`${base()}/console/tasks/task_0123456789abcdef`);
  assert.equal(response.status(), 404);
}, { console: true });
