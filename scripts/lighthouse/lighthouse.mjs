// Lighthouse's four scores (performance, accessibility, best practices, SEO) for
// agentshare's main pages, on a phone (Lighthouse's default, throttled) and on a
// desktop (--preset=desktop), as a markdown table. See ./run.
//
//   node lighthouse.mjs [--out FILE] [--runs N]
//
// The server is $AGENTSHARE_BIN (default target/debug/agentshare) on a random port
// with a fresh SQLite database; Chromium is $CHROME_PATH (default Debian's).

import { spawn, execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const BIN = process.env.AGENTSHARE_BIN ||
  join(resolve(root, process.env.CARGO_TARGET_DIR || "target"), "debug/agentshare");
const CHROME_PATH = process.env.CHROME_PATH || "/usr/bin/chromium";
const LIGHTHOUSE = join(here, "node_modules/.bin/lighthouse");
/** How long one Lighthouse run may take. */
const RUN_MS = 180_000;

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
};
const out = option("--out", null);
const runs = Math.max(1, Number(option("--runs", "1")));

/** A server on a random port, its database in a temporary directory. */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "agentshare-lighthouse-"));
  const database = `sqlite://${dir}/agentshare.db`;
  const repositories = join(dir, "repositories");
  mkdirSync(repositories);
  const child = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--database-url", database,
    "--mail-dir", join(dir, "mail"), "--repositories-dir", repositories],
  { cwd: dir, env: { ...process.env, RUST_LOG: "warn" }, stdio: ["ignore", "pipe", "inherit"] });
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("agentshare serve did not start within 30 s")), 30_000);
    child.once("exit", (code) => fail(new Error(`agentshare serve exited with ${code}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const found = line.match(/^agentshare is serving on (\S+)/);
      if (found) { clearTimeout(timer); ok(found[1]); }
    });
  });
  const key = execFileSync(BIN, ["keys", "create", "--owner", "alice", "--email", "alice@example.com", "--database-url", database])
    .toString().trim().split("\n").pop();
  return {
    base, key,
    stop: () => new Promise((done) => {
      child.once("exit", () => { rmSync(dir, { recursive: true, force: true }); done(); });
      child.kill("SIGTERM");
    }),
  };
}

/** Calls the API; answers the parsed body, failing on an unexpected status. */
async function api(server, path, { method = "GET", json, body, headers = {} } = {}) {
  const response = await fetch(server.base + path, {
    method,
    headers: {
      authorization: `Bearer ${server.key}`,
      ...(json !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: json !== undefined ? JSON.stringify(json) : body,
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The cookies a response sets, as one Cookie header value (merged into `jar`). */
function keepCookies(response, jar = new Map()) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const at = pair.indexOf("=");
    const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    // An empty value is the server removing the cookie.
    if (value) jar.set(name, value);
    else jar.delete(name);
  }
  return jar;
}
const cookieHeader = (jar) => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");

/** Posts the form on the page at `url` (its csrf field filled from the page) as a browser would. */
async function postForm(server, url, fields) {
  const jar = new Map();
  const form = await fetch(url, { redirect: "manual" });
  keepCookies(form, jar);
  const html = await form.text();
  const csrf = html.match(/name="csrf" value="([^"]+)"/)?.[1];
  const action = html.match(/<form method="post" action="([^"]+)"/)?.[1]?.replace(/&amp;/g, "&");
  const posted = await fetch(new URL(action || url, url).href, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: cookieHeader(jar),
      origin: server.base,
      "sec-fetch-site": "same-origin",
    },
    body: new URLSearchParams({ ...(csrf ? { csrf } : {}), ...fields }).toString(),
  });
  keepCookies(posted, jar);
  return { response: posted, jar };
}

const MARKDOWN = `# Release 2.4 checks

Everything passed **except** one flaky test, see [the run](https://ci.example.com/runs/42).

1. The session cookie is renewed on every request.
2. \`renew(session)\` runs *before* the handler.

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
`;

/** Fills the server with pages to measure; answers [{ name, url, cookie }]. */
async function pages(server) {
  const task = async (title, status) => {
    const id = (await api(server, "/v1/tasks", { method: "POST", json: { title, prompt: "not for viewers", agent: "coder 1.0" } })).data.task_id;
    await api(server, `/v1/tasks/${id}`, { method: "PATCH", json: { status: "running" } });
    return id;
  };
  const event = (id, json) => api(server, `/v1/tasks/${id}/events`, { method: "POST", json });
  const file = (id, name, type, content) =>
    api(server, `/v1/tasks/${id}/artifacts?name=${encodeURIComponent(name)}`, { method: "POST", body: content, headers: { "content-type": type } });

  const finished = await task("Release 2.4 checks");
  await event(finished, { type: "output", name: "Report", content: MARKDOWN });
  await event(finished, { type: "output", name: "Notes", content: "All migrations ran; nothing to roll back." });
  await file(finished, "results.csv", "text/csv", "suite,passed\nauthentication,214\n");
  await file(finished, "build.log", "text/plain", "ok\n");
  await api(server, `/v1/tasks/${finished}`, { method: "PATCH", json: { status: "completed" } });
  const link = async (json) => (await api(server, "/v1/share-links", { method: "POST", json: { task_id: finished, ...json } })).data;
  const shared = await link({ title: "Release checks", permissions: { allow_comments: true } });
  const limited = await link({ max_views: 3 });
  await link({ title: "Locked", password: "lighthouse-password" });
  for (const agent of ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1", "curl/8.4.0"]) {
    await fetch(shared.url, { headers: { accept: "application/json", "user-agent": agent, referer: "https://mail.example.com/" } });
  }

  const running = await task("Nightly upgrade");
  await event(running, { type: "progress", content: "Reading the lock file" });
  await event(running, { type: "progress", content: "Upgraded **12** packages" });
  await event(running, { type: "output", name: "Plan", content: "1. Upgrade\n2. Test\n\n```sh\nnpm test\n```" });
  const code = (await api(server, `/v1/agentrix/tasks/${running}/share`, { method: "POST", json: { permissions: { canSendMessage: true } } })).shareCode;
  const opened = await postForm(server, `${server.base}/code/${code}`, { code });
  const live = opened.response.headers.get("location");
  if (!live) throw new Error(`opening the share code: ${opened.response.status}`);

  const signedIn = await postForm(server, `${server.base}/console/login`, { api_key: server.key, next: "" });
  if (![302, 303].includes(signedIn.response.status)) throw new Error(`signing in: ${signedIn.response.status}`);
  const owner = cookieHeader(signedIn.jar);
  const abs = (path) => new URL(path, server.base).href;
  return [
    { name: "share page (outputs, files, comments)", url: shared.url },
    { name: "reveal page (view-limited link)", url: limited.url },
    { name: "live task page (share code)", url: abs(live), cookie: cookieHeader(opened.jar) },
    { name: "console tasks", url: abs("/console/tasks"), cookie: owner },
    { name: "console task", url: abs(`/console/tasks/${finished}`), cookie: owner },
    { name: "console link", url: abs(`/console/links/${shared.share_link_id}`), cookie: owner },
    { name: "console shares", url: abs("/console/shares"), cookie: owner },
  ];
}

/** Lighthouse's scores (0–100) for `url`. */
function lighthouse(url, { desktop, cookie }) {
  const flags = [
    url, "--quiet", "--output=json", "--output-path=stdout",
    "--only-categories=performance,accessibility,best-practices,seo",
    "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
    ...(desktop ? ["--preset=desktop"] : []),
    ...(cookie ? [`--extra-headers=${JSON.stringify({ Cookie: cookie })}`] : []),
  ];
  return new Promise((ok, fail) => {
    execFile(LIGHTHOUSE, flags, { env: { ...process.env, CHROME_PATH }, maxBuffer: 64 << 20, timeout: RUN_MS }, (error, stdout, stderr) => {
      if (error) return fail(new Error(`lighthouse ${url}: ${error.message}\n${stderr}`));
      const report = JSON.parse(stdout);
      if (report.runtimeError) return fail(new Error(`lighthouse ${url}: ${report.runtimeError.message}`));
      const score = (id) => report.categories[id]?.score == null ? null : Math.round(report.categories[id].score * 100);
      // What keeps the accessibility, best-practices and SEO scores below 100.
      const failing = ["accessibility", "best-practices", "seo"].flatMap((id) =>
        (report.categories[id]?.auditRefs || [])
          .filter((ref) => ref.weight > 0 && report.audits[ref.id]?.score != null && report.audits[ref.id].score < 1)
          .map((ref) => ref.id));
      ok({
        scores: ["performance", "accessibility", "best-practices", "seo"].map(score),
        failing,
        final: report.finalDisplayedUrl || report.finalUrl,
        warnings: report.runWarnings || [],
      });
    });
  });
}

/** `lighthouse`, tried again (up to 3 times) when Chromium's trace comes out broken (NO_NAVSTART and the like). */
async function lighthouseRetried(url, options) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lighthouse(url, options);
    } catch (error) {
      if (attempt >= 3) throw error;
      process.stderr.write(`   again after: ${error.message.split("\n")[0]}\n`);
    }
  }
}

/** The median of each score over `runs` runs. */
async function measure(url, options) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await lighthouseRetried(url, options));
  const median = (values) => {
    const known = values.filter((v) => v != null).sort((a, b) => a - b);
    return known.length ? known[Math.floor((known.length - 1) / 2)] : null;
  };
  return {
    scores: [0, 1, 2, 3].map((i) => median(results.map((r) => r.scores[i]))),
    final: results[0].final,
    failing: [...new Set(results.flatMap((r) => r.failing))],
    warnings: [...new Set(results.flatMap((r) => r.warnings))],
  };
}

