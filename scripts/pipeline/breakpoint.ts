// The breakpoint run: load/04-breakpoint.ts ramps the gates' mix on a host while this module reads k6's per-request
// points (`--out json`) as they are written, buckets them per second and stops k6 (SIGINT, a graceful stop) once
// two seconds in a row break the thresholds. The knee is the highest rate the host carried before that.
import { closeSync, existsSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Targets } from "../../load/lib/export-targets.js";
import { breakpointRamp } from "../../load/lib/ramp.js";
import { runK6 } from "./k6.js";

/** One second of the run, counted by when k6 recorded each request's end. */
export interface BreakpointSecond {
  /** Seconds since the first request of the scenario. */
  second: number;
  /** The ramp's planned arrival rate at this second. */
  plannedRps: number;
  /** Requests that ended in this second. */
  requests: number;
  p95Ms: number;
  p99Ms: number;
  /** Share of those requests that failed (k6's http_req_failed). */
  errorRate: number;
  /** Iterations k6 could not start on time (no free VU). */
  dropped: number;
}

export interface BreakpointLimits {
  p95Ms: number;
  p99Ms: number;
  maxErrorRate: number;
}

export interface BreakpointResult {
  seconds: BreakpointSecond[];
  /** The highest rate carried (3-second mean of requests ended per second) before the break; 0 if none. */
  kneeRps: number;
  /** The first second of the break, absent if the ramp reached its ceiling unbroken. */
  brokeAt?: number;
  /** Why that second broke, or why the run ended. */
  reason: string;
  ceilingRps: number;
  /** k6's exit code (0 also after the SIGINT this module sends at the break). */
  exitCode: number;
  /** The per-second curve as JSON, and k6's dashboard. */
  files: { seconds: string; dashboard?: string };
}

/** Seconds with fewer requests than this are not judged on latency: a p99 of 3 samples is their maximum. */
const MIN_JUDGED = 10;
/** Broken seconds in a row that end the run: one slow second (a GC, a log rotation) is not the knee. */
const BROKEN_IN_A_ROW = 2;

/** Why a second breaks the limits, or undefined when it holds. */
export function brokenBy(s: BreakpointSecond, limits: BreakpointLimits): string | undefined {
  if (s.requests >= MIN_JUDGED && s.errorRate > limits.maxErrorRate)
    return `errors ${(s.errorRate * 100).toFixed(1)}% > ${(limits.maxErrorRate * 100).toFixed(1)}%`;
  if (s.dropped > 0) return `${s.dropped} iterations dropped (k6 had no free VU: responses too slow)`;
  if (s.requests >= MIN_JUDGED && s.p99Ms > limits.p99Ms)
    return `p99 ${Math.round(s.p99Ms)} ms > ${limits.p99Ms} ms`;
  if (s.requests >= MIN_JUDGED && s.p95Ms > limits.p95Ms)
    return `p95 ${Math.round(s.p95Ms)} ms > ${limits.p95Ms} ms`;
  return undefined;
}

/** The break (the first of BROKEN_IN_A_ROW broken seconds) and the knee before it. */
export function findKnee(
  seconds: BreakpointSecond[],
  limits: BreakpointLimits,
): { kneeRps: number; brokeAt?: number; reason?: string } {
  let brokeAt: number | undefined;
  let reason: string | undefined;
  for (let i = 0; i + BROKEN_IN_A_ROW <= seconds.length; i++) {
    const run = seconds.slice(i, i + BROKEN_IN_A_ROW).map((s) => brokenBy(s, limits));
    if (run.every(Boolean)) {
      brokeAt = seconds[i]!.second;
      reason = run[0];
      break;
    }
  }
  const before = brokeAt === undefined ? seconds : seconds.filter((s) => s.second < brokeAt);
  let kneeRps = 0;
  for (let i = 0; i < before.length; i++) {
    const window = before.slice(Math.max(0, i - 2), i + 1);
    kneeRps = Math.max(kneeRps, window.reduce((n, s) => n + s.requests, 0) / window.length);
  }
  return { kneeRps: Math.round(kneeRps * 10) / 10, ...(brokeAt === undefined ? {} : { brokeAt, reason }) };
}

interface Point {
  metric: string;
  type: string;
  data?: { time?: string; value?: number; tags?: Record<string, string> };
}

/** Accumulates k6 JSON points of one scenario into per-second buckets. */
export class SecondBuckets {
  private start: number | undefined;
  private readonly durations = new Map<number, number[]>();
  private readonly failed = new Map<number, number>();
  private readonly dropped = new Map<number, number>();
  private latest = 0;

  constructor(
    private readonly scenario: string,
    private readonly plan: (second: number) => number,
  ) {}

  add(p: Point): void {
    if (p.type !== "Point" || p.data?.tags?.scenario !== this.scenario || !p.data.time) return;
    const t = Date.parse(p.data.time);
    if (Number.isNaN(t)) return;
    this.start ??= t;
    const second = Math.max(0, Math.floor((t - this.start) / 1000));
    this.latest = Math.max(this.latest, second);
    const value = p.data.value ?? 0;
    if (p.metric === "http_req_duration") {
      const list = this.durations.get(second) ?? [];
      list.push(value);
      this.durations.set(second, list);
    } else if (p.metric === "http_req_failed" && value > 0) {
      this.failed.set(second, (this.failed.get(second) ?? 0) + 1);
    } else if (p.metric === "dropped_iterations") {
      this.dropped.set(second, (this.dropped.get(second) ?? 0) + value);
    }
  }

