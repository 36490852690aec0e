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
import type { OrdersConfig } from "./config.js";
import { IdempotencyStore } from "./data-access/idempotency-store.js";
import { OrderRepository } from "./data-access/order-repository.js";
import { OrderSaga } from "./domain/order-saga.js";
import { OrderReconciler } from "./domain/reconciler.js";
import { OrderService } from "./domain/order-service.js";
import { orderRoutes } from "./routes/orders.js";

/**
 * Starts orders: HTTP API, outbox relay to `orders.events` and the saga consumer of `catalog.events`.
 * Kafka is not a readiness dependency: orders are stored with their event, and the relay delivers later.
 */
export async function start(config: OrdersConfig, opts: { logger?: Logger } = {}): Promise<RunningService> {
  const kit = createServiceKit("orders", config, opts);
  const { db } = await connectMongo(kit, config.mongoUrl, config.mongoDb);
  const redis = createRedis(kit, config.redisUrl);
  const kafka = createKafka(kit, config.kafkaBrokers);

  const orderMutex = new RedisMutex(redis, "orders:order");
  const orders = new OrderRepository(db, orderMutex);
  await orders.init();
  const service = new OrderService(orders, new IdempotencyStore(redis, config.idempotencyTtlSeconds));
  const saga = new OrderSaga(orders, kit.metrics, kit.logger);

  startSagaParticipant(kit, kafka, {
    db,
    outbox: orders.collection,
    docMutex: orderMutex,
    pollMs: config.outboxPollMs,
    leaseMs: config.outboxLeaseMs,
    createTopics: config.kafkaCreateTopics,
    activeColorFile: config.activeColorFile,
    groupId: "orders-saga",
    consumes: topics.catalog,
    handle: (value) => saga.handle(value),
  });

  const reconciler = new OrderReconciler(
    orders,
    {
      retryAfterMs: config.reconcileRetryAfterMs,
      deadlineMs: config.reconcileDeadlineMs,
      intervalMs: config.reconcileIntervalMs,
    },
    kit.metrics,
    kit.logger,
  );
  reconciler.start();
  kit.lifecycle.onClose("reconciler", async () => reconciler.stop());

  const app = kit.createApp((app) => app.use(orderRoutes(service)));
  return kit.listen(app);
}
