import {
  commonConfig,
  drainRule,
  kafkaConfig,
  key,
  loadConfig,
  mongoConfig,
  outboxConfig,
  redisConfig,
  z,
  type ConfigOf,
} from "@blueprint/service-kit";

const spec = {
  ...commonConfig(8082),
  ...mongoConfig("orders"),
  ...redisConfig(),
  ...kafkaConfig(),
  ...outboxConfig(),
  idempotencyTtlSeconds: key(
    "IDEMPOTENCY_TTL_SECONDS",
    z.coerce
      .number()
      .int()
      .min(60)
      .max(30 * 86_400),
    {
      doc: "how long an Idempotency-Key is remembered, in seconds (60-2592000)",
      default: "86400",
    },
  ),
  reconcileRetryAfterMs: key("RECONCILE_RETRY_AFTER_MS", z.coerce.number().int().min(100).max(86_400_000), {
    doc: "a PENDING order this old (ms) gets its OrderCreated sent again, and again after as long",
    default: "30000",
  }),
  reconcileDeadlineMs: key(
    "RECONCILE_DEADLINE_MS",
    z.coerce
      .number()
      .int()
      .min(100)
      .max(7 * 86_400_000),
    {
      doc: "a PENDING order this old (ms) is cancelled (reason timeout) and catalog gives its stock back",
      default: "300000",
    },
  ),
  reconcileIntervalMs: key("RECONCILE_INTERVAL_MS", z.coerce.number().int().min(50).max(3_600_000), {
    doc: "how often orders looks for stuck PENDING orders (ms)",
    default: "10000",
  }),
};

export type OrdersConfig = ConfigOf<typeof spec>;

export function loadOrdersConfig(env: NodeJS.ProcessEnv = process.env): OrdersConfig {
  return loadConfig(spec, env, [drainRule]);
}
