import { randomUUID } from "node:crypto";
import type { Collection, Db } from "mongodb";
import { ActiveColorWatcher } from "../active-color.js";
import { startConsumer, type EachMessagePayload, type Kafka } from "../clients/kafka.js";
import type { RedisMutex } from "../clients/redis-mutex.js";
import { topicSpecs } from "../events.js";
import type { ServiceKit } from "../kit.js";
import type { OutboxFields } from "./outbox.js";
import { OutboxRelay } from "./relay.js";

/**
 * Wires one saga participant: the outbox relay for `outbox` and the consumer group for `consumes`. The group is
 * shared by blue and green; the consumer runs only in the color ACTIVE_COLOR_FILE names (both when it names
 * none), and handlers stay idempotent for the moments of a switch when both or a redelivery process an event.
 */
export function startSagaParticipant<T extends OutboxFields & { _id: string }>(
  kit: ServiceKit,
  kafka: Kafka,
  opts: {
    db: Db;
    outbox: Collection<T>;
    /** The mutex the service uses for its own writes to outbox documents. */
    docMutex: RedisMutex;
    pollMs: number;
    /** OUTBOX_LEASE_MS: how long a claim lasts (default 10 s). */
    leaseMs?: number;
    /** Create missing saga topics before consuming (KAFKA_CREATE_TOPICS); false where Strimzi owns them. */
    createTopics: boolean;
    /** ACTIVE_COLOR_FILE: the consumer runs only while it names this instance's color (unset: always). */
    activeColorFile: string | undefined;
    groupId: string;
    consumes: string;
    handle: (value: Buffer | null, payload: EachMessagePayload) => Promise<void>;
  },
): void {
  const owner = `${kit.service}-${kit.config.color}-${process.pid}-${randomUUID().slice(0, 8)}`;
  new OutboxRelay(kit, kafka, opts.db, opts.outbox, {
    pollMs: opts.pollMs,
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    owner,
    docMutex: opts.docMutex,
  }).start();
  // Relays run in both colors (claims keep them apart); the consumer follows the active color.
  const activeColor = new ActiveColorWatcher({
    file: opts.activeColorFile,
    color: kit.config.color,
    logger: kit.logger.child({ consumer: opts.groupId }),
  });
  kit.health.addDetail("activeColor", () => ({ file: opts.activeColorFile ?? null, ...activeColor.state }));
  kit.lifecycle.onClose("active-color-watcher", async () => activeColor.stop());
  startConsumer(kit, kafka, {
    gate: activeColor,
    groupId: opts.groupId,
    topics: [opts.consumes],
    ...(opts.createTopics ? { ensureTopics: topicSpecs } : {}),
    // A saga event dead-lettered for a dependency outage would leave its order (or its held stock) behind, so
    // transient failures are retried for about 19 minutes (40 attempts, 30 s apart at most); poison goes at once.
    retry: { maxAttempts: 40 },
    handle: (payload) => opts.handle(payload.message.value, payload),
  });
}
