#!/usr/bin/env node
// `npm test`: every check in order, with progress and one closing count line. `npm run pretest` (bootstrap) ran first.
// Flags: --only unit|integration|e2e (repeatable) narrows the vitest projects; --no-static skips typecheck/lint.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const only = args.flatMap((a, i) => (a === "--only" ? [args[i + 1]] : []));
const projects = only.length > 0 ? only : ["unit", "integration", "e2e"];
const results = [];

function run(title, command, commandArgs, env = {}) {
  const started = Date.now();
  process.stdout.write(`\n▶ ${title}\n`);
  const r = spawnSync(command, commandArgs, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = r.status === 0;
  results.push({ title, ok, seconds });
  process.stdout.write(`${ok ? "✔" : "✖"} ${title} (${seconds} s)\n`);
  return ok;
}

const npx = (bin, ...rest) => ["npx", ["--no-install", bin, ...rest]];

if (!args.includes("--no-static")) {
  run("typecheck (tsc --noEmit)", ...npx("tsc", "-p", "tsconfig.json", "--noEmit"));
  run("lint (eslint)", ...npx("eslint", "."));
  run("format (prettier --check)", ...npx("prettier", "--check", "--log-level", "warn", "."));
}
// The local environment and e2e tests run the compiled services, as containers would.
run("build services (tsc -b)", "npm", ["run", "--silent", "build"]);

mkdirSync(join(root, "reports"), { recursive: true });
let passed = 0;
let failed = 0;
let skipped = 0;
for (const project of projects) {
  const out = join(root, "reports", `vitest-${project}.json`);
  run(
    `vitest --project ${project}`,
    ...npx(
      "vitest",
      "run",
      "--project",
      project,
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${out}`,
    ),
  );
  if (existsSync(out)) {
    const report = JSON.parse(readFileSync(out, "utf8"));
    // A project that finds no test is a broken glob, not a pass (vitest already exits non-zero for it).
    if (report.numTotalTests === 0) failed += 1;
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  } else {
    failed += 1;
  }
}

process.stdout.write("\nSummary\n");
for (const r of results)
  process.stdout.write(`  ${r.ok ? "✔" : "✖"} ${r.title.padEnd(40)} ${r.seconds.padStart(7)} s\n`);
const stepsFailed = results.filter((r) => !r.ok).length;
process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
if (stepsFailed > 0) process.stdout.write(`${stepsFailed} step(s) failed\n`);
process.exit(stepsFailed > 0 || failed > 0 ? 1 : 0);
