import { createApp, faultsOf, type Redis, type ServiceKit } from "@blueprint/service-kit";
import express, { type Express } from "express";
import { Counter } from "prom-client";
import type { GatewayConfig } from "./config.js";
import { enforceExposure, exposedRoutes } from "./exposure.js";
import { publicDocumentHandler } from "./openapi.js";
import { rateLimit } from "./rate-limit.js";
import { absoluteFormTarget } from "./request-target.js";
import { proxyTo } from "./upstream/proxy.js";
import type { Upstream } from "./upstream/upstream.js";

/**
 * The gateway's express app: the kit's middleware (request context, metrics, drain header, health, faults,
 * errors) around the proxy routes, without the kit's JSON parsing, because a proxy must forward bodies untouched
 * (the upstream decides what malformed JSON means).
 */
export function createGatewayApp(
  kit: ServiceKit,
  config: GatewayConfig,
  redis: Redis,
  upstreams: { catalog: Upstream; orders: Upstream },
): Express {
  const { health, metrics, logger } = kit;
  const body = express.raw({ type: () => true, limit: config.bodyLimitBytes, inflate: false });
  const retries = new Counter({
    name: "gateway_upstream_retries_total",
    help: "Retries of idempotent upstream requests: retried, or refused by the retry budget",
    labelNames: ["upstream", "result"] as const,
    registers: [metrics.registry],
  });
  const common = {
    timeoutMs: config.upstreamTimeoutMs,
    maxRetries: config.maxRetries,
    color: config.color,
    health,
    retries,
  };
  const parts = {
    logger,
    health,
    metrics,
    headers: { "x-service-version": config.serviceVersion, "x-color": config.color },
    faults: faultsOf(config),
    parseJson: false,
  };
  return createApp(parts, (app) => {
    app.set("trust proxy", config.trustProxy);
    app.use(absoluteFormTarget());
    app.get(
      "/openapi.json",
      publicDocumentHandler({ catalog: config.catalogUrl, orders: config.ordersUrl }, exposedRoutes, {
        timeoutMs: config.upstreamTimeoutMs,
        version: config.serviceVersion,
      }),
    );
    app.use("/api", rateLimit(redis, logger, { perSecond: config.rateLimitPerSecond }));
    // Exposure is checked before the body is read, so a refused write costs no buffering and never reaches upstream.
    for (const route of exposedRoutes)
      app.all(
        `${route.prefix}{/*rest}`,
        enforceExposure(route),
        body,
        proxyTo(upstreams[route.upstream], { prefix: route.prefix, ...common }),
      );
  });
}
