import {
  connectMongo,
  createKafka,
  createRedis,
  createServiceKit,
  RedisMutex,
  startSagaParticipant,
  topics,
  type Logger,
  type RunningService,
} from "@blueprint/service-kit";
import type { CatalogConfig } from "./config.js";
import { ProductCache } from "./data-access/product-cache.js";
import { ProductRepository } from "./data-access/product-repository.js";
import { ReservationRepository } from "./data-access/reservation-repository.js";
import { CatalogService } from "./domain/catalog-service.js";
import { StockSaga } from "./domain/stock-saga.js";
import { productRoutes } from "./routes/products.js";

/** Starts catalog: HTTP API, cache invalidation subscriber, saga consumer and outbox relay. */
export async function start(config: CatalogConfig, opts: { logger?: Logger } = {}): Promise<RunningService> {
  const kit = createServiceKit("catalog", config, opts);
  const { db } = await connectMongo(kit, config.mongoUrl, config.mongoDb);
  // Not critical: without Redis reads go to MongoDB; writes and saga steps (per-document mutex) answer 503 or are
  // redelivered. Every catalog of the region shares this Redis, so a critical check would empty the region.
  const redis = createRedis(kit, config.redisUrl, "redis", { critical: false });
  const subscriber = createRedis(kit, config.redisUrl, "redis-subscriber", { readiness: false });
  const kafka = createKafka(kit, config.kafkaBrokers);

  const products = new ProductRepository(db, new RedisMutex(redis, "catalog:product"));
  const reservationMutex = new RedisMutex(redis, "catalog:reservation");
  const reservations = new ReservationRepository(db, reservationMutex);
  await products.init();
  await reservations.init();
  const cache = new ProductCache(
    redis,
    subscriber,
    { ttlSeconds: config.cacheTtlSeconds, l1TtlMs: config.l1TtlMs },
    kit.metrics,
    kit.logger,
  );
  await cache.start();
  const catalog = new CatalogService(products, cache, kit.logger);
  const saga = new StockSaga(products, reservations, cache, kit.logger, {
    markerGraceMs: config.markerGraceMs,
  });
  // Bounded work per round; a round that fails (Redis or Mongo down) is retried at the next interval.
  const settler = setInterval(() => {
    saga.settleDue().catch((err: Error) => kit.logger.warn({ err: err.message }, "settling markers failed"));
  }, config.settleIntervalMs);
  kit.lifecycle.onClose("saga-settler", async () => clearInterval(settler));

  startSagaParticipant(kit, kafka, {
    db,
    outbox: reservations.collection,
    docMutex: reservationMutex,
    pollMs: config.outboxPollMs,
    leaseMs: config.outboxLeaseMs,
    createTopics: config.kafkaCreateTopics,
    activeColorFile: config.activeColorFile,
    groupId: "catalog-saga",
    consumes: topics.orders,
    handle: (value) => saga.handle(value),
  });

  const app = kit.createApp((app) => app.use(productRoutes(catalog)));
  return kit.listen(app);
}
