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
   * Creates the order once per Idempotency-Key. The key is claimed in Redis with the order id it will get; a
   * retry or a concurrent duplicate inserts under that same id, hits the duplicate and answers with the stored
   * order (so duplicates wait for, and return, the first order instead of failing with 409).
   */
  async createOrder(idempotencyKey: string, input: NewOrder): Promise<{ order: Order; created: boolean }> {
    const fingerprint = fingerprintOf(input);
    const newId = randomUUID();
    const prior = await this.idempotency.claim(idempotencyKey, { orderId: newId, fingerprint });
    if (prior && prior.fingerprint !== fingerprint) throw reused(idempotencyKey);
    const id = prior?.orderId ?? newId;
    const event = outboxEvent(topics.orders, "OrderCreated", id, {
      customerId: input.customerId,
      items: input.items,
    });
    const { doc, created } = await this.orders.insert(
      { _id: id, idempotencyKey, fingerprint, customerId: input.customerId, items: input.items },
      event,
    );
    if (doc.fingerprint !== fingerprint) throw reused(idempotencyKey);
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
