import { AppError, redisAvailable, type Redis } from "@blueprint/service-kit";

export interface IdempotencyRecord {
  orderId: string;
  fingerprint: string;
}

/** Idempotency-Key → {orderId, request fingerprint} in Redis, claimed with SET NX EX. */
export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  /** Stores `record` if the key is new; otherwise returns the record stored first. */
  async claim(key: string, record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
    const redisKey = `orders:idem:${key}`;
    const unavailable = (err?: unknown) =>
      AppError.unavailable(
        "idempotency store (Redis) is unavailable; retry with the same Idempotency-Key",
        err,
      );
    // Redis lost: 503 at once rather than after the commands queued for a reconnect time out.
    if (!redisAvailable(this.redis)) throw unavailable();
    try {
      const set = await this.redis.set(redisKey, JSON.stringify(record), "EX", this.ttlSeconds, "NX");
      if (set === "OK") return null;
      const stored = await this.redis.get(redisKey);
      // Expired between SET and GET: treat as new; the unique index on the key still prevents a duplicate order.
      return stored === null ? null : (JSON.parse(stored) as IdempotencyRecord);
    } catch (err) {
      throw unavailable(err);
    }
  }
}
