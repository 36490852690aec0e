import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Consumer } from "kafkajs";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { topics, type RunningService } from "@blueprint/service-kit";
import { useKafka, useMongo, useRedis } from "../../../test/harness.js";
import { eventually, metricValue, testEnv, sagaTopics } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../../catalog/src/config.js";
import { start as startCatalog } from "../../catalog/src/server.js";
import { loadOrdersConfig } from "../src/config.js";
import { start as startOrders } from "../src/server.js";

// Orders whose stock decision never comes: orders runs first without catalog, with a fast reconciler.
const mongo = useMongo();
const redis = useRedis();
const kafka = useKafka({ topics: sagaTopics });
let orders: RunningService;
let catalog: RunningService | undefined;
let client: MongoClient;
let watcher: Consumer;
const seen: { orderId: string; type: string; attempt?: number }[] = [];
const run = Date.now();
const servers = () => ({ mongo: mongo(), redis: redis(), kafka: kafka() });

beforeAll(async () => {
  orders = await startOrders(
    loadOrdersConfig(
      testEnv(servers(), `orders_reconcile_${run}`, {
        RECONCILE_RETRY_AFTER_MS: "500",
        RECONCILE_DEADLINE_MS: "3000",
        RECONCILE_INTERVAL_MS: "200",
      }),
    ),
  );
  client = await MongoClient.connect(mongo().url);
  watcher = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: `watch-${run}`,
  });
  await watcher.connect();
  await watcher.subscribe({ topic: topics.orders, fromBeginning: true });
  await watcher.run({
    eachMessage: async ({ message }) => void seen.push(JSON.parse(message.value!.toString())),
  });
});
afterAll(async () => {
  await watcher?.disconnect();
  await Promise.all([orders?.stop(), catalog?.stop()]);
  await client?.close();
});

describe("orders' reconciler drives every stuck order to a final state", () => {
  test("when catalog never answers, then orders asks again, cancels at the deadline, and catalog gives the stock back once it runs", async () => {
    const sku = `rec-${randomUUID().slice(0, 8)}`;
    // catalog is not running yet: its product goes straight into its database.
    await client
      .db(`catalog_reconcile_${run}`)
      .collection("products")
      .insertOne({
        _id: sku as never,
        name: sku,
        priceCents: 1,
        stock: 10,
        version: 1,
        updatedAt: new Date(),
      });
    const res = await fetch(`${orders.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
      body: JSON.stringify({ customerId: "c-1", items: [{ sku, quantity: 4 }] }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const events = () => seen.filter((e) => e.orderId === id);

    await eventually(async () => events().some((e) => e.type === "OrderCreated" && e.attempt === 2), 20_000);
    await eventually(async () => events().some((e) => e.type === "OrderCancelled"), 20_000);
    const order = (await (await fetch(`${orders.url}/orders/${id}`)).json()) as {
      status: string;
      reason: string;
    };
    expect(order).toMatchObject({ status: "CANCELLED", reason: "timeout: no stock decision within 3 s" });
    expect(await metricValue(orders.url, "orders_reconciled_total", { action: "cancelled" })).toBe(1);

    // catalog starts late and consumes the creates, then the cancel: whatever it reserved goes back.
    catalog = await startCatalog(loadCatalogConfig(testEnv(servers(), `catalog_reconcile_${run}`)));
    const reservations = client
      .db(`catalog_reconcile_${run}`)
      .collection<{ _id: string; status: string }>("reservations");
    await eventually(
      async () => ["RELEASED", "REJECTED"].includes((await reservations.findOne({ _id: id }))?.status ?? ""),
      60_000,
    );
    const product = await client
      .db(`catalog_reconcile_${run}`)
      .collection<{ _id: string; stock: number }>("products")
      .findOne({ _id: sku });
    expect(product?.stock).toBe(10);
    // The late replies find the order final: it stays CANCELLED.
    expect(((await (await fetch(`${orders.url}/orders/${id}`)).json()) as { status: string }).status).toBe(
      "CANCELLED",
    );
  });
});
