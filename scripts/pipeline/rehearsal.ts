import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import type { LocalEnvironment } from "../local/environment.js";
import { runFailoverDrill } from "./failover.js";
import { sampleLive } from "./live-probe.js";
import { LocalTarget } from "./local-target.js";
import { promote } from "./machine.js";
import { renderReport, type RehearsalReport } from "./report.js";
import { fetchRunSeries, type RunSeries } from "./run-series.js";

export interface RehearsalOptions {
  /** Ship a deliberately bad release (30% of requests answer 500) to show the automatic rollback. */
  failGate?: boolean;
  /**
   * Ship a release whose regression k6 cannot see: orders answers 5% of its order reads (GET /orders/:id, a tenth
   * of the mix) with 500, which keeps the whole run under k6's 1%; only the server-side analysis fails it.
   */
  serverSideRegression?: boolean;
  failoverDrill?: boolean;
  /** Default reports/rehearsal-<timestamp>. */
  reportDir?: string;
  /** Canary steps (percent of live traffic) before the full switch, e.g. [10, 50]. */
  canaryPercents?: number[];
  /** Default: the live version with its minor part raised (1.0.0 → 1.1.0). */
  version?: string;
  onProgress?: (line: string) => void;
}

export interface RehearsalResult extends RehearsalReport {
  reportDir: string;
  reportFile: string;
}

export const BAD_RELEASE_FAULTS = { errorRate: 0.3 };
export const SERVER_SIDE_REGRESSION_FAULTS = {
  services: ["orders"],
  path: "^/orders/[^/]+$",
  errorRate: 0.05,
};

/**
 * The run's series from the environment's Prometheus (none without one), after one more scrape: about 60 points
 * over the run, each a rate over four scrapes.
 */
async function readRunSeries(env: LocalEnvironment, startMs: number): Promise<RunSeries | undefined> {
  const prometheus = (await env.status()).find((p) => p.role === "prometheus");
  if (!prometheus) return undefined;
  const scrape = env.blueprint.metrics.scrapeIntervalSeconds;
  await sleep(scrape * 1000 + 1000);
  const endMs = Date.now();
  const stepSeconds = Math.max(scrape, Math.ceil((endMs - startMs) / 1000 / 60));
  return fetchRunSeries({
    prometheusUrl: prometheus.url,
    service: env.blueprint.services[0]!.name,
    startMs,
    endMs,
    stepSeconds,
    // Every sample counts once a step is longer than four scrapes.
    windowSeconds: Math.max(4 * scrape, stepSeconds),
  });
}

