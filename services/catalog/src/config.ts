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
};

export type CatalogConfig = ConfigOf<typeof spec>;

export function loadCatalogConfig(env: NodeJS.ProcessEnv = process.env): CatalogConfig {
  return loadConfig(spec, env, [drainRule]);
}