const server = await startServer();
let table;
try {
  const version = execFileSync(BIN, ["--version"]).toString().trim();
  const rows = [];
  const notes = [];
  const audits = {};
  for (const page of await pages(server)) {
    const cells = [];
    for (const desktop of [false, true]) {
      const mode = desktop ? "desktop" : "mobile";
      process.stderr.write(`== ${page.name}, ${mode}\n`);
      const { scores, final, failing, warnings } = await measure(page.url, { desktop, cookie: page.cookie });
      for (const id of failing) (audits[id] ||= new Set()).add(page.name);
      if (new URL(final).pathname !== new URL(page.url).pathname) notes.push(`${page.name} (${mode}) ended on ${final}`);
      for (const warning of warnings) notes.push(`${page.name} (${mode}): ${warning}`);
      cells.push(scores.map((s) => (s == null ? "–" : String(s))).join(" / "));
    }
    rows.push(`| ${page.name} | ${cells[0]} | ${cells[1]} |`);
  }
  table = [
    `Lighthouse scores of ${version} (${BIN}), performance / accessibility / best practices / SEO` +
      (runs > 1 ? `, median of ${runs} runs` : ""),
    "",
    "| page | mobile perf / a11y / bp / SEO | desktop perf / a11y / bp / SEO |",
    "|---|---|---|",
    ...rows,
    ...(Object.keys(audits).length
      ? ["", "Failed audits (accessibility, best practices, SEO):", "",
        ...Object.entries(audits).map(([id, where]) => `- \`${id}\`: ${[...where].join(", ")}`)]
      : []),
    ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
    "",
  ].join("\n");
} finally {
  await server.stop();
}
process.stdout.write(table);
if (out) writeFileSync(out, table);
