import type { Express } from "express";
import { Gauge } from "prom-client";
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
  // The readiness checks as series, so an alert sees a dependency down before a client does (ReadinessCheckFailing).
  metrics.labelledGauge(
    "readiness_check_up",
    "1 while a readiness check passes, 0 while it fails; the checks run at each scrape",
    ["check", "critical"],
    async () =>
      (await health.runChecks())
        .filter(([c]) => c.applies())
        .map(([c, result]) => ({
          labels: { check: c.name, critical: String(c.critical) },
          value: result === "ok" ? 1 : 0,
        })),
  );
  // The version each instance runs, as build_info-style series (the rollout dashboard's versions per color).
  new Gauge({
    name: "service_info",
    help: "1, labelled with the SERVICE_VERSION this instance runs",
    labelNames: ["version"],
    registers: [metrics.registry],
  }).set({ version: config.serviceVersion }, 1);
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
