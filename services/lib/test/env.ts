import { pino, type Logger } from "pino";
import type { RunningServer } from "../../../scripts/lib/servers/index.js";

/** Env for a service under test: real servers, a fresh database, loopback, quiet logs, short drain. */
export function testEnv(
  servers: { mongo: RunningServer; redis: RunningServer; kafka?: { brokers: string[] } },
  db: string,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    SHUTDOWN_DELAY_MS: "100",
    DRAIN_SECONDS: "5",
    MONGO_URL: servers.mongo.url,
    MONGO_DB: db,
    REDIS_URL: servers.redis.url,
    KAFKA_BROKERS: servers.kafka?.brokers.join(",") ?? "127.0.0.1:1",
    OUTBOX_POLL_MS: "50",
    ...extra,
  };
}

/** Reads one sample of a counter from Prometheus text, summing every label set that contains `labels`. */
export async function metricValue(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.split(" ").at(-1));
  }
  return total;
}

/**
 * Polls `check` until it returns true; throws when the bounded wait ends first (a wait that can time out silently
 * is a test that cannot fail). Resolves true, so `expect(await eventually(…)).toBe(true)` reads as before.
 */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
  everyMs = 100,
  what = check.toString().replace(/\s+/g, " ").slice(0, 160),
): Promise<true> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  if (await check()) return true;
  throw new Error(`not true within ${timeoutMs} ms: ${what}`);
}

/** The saga topics as the harness creates them (3 partitions each, like the services' own ensureTopics). */
export const sagaTopics = [
  { name: "orders.events", partitions: 3 },
  { name: "catalog.events", partitions: 3 },
];

/** A pino logger that keeps its JSON lines in memory, so a test can wait for and inspect what a service logged. */
export function captureLogger(level = "info"): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** mulberry32: a small seeded generator, so a randomized test or fuzz run replays from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
