import { AppError, redisAvailable, type Redis } from "@blueprint/service-kit";

export interface IdempotencyRecord {
  orderId: string;
  fingerprint: string;
}

/** What a claim found: nothing (the key is now ours), an order still being created, or a finished one. */
export type IdempotencyClaim =
  | { state: "claimed" }
  | { state: "in-progress"; record: IdempotencyRecord }
  | { state: "done"; record: IdempotencyRecord };

/** The stored value: while the first request runs, `pendingUntil` (epoch ms) bounds how long it holds the key. */
interface StoredRecord extends IdempotencyRecord {
  pendingUntil?: number;
}

// Deletes the key only if it still holds this claimant's value, so a failed request never drops another's.
const releaseIfOwned = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`;

/**
 * Idempotency-Key → {orderId, request fingerprint} in Redis, claimed with SET NX EX. A claim is marked pending
 * until the order is stored, so a concurrent duplicate learns at once that the first is still running.
 */
export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    /** How long a claim whose request never finished (a crash) keeps duplicates out; then they take it over. */
    private readonly pendingMs = 10_000,
  ) {}

  /** Claims the key for `record` if it is new; otherwise returns the record stored first and whether it is done. */
  async claim(key: string, record: IdempotencyRecord): Promise<IdempotencyClaim> {
    const pending: StoredRecord = { ...record, pendingUntil: Date.now() + this.pendingMs };
    return this.command(async () => {
      const set = await this.redis.set(
        this.redisKey(key),
        JSON.stringify(pending),
        "EX",
        this.ttlSeconds,
        "NX",
      );
      if (set === "OK") return { state: "claimed" };
      const stored = await this.redis.get(this.redisKey(key));
      // Expired between SET and GET: treat as new; the unique index on the key still prevents a duplicate order.
      if (stored === null) return { state: "claimed" };
      const { orderId, fingerprint, pendingUntil } = JSON.parse(stored) as StoredRecord;
      const inProgress = pendingUntil !== undefined && pendingUntil > Date.now();
      return { state: inProgress ? "in-progress" : "done", record: { orderId, fingerprint } };
    });
  }

  /** The order is stored: later duplicates replay it. Best effort: if it fails, the pending mark just expires. */
  async complete(key: string, record: IdempotencyRecord): Promise<void> {
    const done: StoredRecord = { orderId: record.orderId, fingerprint: record.fingerprint };
    await this.redis
      .set(this.redisKey(key), JSON.stringify(done), "EX", this.ttlSeconds)
      .catch(() => undefined);
  }

  /** The request failed before its order was stored: frees the key so a retry need not wait for the mark. */
  async release(key: string, claimed: IdempotencyRecord): Promise<void> {
    const stored = await this.redis.get(this.redisKey(key)).catch(() => null);
    if (stored === null) return;
    const parsed = JSON.parse(stored) as StoredRecord;
    if (parsed.orderId !== claimed.orderId || parsed.pendingUntil === undefined) return;
    await this.redis.eval(releaseIfOwned, 1, this.redisKey(key), stored).catch(() => undefined);
  }

  private redisKey(key: string): string {
    return `orders:idem:${key}`;
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    const unavailable = (err?: unknown) =>
      AppError.unavailable(
        "idempotency store (Redis) is unavailable; retry with the same Idempotency-Key",
        err,
      );
    // Redis lost: 503 at once rather than after the commands queued for a reconnect time out.
    if (!redisAvailable(this.redis)) throw unavailable();
    try {
      return await run();
    } catch (err) {
      throw unavailable(err);
    }
  }
}
