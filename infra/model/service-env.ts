import type { Region, Service } from "./blueprint.js";
import type { Color } from "./schema.js";

/** Directory where every service pod mounts the `rollout` ConfigMap. */
export const ROLLOUT_MOUNT_DIR = "/etc/blueprint/rollout";
/** Key of the `rollout` ConfigMap holding the active color, and the file name under the mount. */
export const ACTIVE_COLOR_KEY = "active-color";
export const ACTIVE_COLOR_PATH = `${ROLLOUT_MOUNT_DIR}/${ACTIVE_COLOR_KEY}`;

/** Addresses of the data stores as one instance reaches them; only those in `dependsOn` are passed on. */
export interface DataAddresses {
  redisUrl: string;
  mongoUrl: string;
  kafkaBrokers: string[];
}

/** One service instance, as parts of the blueprint, plus what the caller (Kubernetes or local) knows. */
export interface ServiceEnvInput {
  region: Region;
  service: Service;
  color: Color;
  /** SERVICE_VERSION: the color's version (`rollout.versions[color]`). */
  version: string;
  /** Interface and port the instance listens on. */
  listen: { host: string; port: number };
  /** Base URL (`http://host:port`) of a called service (by name) in the same color and region. */
  serviceUrl: (callee: string) => string;
  data: DataAddresses;
  /** SHUTDOWN_DELAY_MS; default the model's `services[].shutdownDelayMs`. */
  shutdownDelayMs?: number;
  /** ACTIVE_COLOR_FILE; unset: the services consume regardless of color (fail open). */
  activeColorFile?: string;
  /** KAFKA_CREATE_TOPICS for Kafka users; unset leaves the services' default ("true"). */
  kafkaCreateTopics?: boolean;
  /** OTEL_EXPORTER_OTLP_ENDPOINT and TRACE_SAMPLE_RATIO; no endpoint: tracing off. */
  tracing?: { otlpEndpoint?: string; sampleRatio: number };
}

/** `orders` → `ORDERS_URL`, the variable a caller reads for a service it depends on. */
export const serviceUrlVar = (name: string) => `${name.toUpperCase().replaceAll("-", "_")}_URL`;

/** Variables serviceEnv sets itself; `services[].env` may not override them (the model rejects it). */
export const MANAGED_ENV = [
  "PORT",
  "HOST",
  "REGION",
  "COLOR",
  "SERVICE_VERSION",
  "DRAIN_SECONDS",
  "SHUTDOWN_DELAY_MS",
  "ACTIVE_COLOR_FILE",
  "KAFKA_CREATE_TOPICS",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "TRACE_SAMPLE_RATIO",
  "REDIS_URL",
  "MONGO_URL",
  "KAFKA_BROKERS",
  "REDIS_PASSWORD",
  "MONGO_PASSWORD",
] as const;

/**
 * Environment of one service instance, the same on Kubernetes and on loopback: common keys, the
 * data stores it depends on, the same-color services it calls, rollout files, then the model's `env`.
 */
export function serviceEnv(input: ServiceEnvInput): Record<string, string> {
  const { region, service, color, version } = input;
  const shutdownDelayMs = input.shutdownDelayMs ?? service.shutdownDelayMs;
  if (!(
    Number.isInteger(shutdownDelayMs) &&
    shutdownDelayMs >= 0 &&
    shutdownDelayMs < service.drainSeconds * 1000
  )) {
    throw new Error(
      `shutdownDelayMs must be a whole number of milliseconds below drainSeconds × 1000 (${service.drainSeconds * 1000}; got ${shutdownDelayMs})`,
    );
  }
  const env: Record<string, string> = {
    PORT: String(input.listen.port),
    HOST: input.listen.host,
    LOG_LEVEL: "info",
    REGION: region.name,
    COLOR: color,
    SERVICE_VERSION: version,
    DRAIN_SECONDS: String(service.drainSeconds),
    SHUTDOWN_DELAY_MS: String(shutdownDelayMs),
  };
  if (service.dependsOnData.includes("redis")) env.REDIS_URL = input.data.redisUrl;
  if (service.dependsOnData.includes("mongo")) env.MONGO_URL = input.data.mongoUrl;
  if (service.dependsOnData.includes("kafka")) {
    env.KAFKA_BROKERS = input.data.kafkaBrokers.join(",");
    if (input.kafkaCreateTopics !== undefined) env.KAFKA_CREATE_TOPICS = String(input.kafkaCreateTopics);
  }
  for (const callee of service.dependsOnServices) env[serviceUrlVar(callee)] = input.serviceUrl(callee);
  if (input.activeColorFile !== undefined) env.ACTIVE_COLOR_FILE = input.activeColorFile;
  if (input.tracing?.otlpEndpoint) {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = input.tracing.otlpEndpoint;
    env.TRACE_SAMPLE_RATIO = String(input.tracing.sampleRatio);
  }
  return { ...env, ...service.env };
}
