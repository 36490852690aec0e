import { createRedis, createServiceKit, type Logger, type RunningService } from "@blueprint/service-kit";
import { createGatewayApp } from "./app.js";
import type { GatewayConfig } from "./config.js";
import { registerCircuitGauge, Upstream } from "./upstream/upstream.js";

/** Starts the gateway: proxy routes, shared rate limit, breakers; stop() drains gracefully. */
export async function start(config: GatewayConfig, opts: { logger?: Logger } = {}): Promise<RunningService> {
  const kit = createServiceKit("gateway", config, opts);
  // Readiness is draining only, never the upstreams nor Redis: if catalog failed, every gateway in the region
  // would turn unready and DNS would drop the whole region (orders too) for a partial fault, and a fault shared
  // by all regions would take them all out of DNS. A down upstream is answered per request (503, open circuit);
  // a down Redis is shown in /readyz and the in-memory insurance limiter takes over.
  const redis = createRedis(kit, config.redisUrl, "redis", { critical: false });
  const upstreamOptions = {
    retryBudgetPercent: config.retryBudgetPercent,
    circuitErrorPercent: config.circuitErrorPercent,
    circuitVolume: config.circuitVolume,
    circuitResetMs: config.circuitResetMs,
  };
  const upstreams = {
    catalog: new Upstream("catalog", config.catalogUrl, upstreamOptions),
    orders: new Upstream("orders", config.ordersUrl, upstreamOptions),
  };
  registerCircuitGauge(kit.metrics.registry, Object.values(upstreams));
  kit.lifecycle.onClose("upstreams", async () => {
    for (const upstream of Object.values(upstreams)) upstream.close();
  });
  return kit.listen(createGatewayApp(kit, config, redis, upstreams), {
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
  });
}
