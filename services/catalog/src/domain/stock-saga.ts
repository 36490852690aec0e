import {
  orderEvent,
  outboxEvent,
  parseEvent,
  topics,
  type Logger,
  type OrderEvent,
  type OrderItem,
} from "@blueprint/service-kit";
import type { ProductCache } from "../data-access/product-cache.js";
import type { ProductRepository } from "../data-access/product-repository.js";
import type { ReservationRepository } from "../data-access/reservation-repository.js";

type Created = Extract<OrderEvent, { type: "OrderCreated" }>;

/** Sums quantities per sku, so each sku is one conditional update (and one idempotency marker). */
function bySku(items: OrderItem[]): OrderItem[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of items) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].map(([sku, quantity]) => ({ sku, quantity }));
}

/**
 * Catalog's side of the order saga. Every step is idempotent: the reservation document (`_id` = orderId) records
 * the outcome, per-order markers on products make each stock change apply once, and replies go out through the
 * reservation's outbox. Throwing makes Kafka redeliver, which is safe for the same reasons.
 */
export class StockSaga {
  constructor(
    private readonly products: ProductRepository,
    private readonly reservations: ReservationRepository,
    private readonly cache: ProductCache,
    private readonly logger: Logger,
  ) {}

  async handle(value: Buffer | null): Promise<void> {
    const event = parseEvent(orderEvent, value);
    if (!event) {
      this.logger.warn({ value: value?.toString("utf8").slice(0, 200) }, "skipping malformed orders event");
      return;
    }
    if (event.type === "OrderCreated") await this.reserve(event);
    else await this.release(event.orderId);
  }

  async reserve(event: Created): Promise<void> {
    const items = bySku(event.items);
    const existing = await this.reservations.insertIfAbsent(event.orderId, "RESERVING", items);
    // Decided before (redelivery) or cancelled before it was created: nothing to do, the outbox holds the reply.
    if (existing && existing.status !== "RESERVING") return;
    const reserved: OrderItem[] = [];
    let failure: { sku: string; reason: string } | undefined;
    for (const item of items) {
      const result = await this.products.adjustOnce(item.sku, `${event.orderId}:r`, -item.quantity);
      if (result === "applied" || result === "already") reserved.push(item);
      else {
        failure = { sku: item.sku, reason: result };
        break;
      }
    }
    if (failure) {
      for (const item of reserved)
        await this.products.adjustOnce(item.sku, `${event.orderId}:u`, item.quantity);
      const reply = outboxEvent(topics.catalog, "StockRejected", event.orderId, failure);
      await this.reservations.transition(
        event.orderId,
        "RESERVING",
        "REJECTED",
        reply,
        `${failure.reason}: ${failure.sku}`,
      );
    } else {
      const reply = outboxEvent(topics.catalog, "StockReserved", event.orderId, { items });
      await this.reservations.transition(event.orderId, "RESERVING", "HELD", reply);
    }
    await this.settle(items, event.orderId, ["r", "u"]);
  }

  /** Gives held stock back once; a cancel for an unknown order is remembered so a late OrderCreated is ignored. */
  async release(orderId: string): Promise<void> {
    const existing = await this.reservations.insertIfAbsent(orderId, "CANCELLED", []);
    if (!existing || existing.status !== "HELD") return;
    for (const item of existing.items)
      await this.products.adjustOnce(item.sku, `${orderId}:x`, item.quantity);
    const reply = outboxEvent(topics.catalog, "StockReleased", orderId, { items: existing.items });
    await this.reservations.transition(orderId, "HELD", "RELEASED", reply);
    await this.settle(existing.items, orderId, ["x"]);
  }

  private async settle(items: OrderItem[], orderId: string, ops: string[]): Promise<void> {
    for (const item of items) {
      await this.products.clearOps(
        item.sku,
        ops.map((op) => `${orderId}:${op}`),
      );
      await this.cache
        .invalidate(item.sku)
        .catch((err: Error) => this.logger.warn({ err: err.message }, "invalidate failed"));
    }
  }
}