/** The full promotion on the local target, optionally the failover drill, and the report. */
export async function runRehearsal(
  env: LocalEnvironment,
  opts: RehearsalOptions = {},
): Promise<RehearsalResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const reportDir =
    opts.reportDir ?? join(REPO_ROOT, "reports", `rehearsal-${startedAt.replace(/[:.]/g, "-")}`);
  mkdirSync(reportDir, { recursive: true });
  const log = opts.onProgress ?? (() => {});
  const faults = opts.failGate
    ? BAD_RELEASE_FAULTS
    : opts.serverSideRegression
      ? SERVER_SIDE_REGRESSION_FAULTS
      : undefined;
  const failGate = faults !== undefined;

  const liveBefore = await sampleLive(env);
  const target = new LocalTarget(env, { reportDir, log, ...(faults ? { faults } : {}) });
  const current = await target.current();
  const version =
    opts.version ?? nextVersion(current.versions?.[current.activeColor ?? "blue"] ?? "1.0.0", failGate);
  log(
    `rehearsal: promoting ${version} on ${target.name}${opts.failGate ? " (deliberately bad: 30% errors)" : opts.serverSideRegression ? " (deliberately bad: 5% errors on order reads, under k6's limit)" : ""}`,
  );
  const promotion = await promote(target, {
    version,
    log,
    ...(opts.canaryPercents ? { canaryPercents: opts.canaryPercents } : {}),
  });
  const liveAfter = await sampleLive(env);
  const failover = opts.failoverDrill ? await runFailoverDrill(env, { reportDir, log }) : undefined;
  const series = await readRunSeries(env, Date.now() - (performance.now() - started)).catch(
    (err: unknown) => `${err instanceof Error ? err.message : String(err)}`,
  );

  const unchanged = liveAfter.every(
    (a, i) => a.color === liveBefore[i]?.color && a.version === liveBefore[i]?.version && a.status === 200,
  );
  const promoted = liveAfter.every((a) => a.status === 200 && a.version === version);
  const promotionAsExpected = failGate
    ? !promotion.ok && promotion.rolledBack && unchanged
    : promotion.ok && promoted;
  const ok = promotionAsExpected && (failover?.ok ?? true);
  const verdict = failGate
    ? promotionAsExpected
      ? "PASS: the bad release failed its gate and was rolled back; live traffic never moved"
      : "FAIL: the bad release was not rolled back cleanly"
    : promotionAsExpected
      ? `PASS: ${version} is live on every region`
      : `FAIL: ${promotion.reason ?? "live traffic does not answer the new version"}`;

  const report: RehearsalReport = {
    startedAt,
    wallMs: 0,
    stack: env.blueprint.stack,
    failGate,
    serverSideRegression: opts.serverSideRegression ?? false,
    ok,
    verdict:
      failover && !failover.ok
        ? `${verdict}; FAIL: failover drill (${failover.error ?? "too slow"})`
        : verdict,
    promotion,
    liveBefore,
    liveAfter,
    switchProbe: target.switchProbe,
    breakpoint: target.breakpoint,
    failover,
    ...(typeof series === "string" ? { seriesError: series } : series ? { series } : {}),
  };
  report.wallMs = Math.round(performance.now() - started);
  const reportFile = join(reportDir, "report.md");
  writeFileSync(reportFile, renderReport(report));
  writeFileSync(join(reportDir, "report.json"), JSON.stringify(report, null, 2));
  for (const line of summary(report, reportFile)) log(line);
  return { ...report, reportDir, reportFile };
}

/** 1.4.2 → 1.5.0; the bad release of the rollback drill is tagged as such. */
export function nextVersion(live: string, bad = false): string {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(live);
  const next = m ? `${m[1]}.${Number(m[2]) + 1}.0` : `${live}-next`;
  return bad ? `${next}-bad` : next;
}

function summary(r: RehearsalReport, file: string): string[] {
  const capacity = r.promotion.gates.find((g) => g.kind === "capacity");
  const lines = [`${r.ok ? "✔" : "✖"} ${r.verdict} (${(r.wallMs / 1000).toFixed(1)} s)`];
  if (r.breakpoint)
    lines.push(
      `  breakpoint: knee ${r.breakpoint.kneeRps} req/s (${r.breakpoint.reason}); gate at ${r.breakpoint.gateRps} req/s`,
    );
  if (capacity) {
    lines.push(
      `  capacity gate: ${capacity.requestsPerSecond.toFixed(1)} req/s, p95 ${capacity.p95Ms.toFixed(1)} ms, p99 ${capacity.p99Ms.toFixed(1)} ms, errors ${(capacity.errorRate * 100).toFixed(2)}%`,
    );
  }
  const live = (xs: typeof r.liveBefore) =>
    xs.map((l) => `${l.region}=${l.color ?? "?"}@${l.version ?? "?"}`).join(" ");
  lines.push(`  live before: ${live(r.liveBefore)}; after: ${live(r.liveAfter)}`);
  if (r.switchProbe) {
    const p = r.switchProbe;
    lines.push(
      `  switch: ${p.requests} live requests, ${p.failures} 5xx, ${p.connectionErrors} raw connection errors, ${p.failedAfterRetry} failed after one retry`,
    );
  }
  if (r.failover)
    lines.push(`  failover: ${r.failover.failoverMs ?? "—"} ms (bound ${r.failover.boundMs} ms)`);
  lines.push(`  report: ${file}`);
  return lines;
}
