import {
  serviceEnv as modelServiceEnv,
  type Color,
  type Region,
  type Service,
} from "../../infra/model/index.js";
import type { LocalPorts } from "./ports.js";

export { serviceUrlVar } from "../../infra/model/index.js";

/** Addresses of the shared data tier and the region's Redis, as the services see them. */
export interface DataUrls {
  redis: string;
  mongo: string;
  kafkaBrokers: string[];
}

/** Local-only rollback drills: never part of the model's environment. */
export interface Faults {
  errorRate?: number;
  delayMs?: number;
  /** FAULT_PATH: a regular expression over request paths; the faults hit only those. */
  path?: string;
  /** The services deployColor gives the faults to; default the routed ones (the gateway). */
  services?: string[];
}

/**
 * Environment of one local service process: the model's `serviceEnv` with loopback addresses,
 * plus optional faults for rollback drills. Kafka topics are created by the services (KAFKA_CREATE_TOPICS left
 * at its default).
 */
export function serviceEnv(
  service: Service,
  region: Region,
  color: Color,
  version: string,
  ports: LocalPorts,
  data: DataUrls,
  faults: Faults = {},
  activeColorFile?: string,
  tracing?: { otlpEndpoint: string; sampleRatio: number },
): Record<string, string> {
  const env = modelServiceEnv({
    region,
    service,
    color,
    version,
    listen: { host: region.loopbackAddress, port: ports.service(service.name, color, region.name) },
    serviceUrl: (callee) => `http://${region.loopbackAddress}:${ports.service(callee, color, region.name)}`,
    data: { redisUrl: data.redis, mongoUrl: data.mongo, kafkaBrokers: data.kafkaBrokers },
    // The local edge routes by config, not readiness, and moves traffic before a color stops: no deregistration wait.
    shutdownDelayMs: 0,
    ...(activeColorFile !== undefined ? { activeColorFile } : {}),
    ...(tracing ? { tracing } : {}),
  });
  if (faults.path !== undefined) env.FAULT_PATH = faults.path;
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
