import {
  PermanentError,
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
import type { ReservationDoc, ReservationRepository } from "../data-access/reservation-repository.js";

type Created = Extract<OrderEvent, { type: "OrderCreated" }>;

/** Sums quantities per sku, so each sku is one conditional update (and one idempotency marker). */
function bySku(items: OrderItem[]): OrderItem[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of items) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].map(([sku, quantity]) => ({ sku, quantity }));
}

export interface StockSagaOptions {
  /**
   * How long the per-order markers stay on the products after the reservation's last decision. A delivery of the
   * same event that started before the decision (a second member during a rebalance, a redelivery) is still
   * guarded by them; the saga refuses to write stock once a delivery has run for half of this.
   */
  markerGraceMs: number;
}

/** A delivery that ran so long its markers may be gone: it stops before writing, and Kafka redelivers. */
export class StaleDeliveryError extends Error {
  override readonly name = "StaleDeliveryError";
}

const reserveOp = (orderId: string) => `${orderId}:r`;
const undoOp = (orderId: string) => `${orderId}:u`;
const releaseOp = (orderId: string) => `${orderId}:x`;

/**
 * Catalog's side of the order saga; every delivery of an event, duplicated or concurrent, leaves the same result:
 * - each stock change applies once: it carries a per-order marker on the product (`<orderId>:r|u|x`), set in the
 *   same update as the change, and the markers stay until a grace period after the reservation is final;
 * - a decision is recorded before its stock work (REJECTING, RELEASING), so a delivery that crashed half-way is
 *   finished by the next one, never reversed;
 * - the undo of a rejection gives back exactly the skus whose reservation marker exists (whoever set it), so a
 *   second delivery that reserved a sku after the first decided to reject gives it back too;
 * - replies go out through the reservation's outbox, in the same write as the decision.
 * Throwing makes Kafka redeliver, which is safe for the same reasons.
 */
export class StockSaga {
  constructor(
    private readonly products: ProductRepository,
    private readonly reservations: ReservationRepository,
    private readonly cache: ProductCache,
    private readonly logger: Logger,
    private readonly opts: StockSagaOptions = { markerGraceMs: 600_000 },
  ) {}

  async handle(value: Buffer | null): Promise<void> {
    const event = parseEvent(orderEvent, value);
    // Poison: no redelivery can make it valid. The consumer moves it to the dead-letter topic (metric, alert).
    if (!event)
      throw new PermanentError(
        `malformed orders event: ${value?.toString("utf8").slice(0, 200) ?? "(no value)"}`,
      );
    const started = Date.now();
    if (event.type === "OrderCreated") await this.reserve(event, started);
    else await this.release(event.orderId, started);
  }

  async reserve(event: Created, started = Date.now()): Promise<void> {
    const { orderId } = event;
    const items = bySku(event.items);
    const existing = await this.reservations.insertIfAbsent(orderId, "RESERVING", items);
    if (existing?.status === "CANCELLED") return this.rejectCancelled(existing);
    if (existing && existing.status !== "RESERVING") {
      await this.finish(existing, started);
      // orders asks again (its reconciler) when the reply never reached it: answer from the recorded decision.
      if ((event.attempt ?? 1) > 1) await this.answerAgain(orderId);
      return;
    }
    let failure: { sku: string; reason: string } | undefined;
    const stillReserving = async () => (await this.reservations.find(orderId))?.status === "RESERVING";
    for (const item of items) {
      this.checkFresh(started, orderId);
      const result = await this.products.adjustOnce(item.sku, reserveOp(orderId), -item.quantity, {
        guard: stillReserving,
      });
      if (result === "stale") {
        const now = await this.reservations.find(orderId);
        if (now) await this.finish(now, started);
        return;
      }
      if (result !== "applied" && result !== "already") {
        failure = { sku: item.sku, reason: result };
        break;
      }
    }
    const moved = failure
      ? await this.reservations.transition(orderId, "RESERVING", "REJECTING", {
          set: { reason: failure.reason, failedSku: failure.sku },
        })
      : await this.reservations.transition(orderId, "RESERVING", "HELD", {
          reply: outboxEvent(topics.catalog, "StockReserved", orderId, { items }),
          settleAfter: this.settleAfter(),
        });
    if (!moved || failure) {
      // Another delivery decided first, or this one decided to reject: finish whatever was decided (it gives back
      // what this delivery reserved if the decision is a rejection).
      const now = await this.reservations.find(orderId);
      if (now) await this.finish(now, started);
      return;
    }
    await this.invalidate(items);
  }

  /** Gives held stock back once; a cancel for an unknown order is remembered so a late OrderCreated is refused. */
  async release(orderId: string, started = Date.now()): Promise<void> {
    const reply = outboxEvent(topics.catalog, "StockReleased", orderId, { items: [] });
    let doc = await this.reservations.insertIfAbsent(orderId, "CANCELLED", [], reply);
    // A cancel while the reservation is still being made rejects it (its stock goes back); a held one is released.
    // A transition that loses a race (another delivery decided meanwhile) reads the new status and tries again.
    for (let round = 0; doc && round < 5; round++) {
      const moved =
        doc.status === "RESERVING"
          ? await this.reservations.transition(orderId, "RESERVING", "REJECTING", {
              set: { reason: "order_cancelled" },
            })
          : doc.status === "HELD"
            ? await this.reservations.transition(orderId, "HELD", "RELEASING")
            : true;
      if (moved) break;
      doc = await this.reservations.find(orderId);
    }
    if (!doc) return;
    const now = await this.reservations.find(orderId);
    if (now) await this.finish(now, started);
  }

