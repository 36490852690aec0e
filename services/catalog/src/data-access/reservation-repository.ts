import {
  appendToOutbox,
  ensureCollections,
  insertOrGet,
  newOutbox,
  OUTBOX_CLAIMS_COLLECTION,
  outboxIndex,
  type Collection,
  type Db,
  type OrderItem,
  type OutboxEvent,
  type OutboxFields,
  type RedisMutex,
} from "@blueprint/service-kit";

/**
 * RESERVING → HELD, or → REJECTING → REJECTED (the decision to give stock back is recorded before any is given
 * back); HELD → RELEASING → RELEASED; CANCELLED: a cancel seen before its create. A status ending in -ING is a
 * decision whose stock work may be unfinished: any delivery that finds it finishes that work.
 */
export type ReservationStatus =
  "RESERVING" | "HELD" | "REJECTING" | "REJECTED" | "RELEASING" | "RELEASED" | "CANCELLED";

export const FINAL_STATUSES: readonly ReservationStatus[] = ["HELD", "REJECTED", "RELEASED", "CANCELLED"];

/** One document per order (`_id` = orderId): the saga's memory, and the outbox of catalog's replies. */
export interface ReservationDoc extends OutboxFields {
  _id: string;
  status: ReservationStatus;
  items: OrderItem[];
  reason?: string;
  failedSku?: string;
  /** When the products' markers of this order may go (a grace period after the last decision; see StockSaga). */
  settleAfter?: Date;
  createdAt: Date;
  updatedAt: Date;
}

export class ReservationRepository {
  readonly collection: Collection<ReservationDoc>;

  constructor(
    private readonly db: Db,
    private readonly mutex: RedisMutex,
  ) {
    this.collection = db.collection<ReservationDoc>("reservations");
  }

  async init(): Promise<void> {
    await ensureCollections(this.db, [this.collection.collectionName, OUTBOX_CLAIMS_COLLECTION]);
    await this.collection.createIndex(outboxIndex.key, { name: outboxIndex.name });
    await this.collection.createIndex({ settleAfter: 1 }, { name: "settle_after", sparse: true });
  }

  /**
   * Inserts the reservation in `status` (with `reply` in its outbox, if any) unless one exists; returns the
   * existing one (a redelivery, or the other event of the order) or null.
   */
  insertIfAbsent(
    orderId: string,
    status: ReservationStatus,
    items: OrderItem[],
    reply?: OutboxEvent,
  ): Promise<ReservationDoc | null> {
    const now = new Date();
    return insertOrGet(
      this.collection,
      { _id: orderId, status, items, createdAt: now, updatedAt: now, ...newOutbox(reply ? [reply] : []) },
      () => this.find(orderId),
    );
  }

  find(orderId: string): Promise<ReservationDoc | null> {
    return this.collection.findOne({ _id: orderId });
  }

  /**
   * Moves `from` → `to` (with `set`, and the reply event in the same write); false when another delivery moved it
   * first. A final status starts the markers' grace period.
   */
  async transition(
    orderId: string,
    from: ReservationStatus,
    to: ReservationStatus,
    opts: { reply?: OutboxEvent; set?: Partial<ReservationDoc>; settleAfter?: Date } = {},
  ): Promise<boolean> {
    const set: Record<string, unknown> = { ...opts.set, status: to, updatedAt: new Date() };
    if (opts.settleAfter) set.settleAfter = opts.settleAfter;
    const update = opts.reply ? appendToOutbox(opts.reply, set) : { $set: set };
    const res = await this.mutex.run(orderId, () =>
      this.collection.updateOne({ _id: orderId, status: from }, update),
    );
    return res.modifiedCount === 1;
  }

  /** Final reservations whose markers' grace period is over (never one whose stock work is under way). */
  dueForSettling(now: Date, limit: number): Promise<ReservationDoc[]> {
    return this.collection
      .find({ settleAfter: { $lt: now }, status: { $in: [...FINAL_STATUSES] } })
      .limit(limit)
      .toArray();
  }

  async settled(orderId: string): Promise<void> {
    await this.mutex.run(orderId, () =>
      this.collection.updateOne({ _id: orderId }, { $unset: { settleAfter: "" } }),
    );
  }
}
