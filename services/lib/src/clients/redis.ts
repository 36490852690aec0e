import { Redis } from "ioredis";
import type { ServiceKit } from "../kit.js";

export type { Redis } from "ioredis";

/**
 * ioredis with lazy connect, bounded per-command retries (callers fail fast instead of queueing forever) and
 * capped reconnect backoff; registers a readiness check (PING) and a closer.
 */
export function createRedis(
  kit: ServiceKit,
  url: string,
  name = "redis",
  opts: { readiness?: boolean } = {},
): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    connectionName: `${kit.service}-${kit.config.color}`,
  });
  redis.on("error", (err: Error) => kit.logger.warn({ err: err.message, client: name }, "redis error"));
  redis.connect().catch(() => undefined);
  if (opts.readiness ?? true) kit.health.addCheck(name, () => redis.ping());
  kit.lifecycle.onClose(name, async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  return redis;
}
