import { Redis } from "ioredis";
import type { ServiceKit } from "../kit.js";

export type { Redis } from "ioredis";

/**
 * False once the client has lost its connection, until it is ready again: while it waits to reconnect and also
 * during each reconnect attempt ("connecting"), when a command would sit in the offline queue for the whole
 * attempt and the backoff after it (seconds, near a caller's deadline). Callers that can do without Redis skip
 * it instead. True while connecting at start (no attempt has failed yet), so the first commands wait for the
 * connection rather than bypass the cache.
 */
export function redisAvailable(redis: Redis): boolean {
  if (redis.status === "ready") return true;
  if (redis.status === "reconnecting" || redis.status === "close" || redis.status === "end") return false;
  // ioredis counts failed attempts since the last ready (reset on ready); private in its types, stable since v4.
  return ((redis as unknown as { retryAttempts?: number }).retryAttempts ?? 0) === 0;
}

/**
 * ioredis with lazy connect, bounded per-command retries (callers fail fast instead of queueing forever) and
 * capped reconnect backoff; registers a readiness check (PING) and a closer.
 *
 * `critical` (default true) decides whether a failed PING makes /readyz 503. Make it false where the service
 * degrades without Redis (a cache, a rate limit with a local fallback): Redis is shared by every instance of the
 * region, so a critical check turns a Redis restart into "the whole region is unready".
 */
export function createRedis(
  kit: ServiceKit,
  url: string,
  name = "redis",
  opts: { readiness?: boolean; critical?: boolean } = {},
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
  if (opts.readiness ?? true)
    kit.health.addCheck(
      name,
      // Answer at once while reconnecting: a probe (1 s timeout by default) must not time out on a queued PING.
      () =>
        redisAvailable(redis) ? redis.ping() : Promise.reject(new Error(`not connected (${redis.status})`)),
      { critical: opts.critical ?? true },
    );
  kit.lifecycle.onClose(name, async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  return redis;
}
