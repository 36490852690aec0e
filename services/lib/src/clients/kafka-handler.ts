import type { EachMessagePayload, IHeaders, Message } from "kafkajs";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../logger.js";

/**
 * Thrown by a consumer's handler for a message that can never succeed (poison: unparseable, violates an invariant):
 * it is dead-lettered at once. Any other error counts as transient (dependency down, timeout, 503) and is retried
 * in place.
 */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentError";
  }
}

export interface RetryPolicy {
  /** Attempts per message, the first included, before a transient failure is dead-lettered. @default 12 */
  maxAttempts: number;
  /** Wait after the first failure; doubled after each further one, up to maxBackoffMs. @default 200 */
  initialBackoffMs: number;
  /** @default 30000 (with the defaults, a dependency may be down 141 s before messages are dead-lettered) */
  maxBackoffMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 12,
  initialBackoffMs: 200,
  maxBackoffMs: 30_000,
};

/** Where a message of `topic` goes when it is dead-lettered, unless the caller names another topic. */
export const deadLetterTopicOf = (topic: string): string => `${topic}.dlq`;

export const DEAD_LETTERS_METRIC = "consumer_dead_letters_total";
export const RETRIES_METRIC = "consumer_handler_retries_total";

/** Headers a dead letter carries besides the original message's own. */
export const dlqHeaders = {
  topic: "dlq-original-topic",
  partition: "dlq-original-partition",
  offset: "dlq-original-offset",
  group: "dlq-group",
  error: "dlq-error",
  permanent: "dlq-permanent",
  attempts: "dlq-attempts",
} as const;

export interface GuardDeps {
  groupId: string;
  policy: RetryPolicy;
  /** How often a running handler heartbeats (kafkajs heartbeats only between messages). */
  heartbeatIntervalMs: number;
  deadLetterTopic: (topic: string) => string;
  publish: (topic: string, message: Message) => Promise<void>;
  /** Aborted when this member stops: retries end and the message is left uncommitted for the next member. */
  signal: AbortSignal;
  registry: Registry;
  log: Logger;
}

const counter = (registry: Registry, name: string, help: string): Counter<"group" | "topic"> =>
  (registry.getSingleMetric(name) as Counter<"group" | "topic"> | undefined) ??
  new Counter({ name, help, labelNames: ["group", "topic"], registers: [registry] });

const isRebalancing = (err: unknown): boolean =>
  ["REBALANCE_IN_PROGRESS", "NOT_COORDINATOR_FOR_GROUP", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"].includes(
    (err as { type?: string }).type ?? "",
  );

/**
 * Wraps a handler: heartbeats while it runs, retries a transient failure in place with exponential backoff
 * (heartbeating, so the member stays in its group), and dead-letters a PermanentError at once or a transient one
 * after policy.maxAttempts, then returns so kafkajs commits past it. It throws (no commit, redelivery) only when
 * the member stops, the group rebalances, or the dead letter cannot be published.
 */
export function guardHandler(
  handle: (payload: EachMessagePayload) => Promise<void>,
  deps: GuardDeps,
): (payload: EachMessagePayload) => Promise<void> {
  const deadLetters = counter(
    deps.registry,
    DEAD_LETTERS_METRIC,
    "Messages a consumer gave up on and dead-lettered",
  );
  const retries = counter(deps.registry, RETRIES_METRIC, "Handler failures a consumer retried in place");
  return async (payload) => {
    const { topic, partition, message } = payload;
    const labels = { group: deps.groupId, topic };
    // A rebalance seen by a heartbeat: the member must rejoin soon, so retries stop and the message is redelivered.
    let rebalance: unknown;
    // Ends a backoff early: the member stops, or the group waits for this member to rejoin.
    const wake = new AbortController();
    const onStop = () => wake.abort();
    deps.signal.addEventListener("abort", onStop, { once: true });
    const beat = async () => {
      try {
        await payload.heartbeat();
      } catch (err) {
        if (!isRebalancing(err)) return;
        rebalance ??= err;
        wake.abort();
      }
    };
    const beats = setInterval(() => void beat(), deps.heartbeatIntervalMs);
    try {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await handle(payload);
          return;
        } catch (err) {
          if (deps.signal.aborted) throw err;
          if (rebalance) throw rebalance;
          const permanent = err instanceof PermanentError;
          if (permanent || attempt >= deps.policy.maxAttempts) {
            await deps.publish(deps.deadLetterTopic(topic), {
              key: message.key,
              value: message.value,
              headers: {
                ...message.headers,
                [dlqHeaders.topic]: topic,
                [dlqHeaders.partition]: String(partition),
                [dlqHeaders.offset]: message.offset,
                [dlqHeaders.group]: deps.groupId,
                [dlqHeaders.error]: (err as Error).message ?? String(err),
                [dlqHeaders.permanent]: String(permanent),
                [dlqHeaders.attempts]: String(attempt),
              } satisfies IHeaders,
            });
            deadLetters.inc(labels);
            deps.log.error(
              {
                err: (err as Error).message,
                topic,
                partition,
                offset: message.offset,
                attempts: attempt,
                permanent,
              },
              "message dead-lettered",
            );
            return;
          }
          retries.inc(labels);
          const waitMs = Math.min(
            deps.policy.initialBackoffMs * 2 ** (attempt - 1),
            deps.policy.maxBackoffMs,
          );
          deps.log.warn(
            { err: (err as Error).message, topic, partition, offset: message.offset, attempt, waitMs },
            "handler failed; retrying in place",
          );
          await sleep(waitMs, wake.signal);
          await beat();
          if (deps.signal.aborted) throw err;
          if (rebalance) throw rebalance;
        }
      }
    } finally {
      clearInterval(beats);
      deps.signal.removeEventListener("abort", onStop);
    }
  };
}

/** Resolves after ms, or as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
