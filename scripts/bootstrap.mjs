#!/usr/bin/env node
// Dependency-free pre-step for `npm test` and `npm run local`: installs npm dependencies when the lockfile
// changed, then the real backing servers and tools (scripts/setup/setup.sh). Safe to run again: both are cached.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const stamp = join(root, "node_modules", ".blueprint-lock-hash");
const lockHash = createHash("sha256")
  .update(readFileSync(join(root, "package-lock.json")))
  .digest("hex");

function step(title, command, args) {
  const started = Date.now();
  process.stdout.write(`▶ ${title}\n`);
  try {
    execFileSync(command, args, { cwd: root, stdio: "inherit", env: process.env });
  } catch (error) {
    process.stderr.write(`✖ ${title} failed (${command} ${args.join(" ")}): ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`✔ ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}

if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== lockHash) {
  step("npm ci", "npm", ["ci", "--no-audit", "--no-fund"]);
  mkdirSync(dirname(stamp), { recursive: true });
  writeFileSync(stamp, lockHash);
} else {
  process.stdout.write("✔ npm dependencies up to date\n");
}
if (process.env.BLUEPRINT_SKIP_SETUP !== "1")
  step("backing servers and tools", "bash", [join(root, "scripts/setup/setup.sh")]);
