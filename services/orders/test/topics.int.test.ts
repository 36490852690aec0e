import { Kafka, logLevel } from "kafkajs";
import { afterAll, describe, expect, test } from "vitest";
import { topics, topicSpecs, type RunningService } from "@blueprint/service-kit";
import { useKafka, useMongo, useRedis } from "../../../test/harness.js";
import { captureLogger, eventually, testEnv } from "../../lib/test/env.js";
import { loadOrdersConfig } from "../src/config.js";
import { start } from "../src/server.js";

// A fresh broker without topics (auto-creation is off in the harness), so only the service could create them.
const mongo = useMongo();
const redis = useRedis();
const kafka = useKafka();
const running: RunningService[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
});

const admin = () => new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).admin();
async function sagaTopicsOnBroker(): Promise<string[]> {
  const a = admin();
  await a.connect();
  try {
    const names: string[] = Object.values(topics);
    return (await a.listTopics()).filter((t) => names.includes(t)).sort();
  } finally {
    await a.disconnect();
  }
}

describe("KAFKA_CREATE_TOPICS", () => {
  test("when it is false, then orders creates no topic and its consumer keeps waiting for them", async () => {
    const { logger, lines } = captureLogger("warn");
    const servers = { mongo: mongo(), redis: redis(), kafka: kafka() };
    const env = testEnv(servers, `orders_topics_off_${Date.now()}`, { KAFKA_CREATE_TOPICS: "false" });
    running.push(await start(loadOrdersConfig(env), { logger }));
    // Two failed attempts to subscribe prove the consumer ran past the point where topics would be created.
    const attempts = () => lines.filter((l) => String(l.msg).startsWith("consumer could not start")).length;
    expect(await eventually(async () => attempts() >= 2, 30_000)).toBe(true);
    expect(await sagaTopicsOnBroker()).toEqual([]);
    const ready = (await (await fetch(`${running[0]!.url}/readyz`)).json()) as {
      status: string;
      checks: Record<string, string>;
    };
    expect(ready.status).toBe("ready");
    expect(ready.checks["kafka-consumer-orders-saga"]).not.toBe("ok");
  });

  test("when it is unset, then orders creates both saga topics with the kit's partition count", async () => {
    const servers = { mongo: mongo(), redis: redis(), kafka: kafka() };
    const env = testEnv(servers, `orders_topics_on_${Date.now()}`);
    expect(env.KAFKA_CREATE_TOPICS).toBeUndefined();
    running.push(await start(loadOrdersConfig(env)));
    expect(await eventually(async () => (await sagaTopicsOnBroker()).length === 2, 30_000)).toBe(true);
    const a = admin();
    await a.connect();
    const { topics: meta } = await a.fetchTopicMetadata({ topics: Object.values(topics) });
    await a.disconnect();
    expect(meta.map((t) => [t.name, t.partitions.length]).sort()).toEqual(
      topicSpecs.map((t) => [t.topic, t.numPartitions]).sort(),
    );
  });
});
