import type { RunningService } from "@blueprint/service-kit";
import { startKafka, startMongo, startRedis, type RunningServer } from "../../scripts/lib/servers/index.js";
import { sagaTopics, testEnv } from "../../services/lib/test/env.js";
import { loadCatalogConfig } from "../../services/catalog/src/config.js";
import { start as startCatalog } from "../../services/catalog/src/server.js";
import { loadOrdersConfig } from "../../services/orders/src/config.js";
import { start as startOrders } from "../../services/orders/src/server.js";
import { loadGatewayConfig } from "../../services/gateway/src/config.js";
import { start as startGateway } from "../../services/gateway/src/server.js";

export interface FuzzStack {
  gateway: RunningService;
  catalog: RunningService;
  orders: RunningService;
  /** Skus stocked in catalog, so generated orders can also be confirmed, not only rejected. */
  skus: string[];
  /** Short, so the malformed-HTTP fuzzer can wait for them: a slow client is closed within these. */
  gatewayTimeouts: { headersTimeoutMs: number; requestTimeoutMs: number };
  stop(): Promise<void>;
}

/**
 * The servers the integration tests use (real FerretDB, Redis, Kafka on loopback) with catalog, orders and the
 * gateway in this process, as the gateway's *.int.test.ts start them. stop() stops all of it, also after a failure.
 */
export async function startFuzzStack(opts: { rateLimitPerSecond?: number } = {}): Promise<FuzzStack> {
  const servers: RunningServer[] = [];
  const services: RunningService[] = [];
  const stop = async () => {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  };
  const gatewayTimeouts = { headersTimeoutMs: 1500, requestTimeoutMs: 3000 };
  try {
    const [mongo, redis, kafka] = await Promise.all([
      startMongo(),
      startRedis(),
      startKafka({ topics: sagaTopics }),
    ]);
    servers.push(mongo, redis, kafka);
    const run = Date.now();
    const catalog = await startCatalog(
      loadCatalogConfig(testEnv({ mongo, redis, kafka }, `fuzz_catalog_${run}`)),
    );
    services.push(catalog);
    const orders = await startOrders(
      loadOrdersConfig(testEnv({ mongo, redis, kafka }, `fuzz_orders_${run}`)),
    );
    services.push(orders);
    const gateway = await startGateway(
      loadGatewayConfig({
        ...testEnv({ mongo, redis, kafka }, "unused"),
        CATALOG_URL: catalog.url,
        ORDERS_URL: orders.url,
        RATE_LIMIT_PER_SECOND: String(opts.rateLimitPerSecond ?? 1_000_000),
        HEADERS_TIMEOUT_MS: String(gatewayTimeouts.headersTimeoutMs),
        REQUEST_TIMEOUT_MS: String(gatewayTimeouts.requestTimeoutMs),
      }),
    );
    services.push(gateway);
    const skus = ["fuzz-1", "fuzz-2", "A", "0"];
    for (const sku of skus) {
      const put = await fetch(`${catalog.url}/products/${sku}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: `product ${sku}`, priceCents: 100, stock: 1_000_000 }),
      });
      if (put.status !== 201) throw new Error(`seeding ${sku}: ${put.status} ${await put.text()}`);
    }
    return { gateway, catalog, orders, skus, gatewayTimeouts, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
