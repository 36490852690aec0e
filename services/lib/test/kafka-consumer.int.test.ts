import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { useKafka } from "../../../test/harness.js";
import type { ConsumerGate } from "../src/active-color.js";
import { Kafka, logLevel, type Admin, type EachMessagePayload, type KafkaMessage } from "kafkajs";
import { createKafka, startConsumer, STOP_WAIT_MS } from "../src/clients/kafka.js";
import { dlqHeaders, PermanentError } from "../src/clients/kafka-handler.js";
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

/** The first `count` messages of a topic, read by a throwaway group (bounded wait). */
async function readTopic(topic: string, count: number): Promise<KafkaMessage[]> {
  const reader = raw("test-reader").consumer({
    groupId: `r-${randomUUID().slice(0, 8)}`,
    maxWaitTimeInMs: 200,
  });
  cleanups.push(() => reader.disconnect());
  const got: KafkaMessage[] = [];
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void got.push(message) });
  await eventually(async () => got.length >= count, 30_000, 50);
  await reader.disconnect();
  return got;
}

const committedOffset = (groupId: string, topic: string): Promise<string | undefined> =>
  withAdmin(
    async (admin) => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset,
  );

const headersOf = (message: KafkaMessage): Record<string, string> =>
  Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));

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

const text = (payload: EachMessagePayload) => String(payload.message.value);

