// The published declarations (dist/*.d.ts) serve a TypeScript user: test/types/usage.ts
// type-checks against the package as it resolves by name.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc");

test("code written against the declarations type-checks", async () => {
  const result = await new Promise((done) => {
    execFile(process.execPath, [tsc, "-p", join(root, "test", "types", "tsconfig.json")], { timeout: 120_000 }, (error, stdout, stderr) =>
      done({ code: error ? error.code ?? error.signal : 0, output: `${stdout}${stderr}` }),
    );
  });
  assert.equal(result.code, 0, result.output);
});
