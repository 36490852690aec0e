import type { Express } from "express";
import { createApp, listen, type ListenOptions, type RunningService } from "./app.js";
import type { CommonConfig } from "./config.js";
import { faultsOf } from "./faults.js";
import { Health } from "./health.js";
import { Lifecycle } from "./lifecycle.js";
import { createLogger, type Logger } from "./logger.js";
import { Metrics } from "./metrics.js";

/** Everything a service needs from the kit, built once per service instance from its config. */
export interface ServiceKit {
  service: string;
  config: CommonConfig;
  logger: Logger;
  health: Health;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Builds the express app with the kit middleware around `mount`. */
  createApp(mount: (app: Express) => void): Express;
  /** Listens on HOST:PORT (PORT 0 picks a free port); the returned stop() drains gracefully. */
  listen(app: Express, opts?: ListenOptions): Promise<RunningService>;
}

export function createServiceKit(
  service: string,
  config: CommonConfig,
  opts: { logger?: Logger } = {},
): ServiceKit {
  const logger = opts.logger ?? createLogger(service, config);
  const health = new Health();
  const metrics = new Metrics({ service, region: config.region, color: config.color });
  const lifecycle = new Lifecycle(health, logger, {
    shutdownDelayMs: config.shutdownDelayMs,
    drainSeconds: config.drainSeconds,
  });
  const headers = { "x-service-version": config.serviceVersion, "x-color": config.color };
  const faults = faultsOf(config);
  if (faults.errorRate > 0 || faults.delayMs > 0)
    logger.warn({ faults }, "fault injection is on: this instance deliberately fails or slows requests");
  return {
    service,
    config,
    logger,
    health,
    metrics,
    lifecycle,
    createApp: (mount) => createApp({ logger, health, metrics, headers, faults }, mount),
    listen: (app, listenOpts) => listen(app, config.host, config.port, lifecycle, listenOpts),
  };
}
