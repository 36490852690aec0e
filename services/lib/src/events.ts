import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { OutboxEvent } from "./outbox/outbox.js";
import { captureTrace } from "./trace-context.js";

/** Kafka topics and event shapes shared by the saga participants. Message key = orderId. */
export const topics = { orders: "orders.events", catalog: "catalog.events" } as const;
export const topicSpecs = [
  { topic: topics.orders, numPartitions: 3 },
  { topic: topics.catalog, numPartitions: 3 },
];

const base = { eventId: z.string().min(1), orderId: z.string().min(1), occurredAt: z.string() };
/** A product's sku: the one pattern of the HTTP APIs and the events. */
export const skuSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "sku must be 1-64 letters, digits, _ or -");
const item = z.object({ sku: skuSchema, quantity: z.number().int().positive() });
export type OrderItem = z.output<typeof item>;

// Tolerant readers: unknown extra fields are ignored so producers can add fields without breaking consumers.
export const orderEvent = z.discriminatedUnion("type", [
  z.object({
    ...base,
    type: z.literal("OrderCreated"),
    customerId: z.string(),
    items: z.array(item).min(1),
    /** 2, 3, … when orders' reconciler sends it again for an order still PENDING: catalog answers again. */
    attempt: z.number().int().min(1).optional(),
  }),
  z.object({ ...base, type: z.literal("OrderCancelled"), reason: z.string().optional() }),
]);
export const catalogEvent = z.discriminatedUnion("type", [
  z.object({ ...base, type: z.literal("StockReserved"), items: z.array(item) }),
  z.object({ ...base, type: z.literal("StockRejected"), reason: z.string(), sku: skuSchema.optional() }),
  z.object({ ...base, type: z.literal("StockReleased"), items: z.array(item) }),
]);
export type OrderEvent = z.output<typeof orderEvent>;
export type CatalogEvent = z.output<typeof catalogEvent>;

/** Builds an outbox entry with a fresh eventId; the eventId is stored, so republishing keeps it. */
export function outboxEvent(
  topic: string,
  type: string,
  orderId: string,
  fields: Record<string, unknown>,
): OutboxEvent {
  const trace = captureTrace();
  return {
    topic,
    key: orderId,
    value: { ...fields, eventId: randomUUID(), type, orderId, occurredAt: new Date().toISOString() },
    ...(trace ? { trace } : {}),
  };
}

/** Parses a Kafka message value; undefined for anything malformed or unknown (the consumer logs and skips it). */
export function parseEvent<S extends z.ZodType>(schema: S, value: Buffer | null): z.output<S> | undefined {
  if (!value) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(value.toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
