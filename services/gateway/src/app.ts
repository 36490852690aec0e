import {
  errorHandler,
  faultInjection,
  notFoundHandler,
  requestContext,
  type Redis,
  type ServiceKit,
} from "@blueprint/service-kit";
import express, { type Express } from "express";
import { Counter } from "prom-client";
import type { GatewayConfig } from "./config.js";
import { enforceExposure, exposedRoutes } from "./exposure.js";
import { rateLimit } from "./rate-limit.js";
import { proxyTo } from "./upstream/proxy.js";
import type { Upstream } from "./upstream/upstream.js";

/**
 * The gateway's express app: the kit's request context, metrics, health and error handling around the proxy
 * routes. Not kit.createApp, because that parses JSON bodies and a proxy must forward bodies untouched (the
 * upstream decides what malformed JSON means).
 */
export function createGatewayApp(
  kit: ServiceKit,
  config: GatewayConfig,
  redis: Redis,
  upstreams: { catalog: Upstream; orders: Upstream },
): Express {
  const { health, metrics, logger } = kit;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", config.trustProxy);
  app.use(requestContext(logger, { "x-service-version": config.serviceVersion, "x-color": config.color }));
  app.use(metrics.middleware());
  app.use((_req, res, next) => {
    // While draining, clients are asked to close keep-alive sockets (proxied responses check again at write).
    if (health.draining) res.setHeader("connection", "close");
    next();
  });
  app.get("/livez", health.livez());
  app.get("/readyz", health.readyz());
  app.get("/metrics", metrics.handler());
  const faults = faultInjection({ errorRate: config.faultErrorRate, delayMs: config.faultDelayMs });
  if (faults) app.use(faults);

  app.use("/api", rateLimit(redis, logger, { perSecond: config.rateLimitPerSecond }));
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
  // Exposure is checked before the body is read, so a refused write costs no buffering and never reaches upstream.
  for (const route of exposedRoutes)
    app.all(
      `${route.prefix}{/*rest}`,
      enforceExposure(route),
      body,
      proxyTo(upstreams[route.upstream], { prefix: route.prefix, ...common }),
    );

  app.use(notFoundHandler);
  app.use(errorHandler(logger, metrics.errors));
  return app;
}
