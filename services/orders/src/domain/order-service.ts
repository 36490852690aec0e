import { createHash, randomUUID } from "node:crypto";
import { AppError, outboxEvent, topics, type OrderItem } from "@blueprint/service-kit";
import type { IdempotencyStore } from "../data-access/idempotency-store.js";
import { OrderRepository, type Order } from "../data-access/order-repository.js";

export interface NewOrder {
  customerId: string;
  items: OrderItem[];
}

/** Same JSON for the same request, whatever the key order the client used. */
function fingerprintOf(input: NewOrder): string {
  const canonical = JSON.stringify({
    customerId: input.customerId,
    items: input.items.map((i) => ({ sku: i.sku, quantity: i.quantity })),
  });
  return createHash("sha256").update(canonical).digest("base64url");
}

export class OrderService {
  constructor(
    private readonly orders: OrderRepository,
    private readonly idempotency: IdempotencyStore,
  ) {}

  /**
   * Creates the order once per Idempotency-Key. The key is claimed in Redis with the order id it will get and
   * marked pending until the order is stored: a concurrent duplicate answers 409 at once (retry after a second)
   * instead of waiting on the first; a retry after the first finished inserts under the same id, hits the
   * duplicate and answers with the stored order. A pending mark left by a crash expires and is taken over.
   */
  async createOrder(idempotencyKey: string, input: NewOrder): Promise<{ order: Order; created: boolean }> {
    const fingerprint = fingerprintOf(input);
    const record = { orderId: randomUUID(), fingerprint };
    const claim = await this.idempotency.claim(idempotencyKey, record);
    if (claim.state !== "claimed" && claim.record.fingerprint !== fingerprint) throw reused(idempotencyKey);
    if (claim.state === "in-progress") throw inProgress(idempotencyKey);
    const id = claim.state === "done" ? claim.record.orderId : record.orderId;
    const event = outboxEvent(topics.orders, "OrderCreated", id, {
      customerId: input.customerId,
      items: input.items,
    });
    let stored: Awaited<ReturnType<OrderRepository["insert"]>>;
    try {
      stored = await this.orders.insert(
        { _id: id, idempotencyKey, fingerprint, customerId: input.customerId, items: input.items },
        event,
      );
    } catch (err) {
      if (claim.state === "claimed") await this.idempotency.release(idempotencyKey, record);
      throw err;
    }
    const { doc, created } = stored;
    if (doc.fingerprint !== fingerprint) {
      if (claim.state === "claimed") await this.idempotency.release(idempotencyKey, record);
      throw reused(idempotencyKey);
    }
    if (claim.state === "claimed")
      await this.idempotency.complete(idempotencyKey, { orderId: doc._id, fingerprint });
    return { order: OrderRepository.view(doc), created };
  }

  async getOrder(id: string): Promise<Order> {
    const order = await this.orders.findById(id);
    if (!order) throw AppError.notFound(`order ${id} does not exist`);
    return order;
  }
}

function reused(key: string): AppError {
  return new AppError(
    422,
    "IDEMPOTENCY_KEY_REUSED",
    `Idempotency-Key ${key} was already used with a different request body; use a new key for a new order`,
  );
}

/** The code of the 409 a duplicate gets while the first request with its key runs (the route adds Retry-After). */
export const IDEMPOTENCY_KEY_IN_PROGRESS = "IDEMPOTENCY_KEY_IN_PROGRESS";

function inProgress(key: string): AppError {
  return new AppError(
    409,
    IDEMPOTENCY_KEY_IN_PROGRESS,
    `a request with Idempotency-Key ${key} is still being processed; retry after Retry-After seconds to get its answer`,
  );
}
