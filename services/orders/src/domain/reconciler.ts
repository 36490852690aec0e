import { outboxEvent, topics, type Logger, type Metrics } from "@blueprint/service-kit";
import type { OrderDoc, OrderRepository } from "../data-access/order-repository.js";

export interface ReconcilerOptions {
  /** A PENDING order this old gets its OrderCreated sent again (and again after as long), attempt 2, 3, … */
  retryAfterMs: number;
  /** A PENDING order this old is cancelled (reason timeout) with an OrderCancelled, so catalog gives stock back. */
  deadlineMs: number;
  intervalMs: number;
  batchSize?: number;
}

/**
 * Drives every order stuck in PENDING to a final state: a lost reply (a region's Kafka lost before catalog's reply
 * reached it, a saga step that keeps failing) would otherwise leave it PENDING forever. First it asks catalog again
 * (catalog answers a repeated OrderCreated from its recorded decision); past the deadline it cancels the order, and
 * the OrderCancelled it emits makes catalog release or reject whatever it holds for the order.
 */
export class OrderReconciler {
  private timer: NodeJS.Timeout | undefined;
  private readonly actions;

  constructor(
    private readonly orders: OrderRepository,
    private readonly opts: ReconcilerOptions,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.actions = metrics.counter(
      "orders_reconciled_total",
      "Stuck PENDING orders acted on by the reconciler",
      ["action"],
    );
  }

  start(): void {
    const loop = () => {
      this.timer = setTimeout(() => {
        this.runOnce()
          .catch((err: Error) => this.logger.warn({ err: err.message }, "reconciling stuck orders failed"))
          .finally(loop);
      }, this.opts.intervalMs);
    };
    loop();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** One round: returns how many orders it retried and cancelled. */
  async runOnce(now = Date.now()): Promise<{ retried: number; cancelled: number }> {
    const before = new Date(now - this.opts.retryAfterMs);
    const stuck = await this.orders.stuck(before, before, this.opts.batchSize ?? 100);
    let retried = 0;
    let cancelled = 0;
    for (const doc of stuck) {
      if (now - doc.createdAt.getTime() >= this.opts.deadlineMs) {
        if (await this.cancel(doc)) cancelled += 1;
      } else if (await this.orders.retry(doc._id, this.created(doc), before)) retried += 1;
    }
    if (retried) this.actions.inc({ action: "retried" }, retried);
    if (cancelled) this.actions.inc({ action: "cancelled" }, cancelled);
    return { retried, cancelled };
  }

  private created(doc: OrderDoc) {
    return outboxEvent(topics.orders, "OrderCreated", doc._id, {
      customerId: doc.customerId,
      items: doc.items,
      attempt: (doc.attempts ?? 1) + 1,
    });
  }

  private cancel(doc: OrderDoc): Promise<boolean> {
    const seconds = Math.round(this.opts.deadlineMs / 1000);
    return this.orders.finish(
      doc._id,
      "CANCELLED",
      `timeout: no stock decision within ${seconds} s`,
      outboxEvent(topics.orders, "OrderCancelled", doc._id, { reason: "timeout" }),
    );
  }
}
