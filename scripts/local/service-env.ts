import type { Color, Region, Service } from "../../infra/model/index.js";
import type { LocalPorts } from "./ports.js";

/** Addresses of the shared data tier and the region's Redis, as the services see them. */
export interface DataUrls {
  redis: string;
  mongo: string;
  kafkaBrokers: string[];
}

export interface Faults {
  errorRate?: number;
  delayMs?: number;
}

/** `orders` → `ORDERS_URL`, the contract-B variable a caller reads for a service it depends on. */
export const serviceUrlVar = (name: string) => `${name.toUpperCase().replace(/-/g, "_")}_URL`;

/**
 * Environment of one service process (contract B): common keys, data stores and called services of the
 * same color and region, the model's `env`, and optional faults for rollback drills.
 */
export function serviceEnv(
  service: Service,
  region: Region,
  color: Color,
  version: string,
  ports: LocalPorts,
  data: DataUrls,
  faults: Faults = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PORT: String(ports.service(service.name, color, region.name)),
    HOST: region.loopbackAddress,
    LOG_LEVEL: "info",
    DRAIN_SECONDS: String(service.drainSeconds),
    // The local edge routes by config, not readiness, and moves traffic before a color stops: no deregistration wait.
    SHUTDOWN_DELAY_MS: "0",
    REGION: region.name,
    COLOR: color,
    SERVICE_VERSION: version,
  };
  for (const store of service.dependsOnData) {
    if (store === "redis") env.REDIS_URL = data.redis;
    if (store === "mongo") env.MONGO_URL = data.mongo;
    if (store === "kafka") env.KAFKA_BROKERS = data.kafkaBrokers.join(",");
  }
  for (const callee of service.dependsOnServices) {
    env[serviceUrlVar(callee)] =
      `http://${region.loopbackAddress}:${ports.service(callee, color, region.name)}`;
  }
  Object.assign(env, service.env);
  if (faults.errorRate !== undefined) {
    if (!(faults.errorRate >= 0 && faults.errorRate <= 1)) {
      throw new Error(`faults.errorRate must be between 0 and 1 (got ${faults.errorRate})`);
    }
    env.FAULT_ERROR_RATE = String(faults.errorRate);
  }
  if (faults.delayMs !== undefined) {
    if (!(Number.isInteger(faults.delayMs) && faults.delayMs >= 0)) {
      throw new Error(`faults.delayMs must be a whole number of milliseconds >= 0 (got ${faults.delayMs})`);
    }
    env.FAULT_DELAY_MS = String(faults.delayMs);
  }
  return env;
}
