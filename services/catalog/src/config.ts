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
  ...commonConfig(8081),
  ...mongoConfig("catalog"),
  ...redisConfig(),
  ...kafkaConfig(),
  ...outboxConfig(),
  cacheTtlSeconds: key("CACHE_TTL_SECONDS", z.coerce.number().int().min(1).max(86_400), {
    doc: "the Redis cache TTL for products in seconds (1-86400)",
    default: "60",
  }),
  l1TtlMs: key("CACHE_L1_TTL_MS", z.coerce.number().int().min(0).max(60_000), {
    doc: "the in-process cache TTL in milliseconds (0 disables it; pub/sub evicts entries early)",
    default: "2000",
  }),
  markerGraceMs: key("SAGA_MARKER_GRACE_MS", z.coerce.number().int().min(1000).max(86_400_000), {
    doc: "how long a final reservation's per-order stock markers stay on the products (ms); a saga delivery older than half of it stops before writing",
    default: "600000",
  }),
  settleIntervalMs: key("SAGA_SETTLE_INTERVAL_MS", z.coerce.number().int().min(100).max(3_600_000), {
    doc: "how often catalog drops the markers of reservations past their grace period (ms)",
    default: "30000",
  }),
};

export type CatalogConfig = ConfigOf<typeof spec>;

export function loadCatalogConfig(env: NodeJS.ProcessEnv = process.env): CatalogConfig {
  return loadConfig(spec, env, [drainRule]);
}
