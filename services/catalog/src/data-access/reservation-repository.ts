import {
  appendToOutbox,
  newOutbox,
  outboxIndex,
  type Collection,
  type Db,
  type OrderItem,
  type OutboxEvent,
  type OutboxFields,
  type RedisMutex,
} from "@blueprint/service-kit";

export type ReservationStatus = "RESERVING" | "HELD" | "REJECTED" | "RELEASED" | "CANCELLED";

/** One document per order (`_id` = orderId): the saga's memory, and the outbox of catalog's replies. */
export interface ReservationDoc extends OutboxFields {
  _id: string;
  status: ReservationStatus;
  items: OrderItem[];
  reason?: string;
  createdAt: Date;
  updatedAt: Date;
}

export class ReservationRepository {
  readonly collection: Collection<ReservationDoc>;

  constructor(
    db: Db,
    private readonly mutex: RedisMutex,
  ) {
    this.collection = db.collection<ReservationDoc>("reservations");
  }

  async init(): Promise<void> {
    await this.collection.createIndex(outboxIndex.key, { name: outboxIndex.name });
  }

  /** Inserts the reservation in `status` unless one exists; returns the existing one (redelivery) or null. */
  async insertIfAbsent(
    orderId: string,
    status: ReservationStatus,
    items: OrderItem[],
  ): Promise<ReservationDoc | null> {
    const now = new Date();
    try {
      await this.collection.insertOne({
        _id: orderId,
        status,
        items,
        createdAt: now,
        updatedAt: now,
        ...newOutbox([]),
      });
      return null;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
      return this.collection.findOne({ _id: orderId });
    }
  }

  findById(orderId: string): Promise<ReservationDoc | null> {
    return this.collection.findOne({ _id: orderId });
  }

  /** Moves `from` → `to` and stores the reply event in the same write; false when another delivery did it first. */
  async transition(
    orderId: string,
    from: ReservationStatus,
    to: ReservationStatus,
    event: OutboxEvent,
    reason?: string,
  ): Promise<boolean> {
    const set: Record<string, unknown> = { status: to, updatedAt: new Date() };
    if (reason !== undefined) set.reason = reason;
    const res = await this.mutex.run(orderId, () =>
      this.collection.updateOne({ _id: orderId, status: from }, appendToOutbox(event, set)),
    );
    return res.modifiedCount === 1;
  }
}
