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
  /** orders: the mix creates orders; none: read-only (prod, whose data is real). */
  writes: "orders" | "none";
}

const KEYS: Exclude<keyof Targets, "writes" | "stack" | "environment">[] = [
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
  if (targets.writes !== "orders" && targets.writes !== "none")
    throw new Error(`targets.writes must be "orders" or "none" (got ${String(targets.writes)})`);
  return targets;
}

/** BASE_URL and the Host header (public or preview host) of the target. */
export function target(): { baseUrl: string; host: string | undefined } {
  const baseUrl = __ENV.BASE_URL;
  if (!baseUrl) throw new Error("set BASE_URL, e.g. BASE_URL=http://127.0.1.1:18080");
  return { baseUrl: baseUrl.replace(/\/$/, ""), host: __ENV.HOST || undefined };
}

const ADDRESS = [
  /^\d{1,3}(\.\d{1,3}){3}(:\d+)?$/, // IPv4, optional port
  /^[0-9a-fA-F]*:[0-9a-fA-F:]*$/, // IPv6
  /^\[[0-9a-fA-F:]+\](:\d+)?$/, // [IPv6], optional port
];

/**
 * RESOLVE: JSON object hostname → IP (or `IP:port`), k6's `hosts` option: requests to `https://<hostname>` connect
 * to that address while SNI, certificate verification and Host stay the hostname's. k6 v1.8 takes IPs only (a
 * hostname value silently dials the local machine), so the pipeline resolves gateway hostnames before starting k6.
 */
export function resolveHosts(): Record<string, string> | undefined {
  const text = __ENV.RESOLVE;
  if (!text) return undefined;
  let hosts: unknown;
  try {
    hosts = JSON.parse(text);
  } catch {
    throw new Error(`RESOLVE must be a JSON object hostname → IP (got ${text})`);
  }
  if (typeof hosts !== "object" || hosts === null || Array.isArray(hosts))
    throw new Error(`RESOLVE must be a JSON object hostname → IP (got ${text})`);
  for (const [name, address] of Object.entries(hosts)) {
    if (typeof address !== "string" || !ADDRESS.some((re) => re.test(address)))
      throw new Error(
        `RESOLVE.${name} must be an IP address or IP:port (got ${JSON.stringify(address)}): k6 does not resolve hostnames there`,
      );
  }
  return hosts as Record<string, string>;
}
