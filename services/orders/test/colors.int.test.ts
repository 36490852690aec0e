import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { topics, type RunningService } from "@blueprint/service-kit";
import { useKafka, useMongo, useRedis } from "../../../test/harness.js";
import { eventually, testEnv, sagaTopics } from "../../lib/test/env.js";
import { loadOrdersConfig } from "../src/config.js";
import { start } from "../src/server.js";

const N = 40;
const LEASE_MS = 1000;
const mongo = useMongo();
const redis = useRedis();
const kafka = useKafka({ topics: sagaTopics });
let blue: RunningService;
let green: RunningService;
const seen: string[] = [];
let stopWatcher: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const servers = { mongo: mongo(), redis: redis(), kafka: kafka() };
  const db = `orders_colors_${Date.now()}`;
  // Both colors share the database and poll the same outbox, 10 ms apart, to make them race for documents.
  // A short lease: a relay that lost its claim would publish again within the wait below.
  const env = { OUTBOX_POLL_MS: "10", OUTBOX_LEASE_MS: `${LEASE_MS}` };
  blue = await start(loadOrdersConfig(testEnv(servers, db, { COLOR: "blue", ...env })));
  green = await start(loadOrdersConfig(testEnv(servers, db, { COLOR: "green", ...env })));
  const watcher = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: `watch-${randomUUID()}`,
  });
  await watcher.connect();
  await watcher.subscribe({ topic: topics.orders, fromBeginning: true });
  await watcher.run({ eachMessage: async ({ message }) => void seen.push(message.key!.toString()) });
  stopWatcher = () => watcher.disconnect();
});
afterAll(async () => {
  await stopWatcher?.();
  await Promise.all([blue?.stop(), green?.stop()]);
});

describe("outbox relays of both colors on one collection", () => {
  test(`when blue and green relay the same outbox, then each of ${N} orders is published exactly once`, async () => {
    const ids = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const res = await fetch(`${(i % 2 ? blue : green).url}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
          body: JSON.stringify({ customerId: "c-colors", items: [{ sku: "s-1", quantity: 1 }] }),
        });
        return ((await res.json()) as { id: string }).id;
      }),
    );
    await eventually(async () => ids.every((id) => seen.includes(id)), 60_000);
    // Past two leases: any claim a relay held has expired, so a second publish would have happened by now.
    await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS + 500));

    const mine = seen.filter((id) => ids.includes(id));
    expect(new Set(mine).size).toBe(N);
    expect(mine).toHaveLength(N);
  });
});
