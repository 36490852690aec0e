// k6 side: the capacity targets exported from the model (load/lib/export-targets.ts); k6 cannot import Node code.

export interface Targets {
  stack: string;
  environment: string;
  requestsPerSecond: number;
  p95Ms: number;
  p99Ms: number;
  maxErrorRate: number;
  minChecksRate: number;
  durationSeconds: number;
  smokeSeconds: number;
}

const KEYS: (keyof Targets)[] = [
  "requestsPerSecond",
  "p95Ms",
  "p99Ms",
  "maxErrorRate",
  "minChecksRate",
  "durationSeconds",
  "smokeSeconds",
];

/** Reads TARGETS_FILE (absolute path, via open() in the init context) or the TARGETS JSON string. */
export function loadTargets(): Targets {
  const file = __ENV.TARGETS_FILE;
  const text = file ? open(file) : __ENV.TARGETS;
  if (!text) {
    throw new Error(
      "set TARGETS_FILE (from `npx tsx load/lib/export-targets.ts <stack> <file>`) or TARGETS (the same JSON)",
    );
  }
  const targets = JSON.parse(text) as Targets;
  for (const key of KEYS) {
    if (typeof targets[key] !== "number")
      throw new Error(`targets.${key} must be a number (got ${String(targets[key])})`);
  }
  return targets;
}

/** BASE_URL and the Host header (public or preview host) of the target. */
export function target(): { baseUrl: string; host: string | undefined } {
  const baseUrl = __ENV.BASE_URL;
  if (!baseUrl) throw new Error("set BASE_URL, e.g. BASE_URL=http://127.0.1.1:18080");
  return { baseUrl: baseUrl.replace(/\/$/, ""), host: __ENV.HOST || undefined };
}
