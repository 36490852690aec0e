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

export type OrderStatus = "PENDING" | "CONFIRMED" | "CANCELLED";

export interface Order {
  id: string;
  status: OrderStatus;
  customerId: string;
  items: OrderItem[];
  reason?: string;
  createdAt: string;
  updatedAt: string;
}

/** The order and its outbox in one document: one insert is the atomic "state + event" write. */
export interface OrderDoc extends OutboxFields {
  _id: string;
  idempotencyKey: string;
  fingerprint: string;
  status: OrderStatus;
  customerId: string;
  items: OrderItem[];
  reason?: string;
  createdAt: Date;
  updatedAt: Date;
  /** Times the reconciler sent OrderCreated again (the first send is 1). */
  attempts?: number;
  lastRetryAt?: Date;
}

const toOrder = (d: OrderDoc): Order => ({
  id: d._id,
  status: d.status,
  customerId: d.customerId,
  items: d.items,
  ...(d.reason === undefined ? {} : { reason: d.reason }),
  createdAt: d.createdAt.toISOString(),
  updatedAt: d.updatedAt.toISOString(),
});

export class OrderRepository {
  readonly collection: Collection<OrderDoc>;

  constructor(
    private readonly db: Db,
    private readonly mutex: RedisMutex,
  ) {
    this.collection = db.collection<OrderDoc>("orders");
  }

  async init(): Promise<void> {
    await ensureCollections(this.db, [this.collection.collectionName, OUTBOX_CLAIMS_COLLECTION]);
    await this.collection.createIndex(outboxIndex.key, { name: outboxIndex.name });
    // Durable backstop for idempotency if Redis lost the key: a second order with the same key cannot exist.
    await this.collection.createIndex({ idempotencyKey: 1 }, { name: "idempotency_key", unique: true });
    // The reconciler's query of stuck orders.
    await this.collection.createIndex({ status: 1, createdAt: 1 }, { name: "status_created" });
  }

  /** Inserts the order with its OrderCreated event; on a duplicate (same id or key) returns the stored order. */
  async insert(
    fields: Omit<OrderDoc, keyof OutboxFields | "createdAt" | "updatedAt" | "status">,
    event: OutboxEvent,
  ): Promise<{ doc: OrderDoc; created: boolean }> {
    const now = new Date();
    const doc: OrderDoc = {
      ...fields,
      status: "PENDING",
      createdAt: now,
      updatedAt: now,
      ...newOutbox([event]),
    };
    const existing = await insertOrGet(this.collection, doc, () =>
      this.collection.findOne({ idempotencyKey: fields.idempotencyKey }),
    );
    return existing ? { doc: existing, created: false } : { doc, created: true };
  }

  async findById(id: string): Promise<Order | null> {
    const doc = await this.collection.findOne({ _id: id }, { projection: { outbox: 0 } });
    return doc ? toOrder(doc) : null;
  }

  /** PENDING → final, at most once; `event` (if any) is stored in the same write for the relay. */
  async finish(
    id: string,
    status: Exclude<OrderStatus, "PENDING">,
    reason?: string,
    event?: OutboxEvent,
  ): Promise<boolean> {
    const set: Record<string, unknown> = { status, updatedAt: new Date() };
    if (reason !== undefined) set.reason = reason;
    const update = event ? appendToOutbox(event, set) : { $set: set };
    // Under the same mutex as the relay's mark, so neither rewrites the other's change (FerretDB, see README).
    const res = await this.mutex.run(id, () =>
      this.collection.updateOne({ _id: id, status: "PENDING" }, update),
    );
    return res.modifiedCount === 1;
  }

  /** PENDING orders created before `before` whose last retry (if any) is older than `retriedBefore`. */
  stuck(before: Date, retriedBefore: Date, limit: number): Promise<OrderDoc[]> {
    return this.collection
      .find({
        status: "PENDING",
        createdAt: { $lt: before },
        $or: [{ lastRetryAt: { $exists: false } }, { lastRetryAt: { $lt: retriedBefore } }],
      })
      .limit(limit)
      .toArray();
  }

  /**
   * Appends `event` (OrderCreated again) to a still PENDING order not retried since `retriedBefore`, counting the
   * attempt; false once final or when another instance's reconciler retried it meanwhile.
   */
  async retry(id: string, event: OutboxEvent, retriedBefore: Date): Promise<boolean> {
    const res = await this.mutex.run(id, () =>
      this.collection.updateOne(
        {
          _id: id,
          status: "PENDING",
          $or: [{ lastRetryAt: { $exists: false } }, { lastRetryAt: { $lt: retriedBefore } }],
        },
        { ...appendToOutbox(event, { lastRetryAt: new Date() }), $inc: { outboxSeq: 1, attempts: 1 } },
      ),
    );
    return res.modifiedCount === 1;
  }

  static view(doc: OrderDoc): Order {
    return toOrder(doc);
  }
}
