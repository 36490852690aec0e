import type { RunningService } from "@blueprint/service-kit";
import { loadGatewayConfig } from "../src/config.js";
import { start } from "../src/server.js";

/** Env for a gateway under test: loopback, port 0, quiet, fast drain, a high rate limit unless a test lowers it. */
export function gatewayEnv(
  redisUrl: string,
  upstreams: { catalog: string; orders: string },
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    SHUTDOWN_DELAY_MS: "0",
    DRAIN_SECONDS: "2",
    REDIS_URL: redisUrl,
    CATALOG_URL: upstreams.catalog,
    ORDERS_URL: upstreams.orders,
    RATE_LIMIT_PER_SECOND: "100000",
    ...extra,
  };
}

export const startGateway = (env: NodeJS.ProcessEnv): Promise<RunningService> =>
  start(loadGatewayConfig(env));

/** Elapsed wall time of `action` in milliseconds, with its result. */
export async function timed<T>(action: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await action();
  return { ms: performance.now() - started, result };
}

export interface ErrorBody {
  error: { code: string; message: string; details?: { upstream?: string; reason?: string } };
}
