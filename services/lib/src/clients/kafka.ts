import {
  Kafka,
  type Admin,
  logLevel,
  Partitioners,
  type Consumer,
  type EachMessagePayload,
  type LogEntry,
  type Message,
  type Producer,
} from "kafkajs";
import { Gauge, type Registry } from "prom-client";
import type { ConsumerGate } from "../active-color.js";
import type { ServiceKit } from "../kit.js";
import { deadLetterTopicOf, defaultRetryPolicy, guardHandler, type RetryPolicy } from "./kafka-handler.js";

export type { Consumer, EachMessagePayload, Kafka, Producer } from "kafkajs";

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

// Per client, a twin that tries each connection once: the consumer's start probes with it, so a stop() during a
// start never leaves kafkajs retrying for seconds behind it (a client's connect retries cannot be aborted).
const onceClients = new WeakMap<Kafka, Kafka>();

export function createKafka(kit: ServiceKit, brokers: string[]): Kafka {
  const log = kit.logger.child({ component: "kafkajs" });
  const client = (retries: number) =>
    new Kafka({
      clientId: `${kit.service}-${kit.config.region}-${kit.config.color}`,
      brokers,
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      retry: { initialRetryTime: 300, maxRetryTime: 5000, retries },
      // kafkajs logs every reconnect attempt at ERROR; they are expected while a broker is down, so cap at warn.
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log: entry }: LogEntry) => {
          const { message, ...rest } = entry;
          log[levels[level] === "error" ? "warn" : (levels[level] ?? "info")](rest, message);
        },
    });
  const kafka = client(5);
  onceClients.set(kafka, client(0));
  return kafka;
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
  /** Throw PermanentError for poison (dead-lettered at once); any other error is retried in place, see startConsumer. */
  handle: (payload: EachMessagePayload) => Promise<void>;
  /** Bounded in-place retries of a transient failure; merged over the defaults. */
  retry?: Partial<RetryPolicy>;
  /** Dead-letter topic for a source topic. @default `${topic}.dlq` (created with ensureTopics, 1 partition) */
  deadLetterTopic?: (topic: string) => string;
}

