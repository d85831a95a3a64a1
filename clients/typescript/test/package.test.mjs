// The package as it is installed: its exports, and a library that runs in browsers too.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as sdk from "@agentshare/sdk";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

test("the package is an ES module whose exports and types point at dist", () => {
  assert.equal(pkg.name, "@agentshare/sdk");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.exports["."].default, "./dist/index.js");
  assert.equal(pkg.exports["."].types, "./dist/index.d.ts");
  assert.equal(pkg.types, "./dist/index.d.ts");
  assert.deepEqual(pkg.dependencies ?? {}, {}, "no runtime dependencies");
  assert.deepEqual(Object.keys(pkg.devDependencies), ["typescript"]);
  assert.match(pkg.devDependencies.typescript, /^\d+\.\d+\.\d+$/, "an exact version");
  assert.equal(sdk.AgentrixClient, sdk.AgentshareClient);
  assert.equal(typeof sdk.AgentshareError, "function");
  const declarations = readFileSync(join(root, "dist", "index.d.ts"), "utf8");
  assert.match(declarations, /AgentrixClient/);
  assert.match(declarations, /AgentshareError/);
});

test("the library imports nothing of Node's and reads the environment only where there is one", () => {
  for (const file of readdirSync(join(root, "dist")).filter((f) => f.endsWith(".js"))) {
    const code = readFileSync(join(root, "dist", file), "utf8");
    assert.doesNotMatch(code, /from\s+["']node:|import\(["']node:|require\(/, `${file} imports Node modules`);
    assert.doesNotMatch(code, /\bBuffer\b|__dirname|(?<!\.)\bprocess\./, `${file} uses a Node-only global`);
    for (const [, spec] of code.matchAll(/from\s+["']([^"']+)["']/g)) {
      assert.match(spec, /^\.\/[\w-]+\.js$/, `${file} imports ${spec}: only the package's own files`);
    }
  }
});

test("without a process (a browser), the client falls back to the default server", async () => {
  const saved = globalThis.process;
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, "process");
  Object.defineProperty(globalThis, "process", { value: undefined, configurable: true, writable: true });
  let server;
  try {
    server = new sdk.AgentshareClient({ apiKey: "k" }).server;
  } finally {
    Object.defineProperty(globalThis, "process", descriptor ?? { value: saved, configurable: true, writable: true });
  }
  assert.equal(server, "http://127.0.0.1:8080");
  assert.equal(new sdk.AgentshareClient({ apiKey: "k", server: "https://share.example.com/" }).server, "https://share.example.com");
});

test("the client sends its requests through the fetch it is given", async () => {
  const calls = [];
  const c = new sdk.AgentshareClient({
    apiKey: process.env.AGENTSHARE_API_KEY,
    server: process.env.AGENTSHARE_SERVER,
    fetch: (url, init) => {
      calls.push([url, init.method, init.headers.Authorization]);
      return fetch(url, init);
    },
  });
  const page = await c.tasks.list({ status: "completed", limit: 5 });
  assert.ok(Array.isArray(page.tasks));
  const base = process.env.AGENTSHARE_SERVER.replace(/\/+$/, "");
  assert.deepEqual(calls, [[`${base}/v1/tasks?status=completed&limit=5`, "GET", `Bearer ${process.env.AGENTSHARE_API_KEY}`]]);
});
