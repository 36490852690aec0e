import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, test } from "vitest";
import { useKafka } from "../../../test/harness.js";
import type { ConsumerGate } from "../src/active-color.js";
import { createKafka, startConsumer, STOP_WAIT_MS } from "../src/clients/kafka.js";

// The documented bound on how long stop() waits for a start in progress.
const BOUND_MS = 2000;
import { commonConfig, loadConfig } from "../src/config.js";
import { createServiceKit, type ServiceKit } from "../src/kit.js";
import { captureLogger, eventually } from "./env.js";

const kafka = useKafka({ topics: [{ name: "kit.consumer", partitions: 2 }] });
const admins: { disconnect(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(admins.map((a) => a.disconnect()));
});

const newKit = (logger = captureLogger("warn").logger): ServiceKit =>
  createServiceKit("kit", loadConfig(commonConfig(0), { SHUTDOWN_DELAY_MS: "0" }), { logger });

/** A gate the test flips by hand. */
function manualGate(initial: boolean): ConsumerGate & { set(open: boolean): void } {
  const listeners: ((open: boolean) => void)[] = [];
  let open = initial;
  return {
    get open() {
      return open;
    },
    ready: Promise.resolve(),
    onChange: (l) => void listeners.push(l),
    set(next) {
      open = next;
      for (const l of listeners) l(next);
    },
  };
}

const gauge = async (kit: ServiceKit, name: string, groupId: string) =>
  (await kit.metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.group === groupId)
    ?.value;

/** Sockets and timers of this process: what a kafkajs client left running shows up here. */
const handles = () =>
  process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap" || r === "Timeout").length;

async function groupMembers(groupId: string): Promise<string[]> {
  const admin = createKafka(newKit(), kafka().brokers).admin();
  admins.push(admin);
  await admin.connect();
  const { groups } = await admin.describeGroups([groupId]);
  await admin.disconnect();
  return groups[0]?.members.map((m) => m.clientId) ?? [];
}

describe("startConsumer", () => {
  test("the bound the tests use is the one the kit documents", () => {
    expect(STOP_WAIT_MS).toBe(BOUND_MS);
  });

  test("when Kafka is unreachable and the gate is open, then saga_consumer_enabled is 1 but saga_consumer_active stays 0", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const consumer = startConsumer(kit, createKafka(kit, ["127.0.0.1:1"]), {
      groupId,
      topics: ["kit.consumer"],
      gate: manualGate(true),
      handle: async () => undefined,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(await gauge(kit, "saga_consumer_enabled", groupId)).toBe(1);
    expect(await gauge(kit, "saga_consumer_active", groupId)).toBe(0);
    await consumer.stop();
  });

  test("when stop() runs right after start while Kafka is unreachable, then it returns within the bound and leaves no socket or timer", async () => {
    const { logger, lines } = captureLogger("warn");
    const kit = newKit(logger);
    const before = handles();
    const consumer = startConsumer(kit, createKafka(kit, ["127.0.0.1:1"]), {
      groupId: `g-${randomUUID().slice(0, 8)}`,
      topics: ["kit.consumer"],
      ensureTopics: [{ topic: "kit.consumer", numPartitions: 2 }],
      handle: async () => undefined,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await consumer.stop();

    expect(Date.now() - started).toBeLessThan(BOUND_MS + 500);
    // kafkajs's own connect retries would keep going for seconds, logging each failed attempt.
    expect(await eventually(async () => handles() <= before, 1000, 50)).toBe(true);
    const logged = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(lines.slice(logged).filter((l) => l.component === "kafkajs")).toEqual([]);
  });

  test("when the gate closes, then saga_consumer_active turns 0 only once the member has left the group", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const gate = manualGate(true);
    const consumer = startConsumer(kit, createKafka(kit, kafka().brokers), {
      groupId,
      topics: ["kit.consumer"],
      gate,
      handle: async () => undefined,
    });
    expect(
      await eventually(async () => (await gauge(kit, "saga_consumer_active", groupId)) === 1, 30_000),
    ).toBe(true);
    expect(await groupMembers(groupId)).toHaveLength(1);

    gate.set(false);
    expect(await gauge(kit, "saga_consumer_enabled", groupId)).toBe(0);
    expect(
      await eventually(async () => (await gauge(kit, "saga_consumer_active", groupId)) === 0, 10_000, 20),
    ).toBe(true);
    expect(await groupMembers(groupId)).toEqual([]);
    await consumer.stop();
  });

  test("when stop() runs right after the gate opens, then it returns within the bound and no member stays in the group", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const gate = manualGate(false);
    const consumer = startConsumer(kit, createKafka(kit, kafka().brokers), {
      groupId,
      topics: ["kit.consumer"],
      gate,
      handle: async () => undefined,
    });
    await gate.ready;
    const before = handles();
    gate.set(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await consumer.stop();

    expect(Date.now() - started).toBeLessThan(BOUND_MS + 500);
    expect(await eventually(async () => handles() <= before, 1000, 50)).toBe(true);
    expect(await gauge(kit, "saga_consumer_active", groupId)).toBe(0);
    expect(await groupMembers(groupId)).toEqual([]);
  });
});