  /**
   * Completes the stock work of a recorded decision (idempotent: each change carries its marker). A rejection's
   * undo runs again even once REJECTED: a delivery that reserved a sku after another had undone the order's
   * reservations finds the order rejected here, and gives that sku back.
   */
  private async finish(doc: ReservationDoc, started: number): Promise<void> {
    const orderId = doc._id;
    if (doc.status === "REJECTING" || doc.status === "REJECTED") {
      for (const item of doc.items) {
        this.checkFresh(started, orderId);
        await this.products.adjustOnce(item.sku, undoOp(orderId), item.quantity, {
          requires: reserveOp(orderId),
        });
      }
      if (doc.status === "REJECTED") return;
      const reply = outboxEvent(topics.catalog, "StockRejected", orderId, {
        reason: doc.reason ?? "rejected",
        ...(doc.failedSku ? { sku: doc.failedSku } : {}),
      });
      await this.reservations.transition(orderId, "REJECTING", "REJECTED", {
        reply,
        settleAfter: this.settleAfter(),
      });
      await this.invalidate(doc.items);
    } else if (doc.status === "RELEASING") {
      for (const item of doc.items) {
        this.checkFresh(started, orderId);
        // HELD meant every sku was reserved: its markers may be settled by now, so the release does not require them.
        await this.products.adjustOnce(item.sku, releaseOp(orderId), item.quantity);
      }
      const reply = outboxEvent(topics.catalog, "StockReleased", orderId, { items: doc.items });
      await this.reservations.transition(orderId, "RELEASING", "RELEASED", {
        reply,
        settleAfter: this.settleAfter(),
      });
      await this.invalidate(doc.items);
    }
  }

  private async answerAgain(orderId: string): Promise<void> {
    const doc = await this.reservations.find(orderId);
    if (!doc) return;
    const reply =
      doc.status === "HELD"
        ? outboxEvent(topics.catalog, "StockReserved", orderId, { items: doc.items })
        : doc.status === "REJECTED"
          ? outboxEvent(topics.catalog, "StockRejected", orderId, {
              reason: doc.reason ?? "rejected",
              ...(doc.failedSku ? { sku: doc.failedSku } : {}),
            })
          : undefined;
    // The status in the filter: a decision that moved on meanwhile (a release) is not answered with a stale reply.
    if (reply) await this.reservations.transition(orderId, doc.status, doc.status, { reply });
  }

  /** A create after its cancel: the order gets a rejection once (the CANCELLED reservation holds no stock). */
  private async rejectCancelled(doc: ReservationDoc): Promise<void> {
    if (doc.reason === "order_cancelled") return;
    const reply = outboxEvent(topics.catalog, "StockRejected", doc._id, { reason: "order_cancelled" });
    await this.reservations.transition(doc._id, "CANCELLED", "CANCELLED", {
      reply,
      set: { reason: "order_cancelled" },
    });
  }

  /**
   * Drops the markers of reservations whose grace period is over (the reservation document guards their order
   * from then on); StockSettler runs it periodically.
   */
  async settleDue(limit = 200, maxRounds = 20): Promise<number> {
    let total = 0;
    for (let round = 0; round < maxRounds; round++) {
      const due = await this.reservations.dueForSettling(new Date(), limit);
      // One update per product for the whole batch: a product's markers are one document, which its store
      // rewrites whole on every update (FerretDB does), so an update per reservation cost O(batch × markers).
      const opsBySku = new Map<string, string[]>();
      for (const doc of due) {
        // A held order may still be released: its release markers go only once it is RELEASED.
        const ops = [
          reserveOp(doc._id),
          undoOp(doc._id),
          ...(doc.status === "HELD" ? [] : [releaseOp(doc._id)]),
        ];
        for (const item of doc.items) {
          const list = opsBySku.get(item.sku) ?? [];
          list.push(...ops);
          opsBySku.set(item.sku, list);
        }
      }
      for (const [sku, ops] of opsBySku) await this.products.clearOps(sku, ops);
      for (const doc of due) await this.reservations.settled(doc._id);
      total += due.length;
      if (due.length < limit) break;
    }
    return total;
  }

  private settleAfter(): Date {
    return new Date(Date.now() + this.opts.markerGraceMs);
  }

  private checkFresh(started: number, orderId: string): void {
    if (Date.now() - started > this.opts.markerGraceMs / 2)
      throw new StaleDeliveryError(
        `order ${orderId}: this delivery started ${Date.now() - started} ms ago, past half the marker grace period; a redelivery takes over`,
      );
  }

  private async invalidate(items: OrderItem[]): Promise<void> {
    for (const item of items)
      await this.cache
        .invalidate(item.sku)
        .catch((err: Error) => this.logger.warn({ err: err.message, sku: item.sku }, "invalidate failed"));
  }
}
