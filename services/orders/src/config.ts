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
};

export type OrdersConfig = ConfigOf<typeof spec>;

export function loadOrdersConfig(env: NodeJS.ProcessEnv = process.env): OrdersConfig {
  return loadConfig(spec, env, [drainRule]);
}
