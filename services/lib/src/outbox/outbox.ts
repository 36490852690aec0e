import type { TraceCarrier } from "../trace-context.js";

/**
 * Transactional outbox inside the business document: the events to publish live in the same document as the
 * state change, so one single-document write (atomic in MongoDB and FerretDB) records both.
 * `outbox.slice(publishedSeq)` are the unpublished events; `outboxPending` is the indexed flag the relay polls.
 */
export interface OutboxEvent {
  topic: string;
  key: string;
  /** The message value: {eventId, type, orderId, occurredAt, ...}. */
  value: { eventId: string; type: string; orderId: string; occurredAt: string } & Record<string, unknown>;
  /** The trace the event was recorded in (W3C trace context), so its publish and consumption continue it. */
  trace?: TraceCarrier;
}

export interface OutboxFields {
  outbox: OutboxEvent[];
  outboxSeq: number;
  publishedSeq: number;
  outboxPending: boolean;
}

/** Fields for a new document that starts with `events` to publish. */
export function newOutbox(events: OutboxEvent[]): OutboxFields {
  return {
    outbox: events,
    outboxSeq: events.length,
    publishedSeq: 0,
    outboxPending: events.length > 0,
  };
}

/** Update operators that append one event; merge `set` with the caller's own state change. */
export function appendToOutbox(event: OutboxEvent, set: Record<string, unknown> = {}) {
  return {
    $push: { outbox: event },
    $inc: { outboxSeq: 1 },
    $set: { ...set, outboxPending: true },
  };
}

/** The relay's poll filter and the index that serves it. */
export const pendingFilter = () => ({ outboxPending: true });
export const outboxIndex = { key: { outboxPending: 1 }, name: "outbox_pending_flag" } as const;
