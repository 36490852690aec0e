import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { useKafka } from "../../../test/harness.js";
import type { ConsumerGate } from "../src/active-color.js";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { createKafka, startConsumer, STOP_WAIT_MS } from "../src/clients/kafka.js";
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

/** A plain kafkajs client for the test's own admin, producers, readers and helper members. */
const raw = (clientId: string) =>
  new Kafka({ clientId, brokers: kafka().brokers, logLevel: logLevel.NOTHING });

/** What a test started; stopped after each test, also when it failed. Runs in order. */
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
});

async function withAdmin<T>(use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = raw("test-admin").admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** The broker's view of a group. */
async function describeGroup(
  groupId: string,
): Promise<{ state: string; members: { clientId: string; memberId: string }[] }> {
  return withAdmin(async (admin) => {
    const [g] = (await admin.describeGroups([groupId])).groups;
    return {
      state: g?.state ?? "Dead",
      members: g?.members.map(({ clientId, memberId }) => ({ clientId, memberId })) ?? [],
    };
  });
}

/** A topic of this test only, so no test reads another's messages. */
async function freshTopic(prefix: string, numPartitions = 1): Promise<string> {
  const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
  await withAdmin((admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true }),
  );
  return topic;
}

async function produce(topic: string, messages: { key: string; value: string }[]): Promise<void> {
  const producer = raw("test-producer").producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** A promise the test settles by hand. */
function deferred(): { promise: Promise<void>; resolve(): void; settled: () => boolean } {
  let settled = false;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r)).then(() => void (settled = true));
  return { promise, resolve: () => resolve(), settled: () => settled };
}

/** startConsumer on the test broker, stopped after the test. */
function consume(kit: ServiceKit, opts: Parameters<typeof startConsumer>[2]): { stop(): Promise<void> } {
  const consumer = startConsumer(kit, createKafka(kit, kafka().brokers), opts);
  cleanups.push(() => consumer.stop());
  return consumer;
}

describe("startConsumer", () => {
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

    expect(Date.now() - started).toBeLessThan(STOP_WAIT_MS + 500);
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

  test("when stop() runs while the member is inside its group join, then stop waits the bound and the member leaves once joined: no ghost holds partitions", async () => {
    const { logger, lines } = captureLogger("warn");
    const kit = newKit(logger);
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.join", 2);
    // A member whose handler the test holds: until it returns, the group cannot finish a rebalance, so the kit's
    // member stays inside its join for as long as the test wants.
    const held = deferred();
    const entered = deferred();
    const helper = raw("helper").consumer({
      groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 300,
    });
    cleanups.push(
      async () => held.resolve(),
      () => helper.disconnect(),
    );
    await helper.connect();
    await helper.subscribe({ topic, fromBeginning: true });
    await helper.run({
      eachMessage: async () => {
        entered.resolve();
        await held.promise;
      },
    });
    await produce(topic, [{ key: "k", value: "v" }]);
    expect(await eventually(async () => entered.settled(), 30_000, 20)).toBe(true);

    const consumer = consume(kit, { groupId, topics: [topic], handle: async () => undefined });
    // The broker holds the kit member's JoinGroup until the helper rejoins.
    expect(
      await eventually(async () => (await describeGroup(groupId)).state === "PreparingRebalance", 30_000, 20),
    ).toBe(true);
    const started = Date.now();
    await consumer.stop();
    const took = Date.now() - started;

    expect(took).toBeGreaterThanOrEqual(STOP_WAIT_MS - 50);
    expect(took).toBeLessThan(STOP_WAIT_MS + 500);
    expect(lines.some((l) => String(l.msg).includes("still running at stop"))).toBe(true);
    held.resolve();
    // A ghost stays for its 6 s session after the rebalance completes; a member that leaves is gone well before.
    const helperAlone = async () => {
      const { state, members } = await describeGroup(groupId);
      return state === "Stable" && members.length === 1 && members[0]?.clientId === "helper";
    };
    expect(await eventually(helperAlone, 4500, 50)).toBe(true);
    expect(await gauge(kit, "saga_consumer_active", groupId)).toBe(0);
  });
});
