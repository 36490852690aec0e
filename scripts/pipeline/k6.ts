import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import type { Figures } from "../../load/lib/figures.js";
import type { GateExpectation, GateKind, GateResult, GateVia } from "./target.js";

export const K6_BIN = process.env.K6_BIN ?? join(REPO_ROOT, ".cache", "tools", "bin", "k6");
export const LOAD_DIR = join(REPO_ROOT, "load");

export interface K6Run {
  /** Script under load/, e.g. "02-capacity.ts". */
  script: string;
  /** Files are written as <reportDir>/<name>.{json,md,html}. */
  name: string;
  reportDir: string;
  baseUrl: string;
  host?: string;
  /** k6's `hosts` option (hostname → IP, via RESOLVE): connect to a gateway while SNI and Host stay the hostname. */
  resolve?: Record<string, string>;
  targets: object;
  env?: Record<string, string>;
  /** Wraps the k6 command (e.g. `unshare -m ...` for the failover drill); receives k6's argv. */
  wrap?: (argv: string[]) => string[];
  onOutput?: (line: string) => void;
  timeoutMs?: number;
  /** Arguments after `run`, before the script (e.g. `--out json=<file>`). */
  extraArgs?: string[];
  /** Receives the k6 process once started (the breakpoint run stops it with SIGINT at the break). */
  control?: (child: ChildProcess) => void;
}

export interface K6Outcome {
  exitCode: number;
  figures: Omit<GateResult, "kind" | "via" | "ok" | "exitCode">;
  stderrTail: string;
}

/** Runs k6 for real and reads its JSON summary; exit 99 means a threshold failed. */
export async function runK6(run: K6Run): Promise<K6Outcome> {
  mkdirSync(run.reportDir, { recursive: true });
  const targetsFile = join(run.reportDir, `${run.name}.targets.json`);
  writeFileSync(targetsFile, JSON.stringify(run.targets));
  const dashboard = join(run.reportDir, `${run.name}.html`);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    BASE_URL: run.baseUrl,
    HOST: run.host ?? "",
    RESOLVE: run.resolve ? JSON.stringify(run.resolve) : "",
    TARGETS_FILE: targetsFile,
    SUMMARY_DIR: run.reportDir,
    SUMMARY_NAME: run.name,
    K6_NO_USAGE_REPORT: "true",
    // The dashboard is exported as one self-contained HTML file; no port is opened.
    K6_WEB_DASHBOARD: "true",
    K6_WEB_DASHBOARD_PORT: "-1",
    K6_WEB_DASHBOARD_PERIOD: "1s",
    K6_WEB_DASHBOARD_EXPORT: dashboard,
    ...run.env,
  };
  const k6 = [K6_BIN, "run", "--quiet", ...(run.extraArgs ?? []), join(LOAD_DIR, run.script)];
  const [command, ...args] = run.wrap ? run.wrap(k6) : k6;
  const { exitCode, stderr } = await spawnBounded(
    command!,
    args,
    env,
    run.timeoutMs ?? 15 * 60_000,
    run.onOutput,
    run.control,
  );
  const json = join(run.reportDir, `${run.name}.json`);
  const figures = existsSync(json)
    ? { ...readFigures(JSON.parse(readFileSync(json, "utf8"))), files: filesOf(run.reportDir, run.name) }
    : emptyFigures();
  return { exitCode, figures, stderrTail: stderr.slice(-2000) };
}

/** `smoke-live-1.2.0` (`-canary10` during a canary step, `-window` at the end of the rollback window): file names. */
export function gateName(kind: GateKind, via: GateVia, expect: GateExpectation): string {
  const canary = expect.canaryPercent === undefined ? "" : `-canary${expect.canaryPercent}`;
  const window = expect.endOfWindow ? "-window" : "";
  return `${kind}-${via}-${expect.version}${canary}${window}`;
}

/** Every response must come from the expected release, except during a canary step. */
export function expectationEnv(expect: GateExpectation): Record<string, string> {
  return expect.canaryPercent === undefined
    ? { EXPECT_COLOR: expect.color, EXPECT_VERSION: expect.version }
    : {};
}

export async function runGate(kind: GateKind, via: GateVia, run: K6Run): Promise<GateResult> {
  const { exitCode, figures, stderrTail } = await runK6(run);
  const failed = [...figures.failedThresholds];
  // 99 is "thresholds crossed"; any other non-zero exit (setup failure, script error) is explained by k6's log.
  if (exitCode !== 0 && exitCode !== 99) failed.unshift(`k6 exited ${exitCode}: ${errorLine(stderrTail)}`);
  return { kind, via, ok: exitCode === 0, exitCode, ...figures, failedThresholds: failed };
}

/** The figures load/lib/summary.ts computed inside k6 (one implementation for both sides). */
export function readFigures(summary: { figures?: Figures }): Omit<K6Outcome["figures"], "files"> {
  const f = summary.figures;
  if (!f) throw new Error("the k6 summary has no figures — was it written by load/lib/summary.ts?");
  return {
    requests: f.requests,
    requestsPerSecond: f.requestsPerSecond,
    p95Ms: f.p95Ms,
    p99Ms: f.p99Ms,
    errorRate: f.errorRate,
    checksRate: f.checksRate,
    failedThresholds: f.failedThresholds,
  };
}

function filesOf(dir: string, name: string): GateResult["files"] {
  const files: GateResult["files"] = {};
  const pick = (ext: string) =>
    existsSync(join(dir, `${name}.${ext}`)) ? join(dir, `${name}.${ext}`) : undefined;
  const [json, markdown, dashboard] = [pick("json"), pick("md"), pick("html")];
  if (json) files.json = json;
  if (markdown) files.markdown = markdown;
  if (dashboard) files.dashboard = dashboard;
  return files;
}

function emptyFigures(): K6Outcome["figures"] {
  return {
    requests: 0,
    requestsPerSecond: 0,
    p95Ms: 0,
    p99Ms: 0,
    errorRate: 1,
    checksRate: 0,
    failedThresholds: [],
    files: {},
  };
}

function errorLine(text: string): string {
  const lines = text.trim().split("\n");
  const error = lines.find((l) => l.includes("level=error")) ?? lines.at(-1) ?? "";
  return error.match(/msg="((?:[^"\\]|\\.)*)"/)?.[1]?.split("\\n")[0] ?? error;
}

function spawnBounded(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  onOutput?: (line: string) => void,
  control?: (child: ChildProcess) => void,
): Promise<{ exitCode: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    control?.(child);
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => onOutput?.(chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
      onOutput?.(chunk.toString());
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${err.message} — run \`npm run setup\` to install k6`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? (signal ? 128 : 1), stderr });
    });
  });
}
