import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

/** The pinned schemathesis, linked into .cache/tools/bin by scripts/setup/setup.sh (step "schemathesis"). */
export function schemathesisBin(): string {
  const env = readFileSync(join(root, "scripts/setup/versions.env"), "utf8");
  const version = /^SCHEMATHESIS_VERSION=(.+)$/m.exec(env)?.[1]?.trim() ?? "?";
  const bin = join(root, ".cache/tools/bin/schemathesis");
  const stamp = join(root, ".cache/tools/stamps/schemathesis");
  const installed = existsSync(stamp) ? readFileSync(stamp, "utf8").split(" ")[0] : undefined;
  if (!existsSync(bin) || installed !== version)
    throw new Error(
      `schemathesis ${version} is not installed (found ${installed ?? "none"}): run 'npm run setup'`,
    );
  return bin;
}

export interface SchemathesisOptions {
  /** Where the cases are sent: the gateway, or the edge in front of it. */
  baseUrl: string;
  /** The document; default `${baseUrl}/openapi.json` (the edge routes only /api and /readyz, not the document). */
  schemaUrl?: string;
  /** Sent with every case, e.g. the Host the edge serves. */
  headers?: Record<string, string>;
  /** Cases per operation and phase. */
  maxExamples: number;
  seed: number;
  reportDir: string;
  /** The whole run is killed after this (a hang is a finding, not a stuck suite). */
  deadlineMs: number;
  /** Answers slower than this fail the `max_response_time` check: the gateway's deadline plus headroom. */
  maxResponseSeconds: number;
  workers?: number;
  phases?: string;
  /** Only the operations whose path matches. */
  includePathRegex?: string;
  /** Also print schemathesis' console output as it comes (the long run's progress). */
  echo?: boolean;
}

export interface SchemathesisResult {
  exitCode: number | null;
  /** Test cases generated and sent, as schemathesis counts them. */
  cases: number;
  /** Unique failures found (0 when clean). */
  failures: number;
  seconds: number;
  /** The console summary (the last lines), for the report and the test's failure message. */
  summary: string;
}

/** Runs schemathesis against the gateway without blocking this process's event loop (the services run here). */
export async function runSchemathesis(opts: SchemathesisOptions): Promise<SchemathesisResult> {
  mkdirSync(opts.reportDir, { recursive: true });
  const args = [
    "--config-file",
    join(here, "schemathesis.toml"),
    "run",
    opts.schemaUrl ?? `${opts.baseUrl}/openapi.json`,
    "--url",
    opts.baseUrl,
    ...Object.entries(opts.headers ?? {}).flatMap(([name, value]) => ["--header", `${name}: ${value}`]),
    "--checks",
    "all",
    // The gateway's 405 names the prefix's methods, not the resource's: see test/fuzz/README.md, "Left open".
    "--exclude-checks",
    "allow_header_conformance",
    "--max-examples",
    String(opts.maxExamples),
    "--seed",
    String(opts.seed),
    "--workers",
    String(opts.workers ?? 2),
    "--phases",
    opts.phases ?? "examples,coverage,fuzzing,stateful",
    "--request-timeout",
    String(opts.maxResponseSeconds * 2),
    "--max-response-time",
    String(opts.maxResponseSeconds),
    "--generation-database",
    "none",
    "--continue-on-failure",
    "--no-color",
    "--report",
    "junit,ndjson",
    "--report-dir",
    opts.reportDir,
    ...(opts.includePathRegex ? ["--include-path-regex", opts.includePathRegex] : []),
  ];
  const started = performance.now();
  // cwd: schemathesis keeps its caches (.schemathesis/) in the working directory.
  const child = spawn(schemathesisBin(), args, { cwd: opts.reportDir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
    if (opts.echo) process.stdout.write(d);
  });
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), opts.deadlineMs);
  const exitCode = await new Promise<number | null>((done) => child.on("close", (code) => done(code)));
  clearTimeout(killer);
  const generated = /(\d+) generated/.exec(output);
  const failures = /found (\d+) unique failures?/.exec(output);
  const summaryAt = output.lastIndexOf("=== FAILURES ===");
  return {
    exitCode,
    cases: generated ? Number(generated[1]) : 0,
    failures: failures ? Number(failures[1]) : exitCode === 0 ? 0 : -1,
    seconds: (performance.now() - started) / 1000,
    summary: output.slice(summaryAt === -1 ? Math.max(0, output.length - 6000) : summaryAt),
  };
}

/**
 * The whole API in every phase, then the orders operations alone in the stateful phase: schemathesis infers
 * `customerId` to be a reference to a resource nothing produces, so with catalog's list as another entry point it
 * never starts a scenario at POST /orders, and the link to GET /orders/{id} would go untested.
 */
export async function runSchemathesisSuite(
  opts: Omit<SchemathesisOptions, "phases" | "includePathRegex">,
): Promise<SchemathesisResult & { parts: SchemathesisResult[] }> {
  const all = await runSchemathesis({ ...opts, reportDir: join(opts.reportDir, "all") });
  const links = await runSchemathesis({
    ...opts,
    reportDir: join(opts.reportDir, "orders-stateful"),
    phases: "stateful",
    includePathRegex: "^/api/orders/",
  });
  const parts = [all, links];
  return {
    exitCode: parts.some((p) => p.exitCode !== 0)
      ? (parts.find((p) => p.exitCode !== 0)!.exitCode ?? null)
      : 0,
    cases: all.cases + links.cases,
    failures: parts.some((p) => p.failures < 0) ? -1 : all.failures + links.failures,
    seconds: all.seconds + links.seconds,
    summary: parts.map((p) => p.summary).join("\n"),
    parts,
  };
}

/** Answers with this status in a run's NDJSON report (the orders-only stateful run: 200s are linked reads). */
export function answersWithStatus(reportDir: string, status: number): number {
  let count = 0;
  for (const file of readdirSync(reportDir).filter((f) => f.endsWith(".ndjson")))
    count += readFileSync(join(reportDir, file), "utf8").split(`"status_code":${status},`).length - 1;
  return count;
}
