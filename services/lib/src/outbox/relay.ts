import type { Collection, Db, Document } from "mongodb";
import type { Span } from "@opentelemetry/api";
import type { Kafka, Message, Producer } from "kafkajs";
import { idempotentProducer } from "../clients/kafka.js";
import type { RedisMutex } from "../clients/redis-mutex.js";
import type { ServiceKit } from "../kit.js";
import { endSpans, publishSpan, untraced } from "../trace-context.js";
import { OutboxClaims } from "./claims.js";
import { pendingFilter, type OutboxFields } from "./outbox.js";

export interface RelayOptions {
  pollMs: number;
  /** How long a claimed document is reserved for this instance; longer than one publish round trip. */
  leaseMs?: number;
  batchSize?: number;
  /** Unique per instance (e.g. service-color-pid-random); the claim owner. */
  owner: string;
  /** Serialises the mark with the service's own writes to the same document (keyed by the document id). */
  docMutex?: RedisMutex;
}

type OutboxDoc = Document & OutboxFields & { _id: string };

/** The backlog gauge stops counting here: past it, the number only says "far too many". */
const BACKLOG_COUNT_LIMIT = 10_000;

/**
 * Polls documents with unpublished outbox events, claims each (an atomic insert in `outbox_claims`, so two
 * instances or colors never publish the same events at once), publishes with the idempotent producer (acks=-1)
 * and marks them published. While Kafka is down it backs off and retries; nothing is lost because the events stay
 * in MongoDB. Publication is at-least-once (a crash after send and before mark republishes), so consumers dedupe.
 */
export class OutboxRelay<T extends OutboxFields & { _id: string }> {
  private producer: Producer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private readonly published;
  private readonly errors;
  private readonly collection: Collection<OutboxDoc>;
  private readonly claims: OutboxClaims;

  constructor(
    private readonly kit: ServiceKit,
    private readonly kafka: Kafka,
    db: Db,
    collection: Collection<T>,
    private readonly opts: RelayOptions,
  ) {
    this.collection = collection as unknown as Collection<OutboxDoc>;
    this.claims = new OutboxClaims(db, collection.collectionName, opts.owner, opts.leaseMs ?? 10_000);
    this.published = kit.metrics.counter("outbox_published_total", "Outbox events published to Kafka", [
      "topic",
    ]);
    this.errors = kit.metrics.counter("outbox_publish_errors_total", "Outbox publish rounds that failed", []);
    // The backlog, counted through the relay's own index (O(pending)) at each scrape, not at each poll.
    kit.metrics.gauge(
      "outbox_pending_documents",
      `Documents of ${collection.collectionName} with unpublished outbox events (counted up to ${BACKLOG_COUNT_LIMIT})`,
      () => this.collection.countDocuments(pendingFilter(), { limit: BACKLOG_COUNT_LIMIT }),
    );
    kit.health.addCheck(
      "outbox-relay",
      async () => {
        if (this.failures > 0)
          throw new Error(`publishing is failing (${this.failures} rounds in a row); events are kept`);
      },
      { critical: false },
    );
    kit.lifecycle.onClose("outbox-relay", () => this.stop());
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A round stuck connecting to a dead broker must not hold up shutdown; its claims expire with the lease.
    await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, 2000))]);
    await this.producer?.disconnect().catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => (this.running = undefined));
    }, ms);
  }

  private async tick(): Promise<void> {
    let next = this.opts.pollMs;
    try {
      const count = await this.publishBatch();
      this.failures = 0;
      if (count === (this.opts.batchSize ?? 50)) next = 0;
    } catch (err) {
      this.failures += 1;
      this.errors.inc();
      next = Math.min(this.opts.pollMs * 2 ** Math.min(this.failures, 5), 5000);
      this.kit.logger.warn(
        { err: (err as Error).message, failures: this.failures, retryInMs: next },
        "outbox publish failed",
      );
      // A fresh producer gets a new producer id, which a restarted or replaced cluster needs.
      const producer = this.producer;
      this.producer = undefined;
      await producer?.disconnect().catch(() => undefined);
    }
    this.schedule(next);
  }

  /** Claims up to batchSize pending documents, publishes their unpublished events in one send, and marks them. */
  async publishBatch(): Promise<number> {
    // Redis down: a batch sent now could not be marked (the mark takes the document's mutex), so every lease would
    // send it again. Back off until the mark can be made.
    if (this.opts.docMutex && !this.opts.docMutex.available())
      throw new Error(
        "the lock store (Redis) is unavailable, so nothing sent could be marked published; waiting",
      );
    // Connect first: while Kafka is down the relay backs off without touching the database.
    const producer = await this.connectedProducer();
    const batchSize = this.opts.batchSize ?? 50;
    const candidates = await this.collection
      .find(pendingFilter())
      .limit(batchSize * 2)
      .toArray();
    const claimed: OutboxDoc[] = [];
    for (const doc of candidates) {
      if (claimed.length === batchSize || this.stopped) break;
      if (await this.claims.claim(doc._id, doc.outboxSeq)) claimed.push(doc);
    }
    await this.claims.sweep();
    if (claimed.length === 0) return 0;
    const spans: Span[] = [];
    try {
      const byTopic = new Map<string, Message[]>();
      for (const doc of claimed)
        for (const event of doc.outbox.slice(doc.publishedSeq)) {
          const { span, headers } = publishSpan(event.topic, event.value.eventId, event.trace);
          if (span) spans.push(span);
          const messages = byTopic.get(event.topic) ?? [];
          messages.push({ key: event.key, value: JSON.stringify(event.value), headers });
          byTopic.set(event.topic, messages);
        }
      await untraced(() =>
        producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        }),
      );
      endSpans(spans);
      for (const [topic, messages] of byTopic) this.published.inc({ topic }, messages.length);
    } catch (err) {
      endSpans(spans, err);
      await this.claims.release(claimed.map((d) => this.claims.key(d._id, d.outboxSeq)));
      throw err;
    }
    await Promise.all(claimed.map((doc) => this.markPublished(doc)));
    return claimed.length;
  }

  private markPublished(doc: OutboxDoc): Promise<void> {
    return this.opts.docMutex ? this.opts.docMutex.run(doc._id, () => this.mark(doc)) : this.mark(doc);
  }

  private async mark(doc: OutboxDoc): Promise<void> {
    // Clears the pending flag only if no event was appended since the read; otherwise the next poll sends it.
    const res = await this.collection.updateOne(
      { _id: doc._id, outboxSeq: doc.outboxSeq },
      { $set: { publishedSeq: doc.outboxSeq, outboxPending: false } },
    );
    if (res.matchedCount === 0)
      await this.collection.updateOne({ _id: doc._id }, { $max: { publishedSeq: doc.outboxSeq } });
  }

  private async connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = idempotentProducer(this.kafka);
      try {
        await producer.connect();
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        throw err;
      }
      this.producer = producer;
    }
    return this.producer;
  }
}