/** Longest stop() waits for a start already running (admin, connect, subscribe, group join) before returning. */
export const STOP_WAIT_MS = 2000;
const SESSION_TIMEOUT_MS = 6000;
const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * Runs a consumer group in the background: connects with backoff while Kafka is down, restarts after a
 * non-retriable crash, and keeps every failure of `handle` inside the member (handlers must be idempotent):
 * - `throw new PermanentError(...)` for poison: the message goes at once to the dead-letter topic
 *   (`<topic>.dlq` unless `deadLetterTopic` names another) with headers `dlq-original-topic`,
 *   `dlq-original-partition`, `dlq-original-offset`, `dlq-group`, `dlq-error`, `dlq-permanent`, `dlq-attempts`,
 *   and the partition moves on (`consumer_dead_letters_total{group,topic}`).
 * - Any other error is transient (Redis or Mongo down, a timeout, a 503): the same message is retried in place,
 *   waiting `retry.initialBackoffMs` doubled per failure up to `retry.maxBackoffMs`, heartbeating meanwhile so
 *   the member keeps its partitions and the group does not rebalance (`consumer_handler_retries_total`). After
 *   `retry.maxAttempts` it is dead-lettered too; replay a dead letter by producing it back to its topic.
 * - While `handle` runs, the member heartbeats every second (kafkajs itself only does between messages, and
 *   the session is 6 s). A stop or a rebalance ends the retries and leaves the message uncommitted, for redelivery.
 * With a gate, a closed gate disconnects the consumer (it leaves the group, so the partitions move to the members
 * that stay) and an open one starts it again. Start and pause run one at a time, in the background: HTTP never
 * waits for them. stop() lets a start in progress finish its group join and then leave (cutting a join short
 * leaves a ghost member holding partitions until its session expires), waiting for that at most STOP_WAIT_MS.
 * Metrics: `consumer_lag_messages` the group's uncommitted messages per topic (read at each scrape),
 * `saga_consumer_enabled` the intent (gate open), `saga_consumer_active` the state (a member of
 * this instance has joined the group and not yet disconnected).
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
  const gauge = (name: string, help: string): Gauge<"group"> =>
    // One gauge per registry, labelled by group, so a service may run several consumers.
    (kit.metrics.registry.getSingleMetric(name) as Gauge<"group"> | undefined) ??
    new Gauge({ name, help, labelNames: ["group"], registers: [kit.metrics.registry] });
  const enabledGauge = gauge(
    "saga_consumer_enabled",
    "1 while this instance's consumer is meant to run (active color, or no color gate), else 0",
  );
  const activeGauge = gauge(
    "saga_consumer_active",
    "1 while this instance's consumer has joined its group (GROUP_JOIN seen, not yet disconnected), else 0",
  );
  const group = { group: opts.groupId };
  // Members of this instance now in the group; a stale one may still be leaving while its successor joins.
  const members = new Set<Consumer>();
  const setMember = (c: Consumer, inGroup: boolean) => {
    if (inGroup) members.add(c);
    else members.delete(c);
    activeGauge.set(group, members.size > 0 ? 1 : 0);
  };
  // One abort per member: it ends the handler's in-place retries when that member is told to go.
  const aborts = new WeakMap<Consumer, AbortController>();
  const disconnect = async (c: Consumer) => {
    aborts.get(c)?.abort();
    await c.disconnect().catch(() => undefined);
    setMember(c, false);
  };
  const deadLetterTopic = opts.deadLetterTopic ?? deadLetterTopicOf;
  const policy = { ...defaultRetryPolicy, ...opts.retry };
  // Connected on the first dead letter only; most members never need it.
  let dlqProducer: Promise<Producer> | undefined;
  const publish = async (topic: string, message: Message) => {
    dlqProducer ??= (async () => {
      const p = idempotentProducer(kafka);
      await p.connect();
      return p;
    })().catch((err: unknown) => {
      dlqProducer = undefined;
      throw err;
    });
    await (await dlqProducer).send({ topic, messages: [message] });
  };
  enabledGauge.set(group, 0);
  activeGauge.set(group, 0);

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
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      // A fetch returns within 1 s when idle, so disconnect (and the drain) is not held up by a 5 s long poll.
      maxWaitTimeInMs: 1000,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    consumer = c;
    const abort = new AbortController();
    aborts.set(c, abort);
    c.on(c.events.GROUP_JOIN, () => {
      setMember(c, true);
      if (consumer !== c) return;
      joined = true;
      failures = 0;
    });
    c.on(c.events.DISCONNECT, () => setMember(c, false));
    c.on(c.events.CRASH, (e) => {
      setMember(c, false);
      if (consumer !== c) return;
      joined = false;
      if (!e.payload.restart) retryLater(c);
    });
    // A stop or a closed gate while this consumer starts: it goes at its next step, after a join it leaves.
    const abandoned = async () => {
      if (consumer === c && wanted()) return false;
      if (consumer === c) consumer = undefined;
      await disconnect(c);
      return true;
    };
    const eachMessage = guardHandler(opts.handle, {
      groupId: opts.groupId,
      policy,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      deadLetterTopic,
      publish,
      signal: abort.signal,
      registry: kit.metrics.registry,
      log,
    });
    try {
      // One attempt per start (our backoff retries it), so a stop() never leaves kafkajs retrying behind it.
      await probe(
        kafka,
        opts.ensureTopics && withDeadLetters(opts.ensureTopics, opts.topics, deadLetterTopic),
      );
      if (await abandoned()) return;
      await c.connect();
      for (const topic of opts.topics) await c.subscribe({ topic, fromBeginning: true });
      if (await abandoned()) return;
      // Not cut short by stop(): a member disconnected inside its join stays in the group until its session ends.
      await c.run({ eachMessage });
      await abandoned();
    } catch (err) {
      if (await abandoned()) return;
      log.warn({ err: (err as Error).message, failures }, "consumer could not start; retrying");
      retryLater(c);
    }
  };
  const halt = async (c: Consumer): Promise<void> => {
    consumer = undefined;
    joined = false;
    clearTimeout(timer);
    await disconnect(c);
  };
  const retryLater = (failed: Consumer) => {
    consumer = undefined;
    void disconnect(failed);
    if (!wanted()) return;
    failures += 1;
    clearTimeout(timer);
    timer = setTimeout(reconcile, Math.min(250 * 2 ** Math.min(failures, 4), 4000));
  };

  const lag = lagReader(kafka, opts.groupId, opts.topics);
  const unregisterLag = registerLag(kit.metrics.registry, opts.groupId, lag.read);
  kit.health.addCheck(
    `kafka-consumer-${opts.groupId}`,
    async () => {
      if (enabled && !joined) throw new Error("consumer has not joined its group");
    },
    // An idle color's consumer is off on purpose: its passing check must not hide the live one's failure.
    { critical: false, applies: () => enabled && !stopped },
  );
  const setEnabled = (open: boolean) => {
    enabled = open;
    enabledGauge.set(group, open && !stopped ? 1 : 0);
    reconcile();
  };
  if (opts.gate) {
    const gate = opts.gate;
    void gate.ready.then(() => {
      setEnabled(gate.open);
      gate.onChange(setEnabled);
    });
  } else setEnabled(true);

  const stop = async () => {
    stopped = true;
    clearTimeout(timer);
    enabledGauge.set(group, 0);
    // Retries in a handler end now, so the drain is not held by their backoff.
    if (consumer) aborts.get(consumer)?.abort();
    // Queued: a start in progress completes its join, then the halt (or the start itself) leaves the group.
    reconcile();
    const closed = transitions.then(async () => {
      const producer = await dlqProducer?.catch(() => undefined);
      dlqProducer = undefined;
      await producer?.disconnect().catch(() => undefined);
    });
    let bound: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(true), STOP_WAIT_MS))),
    ]);
    clearTimeout(bound);
    if (timedOut)
      log.warn(
        { waitedMs: STOP_WAIT_MS },
        "consumer start still running at stop; it leaves the group once joined",
      );
  };
  const stopAll = async () => {
    await stop();
    unregisterLag();
    await lag.close();
  };
  kit.lifecycle.onClose(`kafka-consumer-${opts.groupId}`, stopAll);
  return { stop: stopAll };
}

