import { AppError, type Logger, type Redis } from "@blueprint/service-kit";
import type { RequestHandler } from "express";

export interface RateLimitOptions {
  perSecond: number;
  /** Shared by every gateway instance, so the limit holds per client across the fleet. */
  keyPrefix?: string;
  /**
   * Tokens one Redis round trip takes for this instance, as a share of the limit (at least 1). A lease is never
   * more than the window has left, so the fleet never admits more than the limit; what a lease leaves unused when
   * its window ends is lost, so it admits at most `instances × lease − 1` fewer. @default 0.1
   */
  leaseFraction?: number;
}

/** Fixed 1 s windows aligned to the clock, so every instance counts the same window. */
const WINDOW_MS = 1000;

// Takes up to ARGV[1] tokens of the window's ARGV[2]; the count lives two windows (clocks a little apart).
const LEASE_SCRIPT = `
local want = tonumber(ARGV[1])
local used = redis.call('INCRBY', KEYS[1], want)
if used == want then redis.call('PEXPIRE', KEYS[1], ${2 * WINDOW_MS}) end
local before = used - want
local left = tonumber(ARGV[2]) - before
if left <= 0 then return 0 end
if left < want then return left end
return want
`;

interface Window {
  id: number;
  /** Leased and not yet spent. */
  tokens: number;
  /** The fleet has spent the window's limit: refuse without asking Redis again. */
  exhausted: boolean;
  /** A lease in flight; concurrent requests wait for it instead of each asking. */
  leasing?: Promise<void>;
}

type Redisx = Redis & { rlLease(key: string, want: number, limit: number): Promise<number> };

/**
 * Per-client limit over fixed 1 s windows, shared by every gateway instance through Redis: each instance leases
 * tokens in batches (a tenth of the limit per round trip), so a busy client costs Redis one command per batch,
 * not one per request, and the fleet still never admits more than the limit in a window. While Redis is not
 * ready, each instance counts alone (the limit per instance), so an outage neither blocks requests nor lifts the
 * limit. The client is `req.ip`: the address the trusted edge put in X-Forwarded-For, else the socket peer.
 */
export function rateLimit(redis: Redis, logger: Logger, opts: RateLimitOptions): RequestHandler {
  const keyPrefix = opts.keyPrefix ?? "gateway:rl";
  const limit = opts.perSecond;
  const lease = Math.max(1, Math.floor(limit * (opts.leaseFraction ?? 0.1)));
  const store = redis as Redisx;
  if (typeof store.rlLease !== "function")
    store.defineCommand("rlLease", { numberOfKeys: 1, lua: LEASE_SCRIPT });
  const shared = new Map<string, Window>();
  const local = new Map<string, { id: number; used: number }>();
  let swept = 0;

  const windowOf = (map: Map<string, Window>, client: string, id: number): Window => {
    let w = map.get(client);
    if (!w || w.id !== id) {
      w = { id, tokens: 0, exhausted: false };
      map.set(client, w);
    }
    return w;
  };

  // Every other window, entries of finished windows go: memory stays bounded by the clients of the last second.
  const sweep = (id: number) => {
    if (id - swept < 2) return;
    swept = id;
    for (const [client, w] of shared) if (w.id < id) shared.delete(client);
    for (const [client, w] of local) if (w.id < id) local.delete(client);
  };

  /** Alone: this instance's own count of the window (Redis is down or failing). */
  const admitLocally = (client: string, id: number): boolean => {
    let w = local.get(client);
    if (!w || w.id !== id) {
      w = { id, used: 0 };
      local.set(client, w);
    }
    w.used += 1;
    return w.used <= limit;
  };

  async function admit(client: string): Promise<boolean> {
    for (;;) {
      const id = Math.floor(Date.now() / WINDOW_MS);
      sweep(id);
      if (redis.status !== "ready") return admitLocally(client, id);
      const w = windowOf(shared, client, id);
      if (w.tokens > 0) {
        w.tokens -= 1;
        return true;
      }
      if (w.exhausted) return false;
      if (!w.leasing) {
        w.leasing = store
          .rlLease(`${keyPrefix}:${client}:${id}`, lease, limit)
          .then((granted) => {
            w.tokens += granted;
            if (granted < lease) w.exhausted = true;
          })
          .finally(() => (w.leasing = undefined));
      }
      try {
        await w.leasing;
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "rate limit store failed; this instance counts alone");
        return admitLocally(client, id);
      }
      // Spent by the requests that waited with this one, or the window turned: look again.
    }
  }

  return (req, res, next) => {
    admit(req.ip ?? req.socket.remoteAddress ?? "unknown").then(
      (allowed) => {
        if (allowed) return next();
        const seconds = Math.max(1, Math.ceil((WINDOW_MS - (Date.now() % WINDOW_MS)) / 1000));
        res.setHeader("retry-after", String(seconds));
        next(
          new AppError(429, "RATE_LIMITED", `more than ${limit} requests per second from this client`, {
            details: { reason: "rate limit", limitPerSecond: limit, retryAfterSeconds: seconds },
          }),
        );
      },
      (err: unknown) => {
        // Never reached (admit falls back to the local count); serving beats refusing everyone.
        logger.warn({ err }, "rate limiter failed; request allowed");
        next();
      },
    );
  };
}
