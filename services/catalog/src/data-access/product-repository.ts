import type { Collection, Db, RedisMutex } from "@blueprint/service-kit";

export interface Product {
  sku: string;
  name: string;
  priceCents: number;
  stock: number;
  updatedAt: string;
}

interface ProductDoc {
  _id: string;
  name: string;
  priceCents: number;
  stock: number;
  updatedAt: Date;
  /** Markers of applied saga stock operations (`<orderId>:<op>`), so a redelivered event never applies twice. */
  ops?: Record<string, number>;
}

export type AdjustResult = "applied" | "already" | "insufficient_stock" | "unknown_sku";

const toProduct = (d: ProductDoc): Product => ({
  sku: d._id,
  name: d.name,
  priceCents: d.priceCents,
  stock: d.stock,
  updatedAt: d.updatedAt.toISOString(),
});
const projection = { ops: 0 } as const;

export class ProductRepository {
  private readonly products: Collection<ProductDoc>;

  constructor(
    db: Db,
    private readonly lock: RedisMutex,
  ) {
    this.products = db.collection<ProductDoc>("products");
  }

  async findBySku(sku: string): Promise<Product | null> {
    const doc = await this.products.findOne({ _id: sku }, { projection });
    return doc ? toProduct(doc) : null;
  }

  async list(limit: number, after?: string): Promise<Product[]> {
    const filter = after === undefined ? {} : { _id: { $gt: after } };
    const docs = await this.products.find(filter, { projection }).sort({ _id: 1 }).limit(limit).toArray();
    return docs.map(toProduct);
  }

  /** Creates or replaces the product's fields; true when it was created. */
  async upsert(
    sku: string,
    fields: Pick<Product, "name" | "priceCents" | "stock">,
  ): Promise<{ product: Product; created: boolean }> {
    const updatedAt = new Date();
    const res = await this.products.updateOne(
      { _id: sku },
      { $set: { ...fields, updatedAt } },
      { upsert: true },
    );
    return {
      product: { sku, ...fields, updatedAt: updatedAt.toISOString() },
      created: res.upsertedCount === 1,
    };
  }

  /**
   * Adds `delta` to stock at most once per `opId`; a decrement only applies while enough stock remains.
   * One conditional update of one document, so it is atomic without transactions.
   */
  adjustOnce(sku: string, opId: string, delta: number): Promise<AdjustResult> {
    return this.lock.run(sku, () => this.adjust(sku, opId, delta));
  }

  private async adjust(sku: string, opId: string, delta: number): Promise<AdjustResult> {
    const marker = `ops.${opId}`;
    const filter = {
      _id: sku,
      [marker]: { $exists: false },
      ...(delta < 0 ? { stock: { $gte: -delta } } : {}),
    };
    const res = await this.products.updateOne(filter, {
      $inc: { stock: delta },
      $set: { [marker]: delta, updatedAt: new Date() },
    });
    if (res.modifiedCount === 1) return "applied";
    const current = await this.products.findOne({ _id: sku }, { projection: { _id: 1, [marker]: 1 } });
    if (!current) return "unknown_sku";
    return current.ops?.[opId] !== undefined ? "already" : "insufficient_stock";
  }

  /** Drops the markers once the reservation's outcome is recorded (the reservation document guards from then on). */
  async clearOps(sku: string, opIds: string[]): Promise<void> {
    const unset: Record<string, ""> = Object.fromEntries(opIds.map((id) => [`ops.${id}`, ""] as const));
    await this.lock.run(sku, () => this.products.updateOne({ _id: sku }, { $unset: unset }));
  }
}