/**
 * How long a scrape waits for the group's offsets before it keeps the last lag (Kafka slow or down): as long as a
 * readiness check, which runs beside it, so a scrape stays well inside its timeout.
 */
const LAG_READ_TIMEOUT_MS = 1000;
interface LagSource {
  read: () => Promise<Record<string, number>>;
  /** The last figures read, kept while a read fails (Kafka slow or down). */
  last: Record<string, number>;
}
const lagSources = new WeakMap<Registry, Map<string, LagSource>>();

/**
 * consumer_lag_messages{group, topic}: per consumed topic, the messages the group has not committed yet (each
 * partition's end offset minus the group's committed one, or minus the log start when it committed none), read at
 * each scrape. Every instance of the group reports the same figure (ConsumerLagHigh takes the max). Returns the
 * unregister: a stopped consumer's series go with it.
 */
function registerLag(
  registry: Registry,
  groupId: string,
  read: () => Promise<Record<string, number>>,
): () => void {
  let sources = lagSources.get(registry);
  if (!sources) {
    const all = (sources = new Map<string, LagSource>());
    lagSources.set(registry, all);
    new Gauge({
      name: "consumer_lag_messages",
      help: "Messages of a consumed topic the group has not committed yet (read at each scrape)",
      labelNames: ["group", "topic"],
      registers: [registry],
      async collect() {
        await Promise.all(
          [...all.values()].map(async (source) => {
            source.last = (await source.read().catch(() => undefined)) ?? source.last;
          }),
        );
        this.reset();
        for (const [group, { last }] of all)
          for (const [topic, value] of Object.entries(last)) this.set({ group, topic }, value);
      },
    });
  }
  const own = sources;
  own.set(groupId, { read, last: {} });
  return () => void own.delete(groupId);
}

