import { randomUUID } from "node:crypto";
import { redisAvailable, type Logger, type Metrics, type Redis } from "@blueprint/service-kit";
import type { Product } from "./product-repository.js";

export interface CacheOptions {
  ttlSeconds: number;
  l1TtlMs: number;
  /** How long one instance may hold the loader lock for a key. */
  lockMs?: number;
  /** How long other callers poll for the loader's result before loading themselves. */
  waitMs?: number;
  l1MaxEntries?: number;
}

const channel = "catalog:invalidate";
// Hash tags keep a product's value and lock in one cluster slot, so the script below may touch both.
const valueKey = (sku: string) => `catalog:{${sku}}:product`;
const lockKey = (sku: string) => `catalog:{${sku}}:lock`;
// Lists are cached per generation: every product write raises it, so a list cached before the write is never
// read after it (a load that began before the write stores under the old generation, which nobody reads).
const listGenerationKey = "catalog:list:generation";
const listKey = (generation: string, page: string) => `catalog:list:${generation}:${page}`;
// Stores the value only if this loader still owns the lock: an invalidation deletes the lock, so a load that
// began before a write never puts the old value back.
const setIfOwner = `if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[3]); redis.call('del', KEYS[1]); return 1 end return 0`;

type Cached = Product | null;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Cache-aside in two levels: a tiny in-process L1 (seconds) and Redis (CACHE_TTL_SECONDS). A miss is loaded by
 * one caller per key per process (single-flight) and one process per key across instances (SET NX PX lock);
 * writers delete the Redis value and publish the sku, and every instance evicts its L1 entry on that message.
 * List pages are cached the same way under a generation that every product write raises (`getList`), so a list
 * is never older than the last write by more than the L1 TTL, as a single product.
 */
export class ProductCache {
  private readonly l1 = new Map<string, { value: Cached; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<Cached>>();
  /** Skus written while Redis was unreachable: invalidated when it is back. */
  private readonly deferred = new Set<string>();
  private readonly reads;
  private readonly listReads;
  private readonly l1Lists = new Map<string, { value: Product[]; expiresAt: number }>();
  private readonly inflightLists = new Map<string, Promise<Product[]>>();
  /** Raised by every invalidation this process sees: a list loaded across one is not kept in L1. */
  private listEpoch = 0;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly opts: CacheOptions,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.reads = metrics.counter("catalog_product_reads_total", "Product reads by the level that answered", [
      "source",
    ]);
    this.listReads = metrics.counter(
      "catalog_list_reads_total",
      "Product list reads by the level that answered",
      ["source"],
    );
  }

  async start(): Promise<void> {
    this.subscriber.on("message", (ch: string, sku: string) => {
      if (ch !== channel) return;
      this.l1.delete(sku);
      this.dropLists();
    });
    // After a reconnect, invalidations may have been missed while unsubscribed.
    this.subscriber.on("ready", () => {
      this.l1.clear();
      this.dropLists();
    });
    this.redis.on("ready", () => void this.flushDeferred());
    await this.subscriber.subscribe(channel);
  }

  get(sku: string, load: () => Promise<Cached>): Promise<Cached> {
    return this.singleFlight(this.l1, this.inflight, this.reads, sku, () => this.getShared(sku, load));
  }

  /** A page of the product list (`page` names its limit and cursor), cached like a product. */
  getList(page: string, load: () => Promise<Product[]>): Promise<Product[]> {
    return this.singleFlight(this.l1Lists, this.inflightLists, this.listReads, page, () =>
      this.getSharedList(page, load),
    );
  }

  /** The L1 entry if it is fresh, else the load already under way for `key`, else a new one (single-flight). */
  private singleFlight<T>(
    l1: Map<string, { value: T; expiresAt: number }>,
    inflight: Map<string, Promise<T>>,
    reads: { inc(labels: { source: string }): void },
    key: string,
    loadShared: () => Promise<T>,
  ): Promise<T> {
    const hit = l1.get(key);
    if (hit && hit.expiresAt > Date.now()) {
      reads.inc({ source: "l1" });
      return Promise.resolve(hit.value);
    }
    const pending = inflight.get(key);
    if (pending) return pending;
    const promise = loadShared().finally(() => inflight.delete(key));
    inflight.set(key, promise);
    return promise;
  }

