// Every operation of the server's OpenAPI document has a method of the client.

import { test } from "node:test";
import assert from "node:assert/strict";
import { AgentshareClient, OPERATIONS } from "@agentshare/sdk";
import { SERVER } from "./helpers.mjs";

const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);

async function serverOperations() {
  const response = await fetch(`${SERVER.replace(/\/+$/, "")}/openapi.json`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  const document = await response.json();
  const ids = [];
  for (const item of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (METHODS.has(method) && operation.operationId) ids.push(operation.operationId);
    }
  }
  return ids;
}

test("the client covers every operation the server has, with methods that exist", async () => {
  const ids = await serverOperations();
  assert.ok(ids.length > 0);
  const missing = ids.filter((id) => !(id in OPERATIONS));
  assert.deepEqual(missing, [], `operations the client does not cover: ${missing.join(", ")}`);
  const gone = Object.keys(OPERATIONS).filter((id) => !ids.includes(id));
  assert.deepEqual(gone, [], `operations the server no longer has: ${gone.join(", ")}`);

  const client = new AgentshareClient({ apiKey: "unused", server: SERVER });
  const broken = [];
  for (const [id, path] of Object.entries(OPERATIONS)) {
    const parts = path.split(".");
    let owner = client;
    for (const part of parts.slice(0, -1)) owner = owner?.[part];
    if (typeof owner?.[parts.at(-1)] !== "function") broken.push(`${id} → ${path}`);
  }
  assert.deepEqual(broken, [], `table entries naming no method: ${broken.join(", ")}`);
});