describe("startConsumer", () => {
  test("when Kafka is unreachable and the gate is open, then saga_consumer_enabled is 1 but saga_consumer_active stays 0", async () => {
    const { logger, lines } = captureLogger("warn");
    const kit = newKit(logger);
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const consumer = startConsumer(kit, createKafka(kit, ["127.0.0.1:1"]), {
      groupId,
      topics: ["kit.consumer"],
      gate: manualGate(true),
      handle: async () => undefined,
    });
    cleanups.push(() => consumer.stop());
    // Two failed starts: the consumer tried, backed off and tried again, and never joined.
    const failedStarts = () => lines.filter((l) => l.msg === "consumer could not start; retrying").length;
    expect(await eventually(async () => failedStarts() >= 2, 10_000, 20)).toBe(true);

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
    expect(await eventually(helperAlone, 5000, 50)).toBe(true);
    expect(await gauge(kit, "saga_consumer_active", groupId)).toBe(0);
  });

  test("when a handler throws PermanentError, then the message is dead-lettered once with its origin, the next one is handled and the group commits past both", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.poison");
    await produce(topic, [
      { key: "o1", value: "poison" },
      { key: "o1", value: "good" },
    ]);
    const seen: string[] = [];
    consume(kit, {
      groupId,
      topics: [topic],
      // Also creates the missing `<topic>.dlq`.
      ensureTopics: [{ topic, numPartitions: 1 }],
      retry: { maxAttempts: 5, initialBackoffMs: 10 },
      handle: async (payload) => {
        seen.push(text(payload));
        if (text(payload) === "poison") throw new PermanentError("not an order event");
      },
    });

    expect(await eventually(async () => seen.includes("good"), 30_000, 50)).toBe(true);
    expect(seen).toEqual(["poison", "good"]);
    const [dead] = await readTopic(`${topic}.dlq`, 1);
    expect(dead && [String(dead.key), String(dead.value)]).toEqual(["o1", "poison"]);
    expect(dead && headersOf(dead)).toEqual({
      [dlqHeaders.topic]: topic,
      [dlqHeaders.partition]: "0",
      [dlqHeaders.offset]: "0",
      [dlqHeaders.group]: groupId,
      [dlqHeaders.error]: "not an order event",
      [dlqHeaders.permanent]: "true",
      [dlqHeaders.attempts]: "1",
    });
    expect(await gauge(kit, "consumer_dead_letters_total", groupId)).toBe(1);
    expect(await eventually(async () => (await committedOffset(groupId, topic)) === "2", 10_000, 50)).toBe(
      true,
    );
  });

  test("when a handler keeps failing transiently, then it is dead-lettered after maxAttempts tries and the partition moves on", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.exhausted");
    await produce(topic, [
      { key: "o1", value: "flaky" },
      { key: "o1", value: "good" },
    ]);
    const seen: string[] = [];
    consume(kit, {
      groupId,
      topics: [topic],
      ensureTopics: [{ topic, numPartitions: 1 }],
      retry: { maxAttempts: 3, initialBackoffMs: 10 },
      handle: async (payload) => {
        seen.push(text(payload));
        if (text(payload) === "flaky") throw new Error("connect ETIMEDOUT");
      },
    });

    expect(await eventually(async () => seen.includes("good"), 30_000, 50)).toBe(true);
    expect(seen).toEqual(["flaky", "flaky", "flaky", "good"]);
    const [dead] = await readTopic(`${topic}.dlq`, 1);
    expect(dead && headersOf(dead)).toMatchObject({
      [dlqHeaders.error]: "connect ETIMEDOUT",
      [dlqHeaders.permanent]: "false",
      [dlqHeaders.attempts]: "3",
    });
    expect(await gauge(kit, "consumer_handler_retries_total", groupId)).toBe(2);
  });

  test("when messages wait behind a slow handler, then consumer_lag_messages counts them at the scrape, and 0 once handled", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.lag", 2);
    const release = deferred();
    let handled = 0;
    consume(kit, {
      groupId,
      topics: [topic],
      handle: async () => {
        await release.promise;
        handled += 1;
      },
    });
    await produce(
      topic,
      Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: "v" })),
    );
    // The scrape reads the broker's view: nothing committed yet, so every message counts (from the log start).
    const lagOf = async () => {
      await kit.metrics.registry.metrics();
      return (await kit.metrics.registry.getSingleMetric("consumer_lag_messages")?.get())?.values.find(
        (v) => v.labels.group === groupId && v.labels.topic === topic,
      )?.value;
    };
    expect(await eventually(async () => (await lagOf()) === 6, 30_000, 200)).toBe(true);
    release.resolve();
    expect(await eventually(async () => handled === 6 && (await lagOf()) === 0, 30_000, 200)).toBe(true);
  });

  test("when a handler fails transiently, then the same member retries it in place with growing waits and keeps its membership", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.transient");
    await produce(topic, [{ key: "o1", value: "v" }]);
    const attempts: number[] = [];
    const failures = 10;
    consume(kit, {
      groupId,
      topics: [topic],
      retry: { maxAttempts: failures + 2, initialBackoffMs: 20, maxBackoffMs: 160 },
      handle: async () => {
        attempts.push(Date.now());
        if (attempts.length <= failures) throw new Error("Redis: connect ECONNREFUSED");
      },
    });
    expect(await eventually(async () => attempts.length >= 1, 30_000, 10)).toBe(true);
    const before = await describeGroup(groupId);

    expect(await eventually(async () => (await committedOffset(groupId, topic)) === "1", 30_000, 50)).toBe(
      true,
    );
    expect(attempts).toHaveLength(failures + 1);
    const waits = attempts.slice(1).map((t, i) => t - (attempts[i] ?? t));
    waits.forEach((w, i) => expect(w).toBeGreaterThanOrEqual(Math.min(20 * 2 ** i, 160) - 5));
    // kafkajs's own redelivery would crash the member after its retries and rejoin under a new member id.
    expect(before.members).toHaveLength(1);
    expect((await describeGroup(groupId)).members).toEqual(before.members);
    expect(await gauge(kit, "consumer_handler_retries_total", groupId)).toBe(failures);
    expect((await gauge(kit, "consumer_dead_letters_total", groupId)) ?? 0).toBe(0);
  });

  test("when a handler runs longer than the session timeout, then the member heartbeats, stays in the group and the message is handled once", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.slow");
    await produce(topic, [{ key: "o1", value: "v" }]);
    let calls = 0;
    consume(kit, {
      groupId,
      topics: [topic],
      handle: async () => {
        calls += 1;
        // The handler itself is slow (a lock wait, a slow dependency): 1.5 s past the 6 s session.
        await new Promise((resolve) => setTimeout(resolve, 7500));
      },
    });
    expect(await eventually(async () => calls >= 1, 30_000, 10)).toBe(true);
    const before = await describeGroup(groupId);

    expect(await eventually(async () => (await committedOffset(groupId, topic)) === "1", 30_000, 50)).toBe(
      true,
    );
    expect(calls).toBe(1);
    expect(before.members).toHaveLength(1);
    expect((await describeGroup(groupId)).members).toEqual(before.members);
  });

  test("when stop() runs while a handler waits between retries, then it returns at once and the message stays uncommitted for the next member", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.stopretry");
    await produce(topic, [{ key: "o1", value: "v" }]);
    let calls = 0;
    const consumer = consume(kit, {
      groupId,
      topics: [topic],
      retry: { maxAttempts: 100, initialBackoffMs: 5000, maxBackoffMs: 5000 },
      handle: async () => {
        calls += 1;
        throw new Error("503 Service Unavailable");
      },
    });
    expect(await eventually(async () => calls >= 1, 30_000, 10)).toBe(true);
    const started = Date.now();
    await consumer.stop();

    expect(Date.now() - started).toBeLessThan(STOP_WAIT_MS);
    expect(calls).toBe(1);
    expect(await committedOffset(groupId, topic)).toBe("-1");
    expect((await gauge(kit, "consumer_dead_letters_total", groupId)) ?? 0).toBe(0);
    expect(await describeGroup(groupId)).toMatchObject({ members: [] });
  });
  test("when a member joins while a handler waits between retries, then the retrying member rejoins at once and the group does not wait out the backoff", async () => {
    const kit = newKit();
    const groupId = `g-${randomUUID().slice(0, 8)}`;
    const topic = await freshTopic("kit.rebalance", 2);
    await produce(topic, [{ key: "o1", value: "v" }]);
    let calls = 0;
    consume(kit, {
      groupId,
      topics: [topic],
      retry: { maxAttempts: 100, initialBackoffMs: 10_000, maxBackoffMs: 10_000 },
      handle: async () => {
        calls += 1;
        throw new Error("connect ECONNREFUSED");
      },
    });
    expect(await eventually(async () => calls >= 1, 30_000, 10)).toBe(true);
    const helper = raw("helper").consumer({ groupId, heartbeatInterval: 300, maxWaitTimeInMs: 300 });
    cleanups.push(() => helper.disconnect());
    await helper.connect();
    await helper.subscribe({ topic, fromBeginning: true });
    const joining = Date.now();
    await helper.run({ eachMessage: async () => undefined });
    const rebalanced = async () => {
      const { state, members } = await describeGroup(groupId);
      return state === "Stable" && members.length === 2;
    };

    // The kit's member learns of the rebalance from its next heartbeat (1 s), not after its 10 s backoff.
    expect(await eventually(rebalanced, 6000, 50)).toBe(true);
    expect(Date.now() - joining).toBeLessThan(6000);
    expect((await gauge(kit, "consumer_dead_letters_total", groupId)) ?? 0).toBe(0);
  });
});
