import { AppError, type Logger, type Redis } from "@blueprint/service-kit";
import type { RequestHandler } from "express";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export interface RateLimitOptions {
  perSecond: number;
  /** Shared by every gateway instance, so the limit holds per client across the fleet. */
  keyPrefix?: string;
}

/**
 * Per-client fixed-window limit in Redis, shared across instances. When Redis is not ready the per-instance
 * in-memory insurance limiter answers at once, so a Redis outage neither blocks requests nor lifts the limit.
 * The client is `req.ip`: the address the trusted edge put in X-Forwarded-For, else the socket peer.
 */
export function rateLimit(redis: Redis, logger: Logger, opts: RateLimitOptions): RequestHandler {
  const keyPrefix = opts.keyPrefix ?? "gateway:rl";
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points: opts.perSecond,
    duration: 1,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points: opts.perSecond, duration: 1 }),
  });
  return (req, res, next) => {
    limiter.consume(req.ip ?? req.socket.remoteAddress ?? "unknown").then(
      () => next(),
      (rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) {
          // Both stores failed: serving unlimited beats refusing everyone because of the limiter.
          logger.warn({ err: rejection }, "rate limiter failed; request allowed");
          next();
          return;
        }
        const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        res.setHeader("retry-after", String(seconds));
        next(
          new AppError(
            429,
            "RATE_LIMITED",
            `more than ${opts.perSecond} requests per second from this client`,
            {
              details: { reason: "rate limit", limitPerSecond: opts.perSecond, retryAfterSeconds: seconds },
            },
          ),
        );
      },
    );
  };
}
