import { Agent } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { Color } from "../../infra/model/index.js";
import type { LocalEnvironment } from "../local/environment.js";
import { httpGet } from "../local/processes.js";

/** What one region's edge answers on the public host: the live color and version. */
export interface LiveSample {
  region: string;
  status: number;
  color: Color | undefined;
  version: string | undefined;
}

const PROBE_PATH = "/api/catalog/products";

export async function sampleLive(env: LocalEnvironment): Promise<LiveSample[]> {
  return Promise.all(
    env.endpoints.map(async (e) => {
      const r = await httpGet(`${e.edge}${PROBE_PATH}`, { host: e.publicHost, timeoutMs: 3_000 });
      return {
        region: e.region,
        status: r.status,
        color: header(r.headers["x-color"]) as Color | undefined,
        version: header(r.headers["x-service-version"]),
      };
    }),
  );
}

export interface ProbeCounts {
  requests: number;
  /** 5xx answers. */
  failures: number;
  /** No answer: connection reset, refused or timed out (raw, before the retry). */
  connectionErrors: number;
  /** Still no answer, or a 5xx, after retrying once on a new connection, as browsers do for idempotent requests. */
  failedAfterRetry: number;
}

/**
 * Sends live requests over keep-alive connections (as browsers do) on every edge while `during` runs,
 * from leadMs before until tailMs after, so an edge reload that drops connections shows up as errors. A request
 * without an answer is retried once on a new connection: an nginx reload closes idle keep-alive connections, and a
 * request racing that close is reset (raw count); a browser retries it, and so does this probe.
 */
export async function probeLiveDuring<T>(
  env: LocalEnvironment,
  during: () => Promise<T>,
  opts: { leadMs?: number; tailMs?: number; loopsPerEdge?: number } = {},
): Promise<{ value: T; counts: ProbeCounts }> {
  const counts: ProbeCounts = { requests: 0, failures: 0, connectionErrors: 0, failedAfterRetry: 0 };
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let running = true;
  const loop = async (edge: string, host: string) => {
    while (running) {
      const r = await httpGet(`${edge}${PROBE_PATH}`, { host, timeoutMs: 2_000, agent });
      counts.requests += 1;
      if (r.status === 0) {
        counts.connectionErrors += 1;
        const retry = await httpGet(`${edge}${PROBE_PATH}`, { host, timeoutMs: 2_000, agent: false });
        if (retry.status === 0 || retry.status >= 500) counts.failedAfterRetry += 1;
      } else if (r.status >= 500) {
        counts.failures += 1;
        counts.failedAfterRetry += 1;
      }
    }
  };
  const loops = env.endpoints.flatMap((e) =>
    Array.from({ length: opts.loopsPerEdge ?? 2 }, () => loop(e.edge, e.publicHost)),
  );
  try {
    await sleep(opts.leadMs ?? 300);
    const value = await during();
    await sleep(opts.tailMs ?? 1_000);
    return { value, counts };
  } finally {
    running = false;
    await Promise.all(loops);
    agent.destroy();
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