/**
 * Reads a group's lag with one admin client, connected on first use. A read slower than LAG_READ_TIMEOUT_MS keeps
 * the client for the next scrape (a connect still retrying is not started twice); a failed one starts over.
 */
function lagReader(
  kafka: Kafka,
  groupId: string,
  topics: string[],
): { read(): Promise<Record<string, number>>; close(): Promise<void> } {
  let admin: Promise<Admin> | undefined;
  let inflight: Promise<Record<string, number>> | undefined;
  let closed = false;
  const drop = (current: Promise<Admin>) => {
    if (admin === current) admin = undefined;
    void current.then((a) => a.disconnect()).catch(() => undefined);
  };
  const read = async () => {
    if (closed) throw new Error("closed");
    if (!admin) {
      const a = kafka.admin();
      admin = a.connect().then(() => a);
    }
    const current = admin;
    // One read in flight: a scrape that finds the last one still running (Kafka slow) waits for it, not a second.
    const lagNow = (inflight ??= current
      .then((a) => groupLag(a, groupId, topics))
      .finally(() => (inflight = undefined)));
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<"slow">(
      (resolve) => (timer = setTimeout(() => resolve("slow"), LAG_READ_TIMEOUT_MS)),
    );
    try {
      const lag = await Promise.race([lagNow, slow]);
      if (lag === "slow") throw new Error(`the group's offsets took over ${LAG_READ_TIMEOUT_MS} ms`);
      return lag;
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith("the group's offsets took"))) drop(current);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
  const close = async () => {
    closed = true;
    // Not awaited: a connect still retrying against a stopped Kafka must not hold the service's stop.
    if (admin) drop(admin);
  };
  return { read, close };
}

/** Per topic, the group's uncommitted messages over every partition. */
export async function groupLag(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<Record<string, number>> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  const out: Record<string, number> = {};
  for (const t of committed) {
    const ends = await admin.fetchTopicOffsets(t.topic);
    out[t.topic] = ends.reduce((sum, p) => {
      const offset = Number(t.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
      return sum + Math.max(0, Number(p.high) - (offset >= 0 ? offset : Number(p.low)));
    }, 0);
  }
  return out;
}

/** The topics to create, with a one-partition dead-letter topic for each consumed topic. */
function withDeadLetters(
  topics: { topic: string; numPartitions: number }[],
  consumed: string[],
  deadLetterTopic: (topic: string) => string,
): { topic: string; numPartitions: number }[] {
  const names = new Set(topics.map((t) => t.topic));
  const dlqs = consumed.map(deadLetterTopic).filter((t) => !names.has(t));
  return [...topics, ...[...new Set(dlqs)].map((topic) => ({ topic, numPartitions: 1 }))];
}

/** One connection attempt (no kafkajs retries), creating the missing topics when asked. */
async function probe(
  kafka: Kafka,
  topics: { topic: string; numPartitions: number }[] | undefined,
): Promise<void> {
  const admin = (onceClients.get(kafka) ?? kafka).admin();
  await admin.connect();
  try {
    if (topics) await createMissing(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

async function createMissing(
  admin: Admin,
  topics: { topic: string; numPartitions: number }[],
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
}

/** Creates missing topics; used by services at start so a fresh local Kafka works (Strimzi KafkaTopic in clusters). */
export async function ensureTopics(
  kafka: Kafka,
  topics: { topic: string; numPartitions: number }[],
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createMissing(admin, topics);
  } finally {
    await admin.disconnect();
  }
}