  private async getSharedList(page: string, load: () => Promise<Product[]>): Promise<Product[]> {
    const epoch = this.listEpoch;
    if (!redisAvailable(this.redis)) {
      this.listReads.inc({ source: "mongo_fallback" });
      return load();
    }
    const generation = await this.redis.get(listGenerationKey).catch(() => undefined);
    if (generation === undefined) {
      this.listReads.inc({ source: "mongo_fallback" });
      return load();
    }
    const key = listKey(generation ?? "0", page);
    const raw = await this.redis.get(key).catch(() => null);
    if (raw !== null) {
      this.listReads.inc({ source: "redis" });
      const value = JSON.parse(raw) as Product[];
      this.putListL1(page, value, epoch);
      return value;
    }
    const value = await load();
    this.listReads.inc({ source: "mongo" });
    await this.redis
      .set(key, JSON.stringify(value), "EX", this.opts.ttlSeconds)
      .catch((err: Error) => this.logger.warn({ err: err.message, page }, "list cache store failed"));
    this.putListL1(page, value, epoch);
    return value;
  }

  private putListL1(page: string, value: Product[], epoch: number): void {
    if (this.opts.l1TtlMs === 0 || epoch !== this.listEpoch) return;
    if (this.l1Lists.size >= 1000) this.l1Lists.delete(this.l1Lists.keys().next().value as string);
    this.l1Lists.set(page, { value, expiresAt: Date.now() + this.opts.l1TtlMs });
  }

  private dropLists(): void {
    this.listEpoch += 1;
    this.l1Lists.clear();
  }

  /** Remembers a write whose invalidation failed; flushed when the Redis client is ready again. */
  invalidateLater(sku: string): void {
    this.l1.delete(sku);
    this.dropLists();
    this.deferred.add(sku);
  }

  private async flushDeferred(): Promise<void> {
    for (const sku of [...this.deferred]) {
      try {
        await this.invalidate(sku);
        this.deferred.delete(sku);
      } catch (err) {
        this.logger.warn(
          { err: (err as Error).message, sku },
          "deferred invalidation failed; retried on the next reconnect",
        );
        return;
      }
    }
  }

  async invalidate(sku: string): Promise<void> {
    this.l1.delete(sku);
    this.dropLists();
    await this.redis.del(valueKey(sku), lockKey(sku));
    await this.redis.incr(listGenerationKey);
    await this.redis.publish(channel, sku);
  }

  private async getShared(sku: string, load: () => Promise<Cached>): Promise<Cached> {
    // Redis lost: answer from MongoDB now rather than wait for commands queued until a reconnect.
    if (!redisAvailable(this.redis)) {
      this.reads.inc({ source: "mongo_fallback" });
      return load();
    }
    const cached = await this.readRedis(sku);
    if (cached !== undefined) return cached;
    const token = randomUUID();
    const locked = await this.redis
      .set(lockKey(sku), token, "PX", this.opts.lockMs ?? 2000, "NX")
      .catch(() => "unavailable" as const);
    if (locked === "unavailable") {
      this.reads.inc({ source: "mongo_fallback" });
      return load();
    }
    if (locked === "OK") {
      const value = await load();
      this.reads.inc({ source: "mongo" });
      const stored = await this.redis
        .eval(setIfOwner, 2, lockKey(sku), valueKey(sku), token, JSON.stringify(value), this.opts.ttlSeconds)
        .catch((err: Error) => this.logger.warn({ err: err.message, sku }, "cache store failed"));
      if (stored === 1) this.putL1(sku, value);
      return value;
    }
    const deadline = Date.now() + (this.opts.waitMs ?? 1000);
    while (Date.now() < deadline) {
      await sleep(20);
      const value = await this.readRedis(sku);
      if (value !== undefined) return value;
    }
    // The loader is slow or gone: answer from the database rather than fail the request.
    this.reads.inc({ source: "mongo_fallback" });
    return load();
  }

  /** undefined = not cached (or Redis unavailable, which degrades to database reads). */
  private async readRedis(sku: string): Promise<Cached | undefined> {
    const raw = await this.redis.get(valueKey(sku)).catch(() => null);
    if (raw === null) return undefined;
    this.reads.inc({ source: "redis" });
    const value = JSON.parse(raw) as Cached;
    this.putL1(sku, value);
    return value;
  }

  private putL1(sku: string, value: Cached): void {
    if (this.opts.l1TtlMs === 0) return;
    if (this.l1.size >= (this.opts.l1MaxEntries ?? 10_000))
      this.l1.delete(this.l1.keys().next().value as string);
    this.l1.set(sku, { value, expiresAt: Date.now() + this.opts.l1TtlMs });
  }
}
