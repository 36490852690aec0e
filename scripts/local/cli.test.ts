import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { stateFile, writeState } from "./state.js";

// The CLI as users run it (tsx scripts/local/cli.ts); the "running" environment is a state file whose recorded
// processes are this test process, which is alive and must be left alone.
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function runningEnvironment(): string {
  const dir = mkdtempSync(join(tmpdir(), "local-cli-"));
  dirs.push(dir);
  writeState(dir, {
    stack: "local",
    basePort: 18000,
    ownerPid: process.pid,
    startedAt: "2026-01-01T00:00:00.000Z",
    routing: { activeColor: "blue", versions: { blue: "1.0.0" } },
    processes: [
      {
        name: "redis-region-a",
        role: "redis",
        pid: process.pid,
        host: "127.0.1.1",
        port: 1,
        url: "",
        log: "",
      },
    ],
  });
  return dir;
}

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "scripts", "local", "cli.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });

describe("npm run local (cli)", () => {
  it.each([[[]], [["up"]]])(
    "when --state-dir is a non-empty directory the environment did not create and %j is asked, then it exits 1 before building and deletes nothing",
    (args) => {
      const dir = mkdtempSync(join(tmpdir(), "local-cli-"));
      dirs.push(dir);
      writeFileSync(join(dir, "notes.txt"), "keep me");

      const run = cli(...args, "--state-dir", dir);

      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        `state dir ${dir} is not empty and was not created by the local environment`,
      );
      expect(run.stdout).not.toContain("build");
      expect(existsSync(join(dir, "notes.txt"))).toBe(true);
    },
  );

  it.each([[[]], [["--fail-gate"]], [["up"]]])(
    "when an environment is already running and %j is asked, then it exits non-zero naming down and status, and leaves it running",
    (args) => {
      const dir = runningEnvironment();
      const before = readFileSync(stateFile(dir), "utf8");

      const run = cli(...args, "--state-dir", dir);

      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        `the local environment "local" is already running (started 2026-01-01T00:00:00.000Z by pid ${process.pid}) — run 'npm run local -- down' first, or 'npm run local -- status' to see it`,
      );
      expect(run.stdout).not.toContain("build");
      expect(readFileSync(stateFile(dir), "utf8")).toBe(before);
    },
  );

  it("when --canary is not a list of percents, then it exits 2 saying what it takes", () => {
    const run = cli("--canary", "10,abc", "--state-dir", join(tmpdir(), "local-cli-unused"));
    expect(run.status).toBe(2);
    expect(run.stdout).toContain(
      "--canary takes percents from 1 to 99 separated by commas, e.g. 10,50 (got 10,abc)",
    );
  });
});
