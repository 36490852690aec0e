import {
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type EachMessagePayload,
  type LogEntry,
  type Producer,
} from "kafkajs";
import { Gauge } from "prom-client";
import type { ConsumerGate } from "../active-color.js";
import type { ServiceKit } from "../kit.js";

export type { Consumer, EachMessagePayload, Kafka, Producer } from "kafkajs";

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

export function createKafka(kit: ServiceKit, brokers: string[]): Kafka {
  const log = kit.logger.child({ component: "kafkajs" });
  return new Kafka({
    clientId: `${kit.service}-${kit.config.region}-${kit.config.color}`,
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 5 },
    // kafkajs logs every reconnect attempt at ERROR; they are expected while a broker is down, so cap at warn.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[levels[level] === "error" ? "warn" : (levels[level] ?? "info")](rest, message);
      },
  });
}

/** Idempotent producer (one request in flight, so broker-side dedup makes retries neither reorder nor duplicate). */
export function idempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Created when missing before subscribing (local Kafka; Strimzi KafkaTopic resources in clusters). */
  ensureTopics?: { topic: string; numPartitions: number }[];
  /** When given, the consumer runs only while the gate is open (e.g. the active color); always otherwise. */
  gate?: ConsumerGate;
  handle: (payload: EachMessagePayload) => Promise<void>;
}

/**
 * Runs a consumer group in the background: connects with backoff while Kafka is down, restarts after a
 * non-retriable crash, and lets kafkajs redeliver when `handle` throws (handlers must be idempotent). With a
 * gate, a closed gate disconnects the consumer (it leaves the group, so the partitions move to the members
 * that stay) and an open one starts it again. Start and pause run one at a time, in the background: HTTP and
 * the drain never wait for them.
 */
export function startConsumer(
  kit: ServiceKit,
  kafka: Kafka,
  opts: ConsumerOptions,
): { stop(): Promise<void> } {
  const log = kit.logger.child({ consumer: opts.groupId });
  let stopped = false;
  let enabled = false;
  let consumer: Consumer | undefined;
  let joined = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let transitions: Promise<void> = Promise.resolve();
  // One gauge per registry, labelled by group, so a service may run several consumers.
  const active =
    (kit.metrics.registry.getSingleMetric("saga_consumer_active") as Gauge<"group"> | undefined) ??
    new Gauge({
      name: "saga_consumer_active",
      help: "1 while this instance's consumer group member is meant to run (active color, or no color gate), else 0",
      labelNames: ["group"],
      registers: [kit.metrics.registry],
    });

  const wanted = () => enabled && !stopped;
  // The one place that starts or pauses the consumer; queued so a start and a pause never interleave.
  const reconcile = () => {
    transitions = transitions.then(async () => {
      if (wanted() && !consumer) await run();
      else if (!wanted() && consumer) await halt(consumer);
    });
  };

  const run = async (): Promise<void> => {
    const c = kafka.consumer({
      groupId: opts.groupId,
      // The broker minimum: after a crash-restart the old member blocks the rebalance until its session expires.
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      // A fetch returns within 1 s when idle, so disconnect (and the drain) is not held up by a 5 s long poll.
      maxWaitTimeInMs: 1000,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    consumer = c;
    c.on(c.events.GROUP_JOIN, () => {
      joined = true;
      failures = 0;
    });
    c.on(c.events.CRASH, (e) => {
      joined = false;
      if (!e.payload.restart && consumer === c) retryLater(c);
    });
    // stop() may disconnect this consumer while it is still starting; then it must not carry on and join.
    const abandoned = async () => {
      if (consumer === c) return false;
      await c.disconnect().catch(() => undefined);
      return true;
    };
    try {
      if (opts.ensureTopics) await ensureTopics(kafka, opts.ensureTopics);
      if (await abandoned()) return;
      await c.connect();
      for (const topic of opts.topics) await c.subscribe({ topic, fromBeginning: true });
      if (await abandoned()) return;
      await c.run({ eachMessage: opts.handle });
      await abandoned();
    } catch (err) {
      if (consumer !== c) return;
      log.warn({ err: (err as Error).message, failures }, "consumer could not start; retrying");
      retryLater(c);
    }
  };
  const halt = async (c: Consumer): Promise<void> => {
    consumer = undefined;
    joined = false;
    clearTimeout(timer);
    await c.disconnect().catch(() => undefined);
  };
  const retryLater = (failed: Consumer) => {
    consumer = undefined;
    void failed.disconnect().catch(() => undefined);
    if (!wanted()) return;
    failures += 1;
    clearTimeout(timer);
    timer = setTimeout(reconcile, Math.min(250 * 2 ** Math.min(failures, 4), 4000));
  };

  kit.health.addCheck(
    `kafka-consumer-${opts.groupId}`,
    async () => {
      if (enabled && !joined) throw new Error("consumer has not joined its group");
    },
    { critical: false },
  );
  const setEnabled = (open: boolean) => {
    enabled = open;
    active.set({ group: opts.groupId }, open ? 1 : 0);
    reconcile();
  };
  if (opts.gate) {
    const gate = opts.gate;
    active.set({ group: opts.groupId }, 0);
    void gate.ready.then(() => {
      setEnabled(gate.open);
      gate.onChange(setEnabled);
    });
  } else setEnabled(true);

  const stop = async () => {
    stopped = true;
    clearTimeout(timer);
    // Not queued behind a start in progress: the drain must not wait for a group join.
    const c = consumer;
    consumer = undefined;
    await c?.disconnect().catch(() => undefined);
  };
  kit.lifecycle.onClose(`kafka-consumer-${opts.groupId}`, stop);
  return { stop };
}

/** Creates missing topics; used by services at start so a fresh local Kafka works (Strimzi KafkaTopic in clusters). */
export async function ensureTopics(
  kafka: Kafka,
  topics: { topic: string; numPartitions: number }[],
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
