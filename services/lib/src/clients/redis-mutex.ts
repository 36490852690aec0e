import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { AppError } from "../errors.js";
import { redisAvailable } from "./redis.js";

const release = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Cross-instance mutual exclusion per key (SET NX PX, compare-and-delete release). MongoDB would not need it for
 * single-document updates, which are atomic there; FerretDB v1 applies updates as read-modify-write without
 * isolation, so concurrent writers of one document lose updates (see services/README.md). Not a fencing lock:
 * a holder paused longer than `ttlMs` may overlap the next one.
 */
export class RedisMutex {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 5000,
    private readonly waitMs = 5000,
  ) {}

  async run<T>(key: string, write: () => Promise<T>): Promise<T> {
    // The hash tag keeps the lock in the key's cluster slot.
    // Redis lost: refuse at once (503, or a redelivery for a consumer) instead of queueing until a reconnect.
    if (!redisAvailable(this.redis))
      throw AppError.unavailable(`${this.prefix} ${key}: the lock store (Redis) is unavailable; retry`);
    const lockKey = `${this.prefix}:{${key}}:lock`;
    const token = randomUUID();
    const until = Date.now() + this.waitMs;
    while ((await this.redis.set(lockKey, token, "PX", this.ttlMs, "NX")) !== "OK") {
      if (Date.now() > until) throw AppError.unavailable(`${this.prefix} ${key} is busy; retry`);
      await sleep(5 + Math.random() * 10);
    }
    try {
      return await write();
    } finally {
      await this.redis.eval(release, 1, lockKey, token).catch(() => undefined);
    }
  }
}
