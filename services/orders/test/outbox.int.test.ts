import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningService } from "@blueprint/service-kit";
import { freePort, startKafka } from "../../../scripts/lib/servers/index.js";
import { useMongo, useRedis, type RunningKafka } from "../../../test/harness.js";
import { eventually, metricValue, testEnv, sagaTopics } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../../catalog/src/config.js";
import { start as startCatalog } from "../../catalog/src/server.js";
import { loadOrdersConfig } from "../src/config.js";
import { start as startOrders } from "../src/server.js";

const N = 20;
const mongo = useMongo();
const redis = useRedis();
const kafkaDir = mkdtempSync(join(tmpdir(), "blueprint-outbox-kafka-"));
let kafka: RunningKafka | undefined;
let kafkaPort: number;
let catalog: RunningService;
let orders: RunningService;
let client: MongoClient;
const run = Date.now();
const ordersDb = () => client.db(`orders_outbox_${run}`).collection("orders");

beforeAll(async () => {
  kafkaPort = await freePort();
  kafka = await startKafka({ port: kafkaPort, dir: kafkaDir, topics: sagaTopics });
  const servers = { mongo: mongo(), redis: redis(), kafka };
  catalog = await startCatalog(loadCatalogConfig(testEnv(servers, `catalog_outbox_${run}`)));
  orders = await startOrders(loadOrdersConfig(testEnv(servers, `orders_outbox_${run}`)));
  client = await MongoClient.connect(mongo().url);
});
afterAll(async () => {
  await Promise.all([catalog?.stop(), orders?.stop()]);
  await kafka?.stop();
  await client?.close();
  rmSync(kafkaDir, { recursive: true, force: true });
});

async function createOrder(sku: string): Promise<{ status: number; id: string }> {
  const res = await fetch(`${orders.url}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
    body: JSON.stringify({ customerId: "c-outbox", items: [{ sku, quantity: 1 }] }),
  });
  return { status: res.status, id: ((await res.json()) as { id: string }).id };
}
const finalCount = (ids: string[]) =>
  ordersDb().countDocuments({ _id: { $in: ids as never[] }, status: { $in: ["CONFIRMED", "CANCELLED"] } });

describe("outbox survives a Kafka outage", () => {
  test(`when Kafka is down, then ${N} orders are accepted, and after it returns all ${N} are published and confirmed`, async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    await fetch(`${catalog.url}/products/${sku}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "w", priceCents: 1, stock: 1000 }),
    });
    const warmup = await createOrder(sku);
    expect(await eventually(async () => (await finalCount([warmup.id])) === 1, 60_000)).toBe(true);
    const finalsBefore = await metricValue(orders.url, "orders_final_state_total");

    await kafka!.stop();
    kafka = undefined;
    const created = await Promise.all(Array.from({ length: N }, () => createOrder(sku)));
    const ids = created.map((c) => c.id);
    const ready = await fetch(`${orders.url}/readyz`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stillPending = await ordersDb().countDocuments({
      _id: { $in: ids as never[] },
      outboxPending: true,
    });

    expect(created.map((c) => c.status)).toEqual(Array(N).fill(201));
    expect(ready.status).toBe(200);
    expect(stillPending).toBe(N);
    // The backlog the outbox alert reads, as Prometheus would scrape it.
    expect(await metricValue(orders.url, "outbox_pending_documents")).toBe(N);

    // The same broker comes back: same address, same log dir (topics, committed offsets, producer state kept).
    const restartedAt = Date.now();
    kafka = await startKafka({ port: kafkaPort, dir: kafkaDir });
    const allFinal = await eventually(async () => (await finalCount(ids)) === N, 90_000, 250);
    console.info(
      `outbox: ${await finalCount(ids)}/${N} final ${Date.now() - restartedAt} ms after Kafka restarted`,
    );

    expect(allFinal).toBe(true);
    expect(await ordersDb().countDocuments({ _id: { $in: ids as never[] }, status: "CONFIRMED" })).toBe(N);
    expect(await ordersDb().countDocuments({ _id: { $in: ids as never[] }, outboxPending: true })).toBe(0);
    expect(await metricValue(orders.url, "outbox_pending_documents")).toBe(0);
    expect((await metricValue(orders.url, "orders_final_state_total")) - finalsBefore).toBe(N);
    const stock = (
      await client
        .db(`catalog_outbox_${run}`)
        .collection("products")
        .findOne({ _id: sku as never })
    )?.stock;
    expect(stock).toBe(1000 - 1 - N);
  });
});
