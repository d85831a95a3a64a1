// Fails unless dist/ is exactly what the pinned TypeScript compiles from src/ now:
// compiles into a temporary directory and compares every file, both ways.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const tsc = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc");

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

const out = mkdtempSync(join(tmpdir(), "agentshare-ts-dist-"));
try {
  try {
    execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json"), "--outDir", out], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    });
  } catch (error) {
    console.error(`tsc failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    process.exit(1);
  }
  const built = files(out);
  const committed = files(dist);
  const problems = [];
  for (const file of built) {
    if (!committed.includes(file)) problems.push(`dist/${file} is missing`);
    else if (!readFileSync(join(out, file)).equals(readFileSync(join(dist, file)))) problems.push(`dist/${file} is stale`);
  }
  for (const file of committed) {
    if (!built.includes(file)) problems.push(`dist/${file} is not built from src/ (remove it)`);
  }
  if (problems.length > 0) {
    console.error(`dist/ is not what tsc builds from src/ (run \`npm run build\`):\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`dist/ matches src/ (${built.length} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
