import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { redisAvailable } from "./redis.js";

const release = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
const renew = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The lock could not be taken (its store is down, or another holder kept it past the wait): nothing was written.
 * The HTTP layer answers 503 with Retry-After; a consumer retries the message.
 */
export class LockUnavailableError extends Error {
  override readonly name = "LockUnavailableError";
}

/**
 * Cross-instance mutual exclusion per key (SET NX PX, compare-and-delete release). MongoDB would not need it for
 * single-document updates, which are atomic there; FerretDB v1 applies updates as read-modify-write without
 * isolation, so concurrent writers of one document lose updates (see services/README.md).
 *
 * The lease never runs out under a live holder: while `write` runs, the holder renews it every third of `ttlMs`,
 * so a write slower than the lease (a Mongo operation waits up to its socket timeout) keeps it. A holder whose
 * process stops (a crash, SIGSTOP, a pause longer than `ttlMs`) stops renewing and its lease expires after
 * `ttlMs`; only a process frozen in the middle of a write and resumed after that can overlap the next holder. On
 * FerretDB, whose updates are not compare-and-set, no fencing token could stop that writer; on MongoDB the
 * conditional updates (status, outboxSeq in the filter) are the fence.
 */
export class RedisMutex {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 5000,
    private readonly waitMs = 5000,
  ) {}

  /** Whether the lock store can be reached now (callers check before work they could not finish without it). */
  available(): boolean {
    return redisAvailable(this.redis);
  }

  async run<T>(key: string, write: () => Promise<T>): Promise<T> {
    // Redis lost: refuse at once (503, or a redelivery for a consumer) instead of queueing until a reconnect.
    if (!this.available())
      throw new LockUnavailableError(`${this.prefix} ${key}: the lock store (Redis) is unavailable; retry`);
    // The hash tag keeps the lock in the key's cluster slot.
    const lockKey = `${this.prefix}:{${key}}:lock`;
    const token = randomUUID();
    const until = Date.now() + this.waitMs;
    const take = () =>
      this.redis.set(lockKey, token, "PX", this.ttlMs, "NX").catch((err: Error) => {
        // A hung or lost Redis (a command timeout): the lock cannot be known, so nothing is written.
        throw new LockUnavailableError(
          `${this.prefix} ${key}: the lock store failed (${err.message}); retry`,
        );
      });
    while ((await take()) !== "OK") {
      if (Date.now() > until) throw new LockUnavailableError(`${this.prefix} ${key} is busy; retry`);
      await sleep(5 + Math.random() * 10);
    }
    const renewal = setInterval(() => {
      this.redis.eval(renew, 1, lockKey, token, this.ttlMs).catch(() => undefined);
    }, this.ttlMs / 3);
    try {
      return await write();
    } finally {
      clearInterval(renewal);
      await this.redis.eval(release, 1, lockKey, token).catch(() => undefined);
    }
  }
}
