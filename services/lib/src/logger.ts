import { pino, type Logger } from "pino";
import type { CommonConfig } from "./config.js";
import { activeTraceId } from "./trace-context.js";

export type { Logger } from "pino";

export function createLogger(
  service: string,
  config: Pick<CommonConfig, "logLevel" | "region" | "color" | "serviceVersion">,
): Logger {
  return pino({
    level: config.logLevel,
    base: { service, region: config.region, color: config.color, version: config.serviceVersion },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: ["req.headers.authorization", "req.headers.cookie"],
    // A log line written inside a trace names it, so the trace store and the logs find each other.
    mixin: () => {
      const traceId = activeTraceId();
      return traceId ? { trace_id: traceId } : {};
    },
  });
}
