import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { topics, type RunningService } from "@blueprint/service-kit";
import { useKafka, useMongo, useRedis } from "../../../test/harness.js";
import { eventually, metricValue, testEnv, sagaTopics } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../../catalog/src/config.js";
import { start as startCatalog } from "../../catalog/src/server.js";
import { loadOrdersConfig } from "../src/config.js";
import { start as startOrders } from "../src/server.js";

const mongo = useMongo();
const redis = useRedis();
const kafka = useKafka({ topics: sagaTopics });
let catalog: RunningService;
let orders: RunningService;
let client: MongoClient;
const run = Date.now();

beforeAll(async () => {
  const servers = { mongo: mongo(), redis: redis(), kafka: kafka() };
  catalog = await startCatalog(loadCatalogConfig(testEnv(servers, `catalog_saga_${run}`)));
  orders = await startOrders(loadOrdersConfig(testEnv(servers, `orders_saga_${run}`)));
  client = await MongoClient.connect(mongo().url);
});
afterAll(async () => {
  await Promise.all([catalog?.stop(), orders?.stop()]);
  await client?.close();
});

const json = { "content-type": "application/json" };
async function product(stock: number): Promise<string> {
  const sku = `sku-${randomUUID().slice(0, 8)}`;
  await fetch(`${catalog.url}/products/${sku}`, {
    method: "PUT",
    headers: json,
    body: JSON.stringify({ name: sku, priceCents: 100, stock }),
  });
  return sku;
}
const stockOf = async (sku: string) =>
  (
    await client
      .db(`catalog_saga_${run}`)
      .collection("products")
      .findOne({ _id: sku as never })
  )?.stock as number;
async function order(items: { sku: string; quantity: number }[]): Promise<string> {
  const res = await fetch(`${orders.url}/orders`, {
    method: "POST",
    headers: { ...json, "idempotency-key": randomUUID() },
    body: JSON.stringify({ customerId: "c-1", items }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}
const statusOf = async (id: string) =>
  (await (await fetch(`${orders.url}/orders/${id}`)).json()) as { status: string; reason?: string };
const finalState = async (id: string) => {
  await eventually(async () => (await statusOf(id)).status !== "PENDING", 30_000);
  return statusOf(id);
};
/**
 * Waits until catalog has consumed everything published for `orderId` so far: a sentinel create on the same key
 * (hence the same partition, consumed after it) for an order of its own, whose reservation then appears.
 */
async function consumedUpTo(orderId: string): Promise<void> {
  const sentinel = randomUUID();
  const value = {
    eventId: randomUUID(),
    type: "OrderCreated",
    orderId: sentinel,
    occurredAt: new Date().toISOString(),
  };
  const producer = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({
    topic: topics.orders,
    messages: [
      {
        key: orderId,
        value: JSON.stringify({ ...value, customerId: "c-1", items: [{ sku: "none", quantity: 1 }] }),
      },
    ],
  });
  await producer.disconnect();
  const reservations = client.db(`catalog_saga_${run}`).collection("reservations");
  await eventually(async () => (await reservations.findOne({ _id: sentinel as never })) !== null, 30_000);
}

async function publish(value: Record<string, unknown> & { orderId: string }): Promise<void> {
  const producer = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({
    topic: topics.orders,
    messages: [{ key: value.orderId, value: JSON.stringify(value) }],
  });
  await producer.disconnect();
}

describe("order saga over Kafka", () => {
  test("when stock suffices, then the order is CONFIRMED and stock is reserved", async () => {
    const [a, b] = [await product(10), await product(5)];
    const id = await order([
      { sku: a, quantity: 3 },
      { sku: b, quantity: 5 },
    ]);

    expect((await finalState(id)).status).toBe("CONFIRMED");
    expect([await stockOf(a), await stockOf(b)]).toEqual([7, 0]);
    expect(
      await metricValue(orders.url, "orders_final_state_total", { status: "CONFIRMED" }),
    ).toBeGreaterThanOrEqual(1);
  });

  test("when one item lacks stock, then the order is CANCELLED with the reason and no stock moves (compensation)", async () => {
    const [a, b] = [await product(10), await product(1)];
    const id = await order([
      { sku: a, quantity: 4 },
      { sku: b, quantity: 2 },
    ]);
    const final = await finalState(id);

    expect(final.status).toBe("CANCELLED");
    expect(final.reason).toContain(`insufficient_stock (${b})`);
    expect([await stockOf(a), await stockOf(b)]).toEqual([10, 1]);
  });

  test("when an OrderCreated is delivered again, then stock is reserved once", async () => {
    const sku = await product(10);
    const id = await order([{ sku, quantity: 2 }]);
    await finalState(id);
    await publish({
      eventId: randomUUID(),
      type: "OrderCreated",
      orderId: id,
      occurredAt: new Date().toISOString(),
      customerId: "c-1",
      items: [{ sku, quantity: 2 }],
    });
    await consumedUpTo(id);

    expect(await stockOf(sku)).toBe(8);
    expect((await statusOf(id)).status).toBe("CONFIRMED");
  });

  test("when OrderCancelled arrives twice for a held reservation, then stock is released once (StockReleased)", async () => {
    const sku = await product(10);
    const id = await order([{ sku, quantity: 3 }]);
    await finalState(id);
    const cancel = { type: "OrderCancelled", orderId: id, occurredAt: new Date().toISOString() };
    await publish({ ...cancel, eventId: randomUUID() });
    await publish({ ...cancel, eventId: randomUUID() });
    const reservations = client.db(`catalog_saga_${run}`).collection("reservations");
    await eventually(async () => (await reservations.findOne({ _id: id as never }))?.status === "RELEASED");
    await consumedUpTo(id);

    expect(await stockOf(sku)).toBe(10);
    const reservation = await reservations.findOne({ _id: id as never });
    expect(reservation?.outbox.map((e: { value: { type: string } }) => e.value.type)).toEqual([
      "StockReserved",
      "StockReleased",
    ]);
  });

  test("when a malformed event is on the topic, then it goes to the dead-letter topic and later events still flow", async () => {
    const producer = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({
      topic: topics.orders,
      messages: [0, 1, 2].map((p) => ({ partition: p, value: "{not json" })),
    });
    await producer.disconnect();
    const sku = await product(2);
    const id = await order([{ sku, quantity: 1 }]);

    expect((await finalState(id)).status).toBe("CONFIRMED");
    await eventually(
      async () =>
        (await metricValue(catalog.url, "consumer_dead_letters_total", { topic: topics.orders })) === 3,
      30_000,
    );
  });
});