  /** Seconds that can no longer change (a later second has points), or every second when `all`. */
  seconds(all = false): BreakpointSecond[] {
    if (this.start === undefined) return [];
    const last = all ? this.latest : this.latest - 1;
    const out: BreakpointSecond[] = [];
    for (let second = 0; second <= last; second++) {
      const d = [...(this.durations.get(second) ?? [])].sort((a, b) => a - b);
      out.push({
        second,
        plannedRps: Math.round(this.plan(second) * 10) / 10,
        requests: d.length,
        p95Ms: quantile(d, 0.95),
        p99Ms: quantile(d, 0.99),
        errorRate: d.length ? (this.failed.get(second) ?? 0) / d.length : 0,
        dropped: this.dropped.get(second) ?? 0,
      });
    }
    return out;
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Only the three metrics the buckets use are parsed: k6 writes a dozen more per request. */
const WANTED = /"metric":\s*"(http_req_duration|http_req_failed|dropped_iterations)"/;

function addLine(buckets: SecondBuckets, line: string): void {
  if (line && WANTED.test(line)) buckets.add(JSON.parse(line) as Point);
}

/** Reads lines appended to a file since the last call. */
class Tail {
  private offset = 0;
  private rest = "";
  constructor(private readonly file: string) {}

  lines(): string[] {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size <= this.offset) return [];
    const fd = openSync(this.file, "r");
    try {
      const buf = Buffer.alloc(size - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      const text = this.rest + buf.toString("utf8");
      const lines = text.split("\n");
      this.rest = lines.pop() ?? "";
      return lines;
    } finally {
      closeSync(fd);
    }
  }
}

export interface BreakpointRun {
  name: string;
  reportDir: string;
  baseUrl: string;
  host?: string;
  /** The model's targets; `capacity.breakpoint` must be set. */
  targets: Targets;
  log?: (line: string) => void;
}

/** Runs load/04-breakpoint.ts, stops it at the break and returns the per-second curve and the knee. */
export async function runBreakpoint(run: BreakpointRun): Promise<BreakpointResult> {
  const bp = run.targets.breakpoint;
  if (!bp) throw new Error("capacity.breakpoint is not set for this stack");
  const limits: BreakpointLimits = run.targets;
  // The same ramp as load/lib/presets.ts breakpoint() gives k6.
  const { ceiling: ceilingRps, rateAt: plan } = breakpointRamp(bp.ceilingRps, bp.seconds);
  const points = join(run.reportDir, `${run.name}.points.jsonl`);
  const buckets = new SecondBuckets("breakpoint", plan);
  const tail = new Tail(points);
  let stopReason: string | undefined;
  let lastLogged = -1;
  const poll = (stop: () => void) => {
    for (const line of tail.lines()) addLine(buckets, line);
    const done = buckets.seconds();
    for (const s of done.filter((x) => x.second > lastLogged && x.second % 5 === 0)) {
      run.log?.(
        `  breakpoint ${s.second} s: planned ${s.plannedRps} req/s, carried ${s.requests}, p99 ${Math.round(s.p99Ms)} ms, errors ${(s.errorRate * 100).toFixed(1)}%`,
      );
      lastLogged = s.second;
    }
    const knee = findKnee(done, limits);
    if (knee.brokeAt !== undefined && !stopReason) {
      stopReason = `broke at ${knee.brokeAt} s: ${knee.reason}`;
      run.log?.(`  breakpoint ${stopReason}; stopping k6`);
      stop();
    }
  };
  const { exitCode, figures } = await runK6({
    script: "04-breakpoint.ts",
    name: run.name,
    reportDir: run.reportDir,
    baseUrl: run.baseUrl,
    ...(run.host ? { host: run.host } : {}),
    targets: { ...run.targets, requestsPerSecond: ceilingRps, durationSeconds: bp.seconds },
    extraArgs: ["--out", `json=${points}`],
    timeoutMs: (bp.seconds + 120) * 1000,
    control: (child) => {
      const timer = setInterval(() => poll(() => child.kill("SIGINT")), 500);
      child.on("close", () => clearInterval(timer));
    },
  });
  for (const line of tail.lines()) addLine(buckets, line);
  // The points file holds every metric of every request (tens of MB); the per-second curve is what is kept.
  rmSync(points, { force: true });
  writeFileSync(join(run.reportDir, `${run.name}.seconds.json`), JSON.stringify(buckets.seconds(), null, 1));
  // The last second is partial (k6 stopped in it): judge only whole seconds.
  const seconds = buckets.seconds();
  const knee = findKnee(seconds, limits);
  const reason =
    knee.reason ??
    (seconds.length === 0
      ? `k6 exited ${exitCode} before any request`
      : `reached the ceiling, ${ceilingRps} req/s, unbroken`);
  return {
    seconds,
    kneeRps: knee.kneeRps,
    ...(knee.brokeAt === undefined ? {} : { brokeAt: knee.brokeAt }),
    reason,
    ceilingRps,
    exitCode,
    files: {
      seconds: join(run.reportDir, `${run.name}.seconds.json`),
      ...(figures.files.dashboard ? { dashboard: figures.files.dashboard } : {}),
    },
  };
}

/** The capacity gate's rate from a knee: kneeFraction of it, never below the floor, never above the ceiling. */
export function gateRate(knee: number, targets: Pick<Targets, "requestsPerSecond" | "breakpoint">): number {
  const bp = targets.breakpoint;
  if (!bp) return targets.requestsPerSecond;
  return Math.min(bp.ceilingRps, Math.max(targets.requestsPerSecond, Math.floor(knee * bp.kneeFraction)));
}
