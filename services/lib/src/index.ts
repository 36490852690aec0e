/**
 * @blueprint/service-kit: everything services share, so no service repeats it.
 *
 *   const config = loadConfig({ ...commonConfig(8081), ...mongoConfig("catalog"), ...redisConfig() }, process.env, [drainRule]);
 *   const kit = createServiceKit("catalog", config);       // logger, health, metrics, lifecycle
 *   const redis = createRedis(kit, config.redisUrl);        // registers a readiness check and a closer
 *   const app = kit.createApp((app) => app.use(routes));    // request id, metrics, /livez /readyz /metrics, errors
 *   return kit.listen(app);                                 // { url, port, stop() }
 *
 * main.ts: `runMain(() => loadConfig(...), start)`.
 */
export {
  ActiveColorWatcher,
  readActiveColor,
  type ActiveColorState,
  type Color,
  type ConsumerGate,
} from "./active-color.js";
export { createApp, listen, type AppParts, type ListenOptions, type RunningService } from "./app.js";
export {
  commonConfig,
  ConfigError,
  drainRule,
  kafkaConfig,
  key,
  loadConfig,
  mongoConfig,
  outboxConfig,
  redisConfig,
  type CommonConfig,
  type ConfigKey,
  type ConfigOf,
  type ConfigProblem,
  type ConfigSpec,
} from "./config.js";
export { AppError } from "./errors.js";
export { faultInjection, faultsOf, noFaults, type Faults } from "./faults.js";
export { errorHandler, notFoundHandler, toAppError } from "./error-handler.js";
export { Health, type HealthCheck, type ReadinessReport } from "./health.js";
export { createServiceKit, type ServiceKit } from "./kit.js";
export { Lifecycle, type DrainOptions, type DrainTimeline } from "./lifecycle.js";
export { createLogger, type Logger } from "./logger.js";
export { Metrics } from "./metrics.js";
export { requestContext } from "./request-context.js";
export { runMain } from "./run-main.js";
export { findOperatorKey, parseInput, validateBody, validateQuery, type FieldIssue } from "./validate.js";
export { createRedis, redisAvailable, type Redis } from "./clients/redis.js";
export { LockUnavailableError, RedisMutex } from "./clients/redis-mutex.js";
export { connectMongo, ensureCollections, insertOrGet, isDuplicateKey } from "./clients/mongo.js";
export {
  createKafka,
  idempotentProducer,
  startConsumer,
  type ConsumerOptions,
  type EachMessagePayload,
  type Kafka,
  type Producer,
} from "./clients/kafka.js";
export { deadLetterTopicOf, dlqHeaders, PermanentError, type RetryPolicy } from "./clients/kafka-handler.js";
export {
  appendToOutbox,
  newOutbox,
  outboxIndex,
  pendingFilter,
  type OutboxEvent,
  type OutboxFields,
} from "./outbox/outbox.js";
export { OUTBOX_CLAIMS_COLLECTION } from "./outbox/claims.js";
export { OutboxRelay, type RelayOptions } from "./outbox/relay.js";
export { startSagaParticipant } from "./outbox/participant.js";
export {
  catalogEvent,
  orderEvent,
  outboxEvent,
  parseEvent,
  skuSchema,
  topics,
  topicSpecs,
  type CatalogEvent,
  type OrderEvent,
  type OrderItem,
} from "./events.js";
export { z } from "zod";
export type { Collection, Db, MongoClient } from "mongodb";
export {
  apiRouter,
  defineRoute,
  errorBodySchema,
  errorResponseObject,
  openApiDocument,
  openApiPath,
  type ApiResponse,
  type ApiRoute,
} from "./openapi.js";
