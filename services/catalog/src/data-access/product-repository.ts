import {
  AppError,
  ensureCollections,
  insertOrGet,
  type Collection,
  type Db,
  type RedisMutex,
} from "@blueprint/service-kit";

export interface Product {
  sku: string;
  name: string;
  priceCents: number;
  stock: number;
  /** Bumped by every write (PUT, stock adjustments, the saga): the ETag an If-Match must name. */
  version: number;
  updatedAt: string;
}

interface ProductDoc {
  _id: string;
  name: string;
  priceCents: number;
  stock: number;
  version: number;
  updatedAt: Date;
  /** Markers of applied saga stock operations (`<orderId>:<op>`), so a redelivered event never applies twice. */
  ops?: Record<string, number>;
}

export type AdjustResult =
  | "applied"
  | "already"
  | "insufficient_stock"
  | "unknown_sku"
  | "not_required"
  /** The guard said no (the reservation was decided meanwhile): nothing written. */
  | "stale";

export interface AdjustOptions {
  /** Only if this operation was applied (an undo of a reservation that never happened is a no-op). */
  requires?: string;
  /**
   * Checked under the product's lock, right before the write: a reservation step runs only while the reservation
   * is still being made, so a delivery that was overtaken by a decision never takes stock after it.
   */
  guard?: () => Promise<boolean>;
}

const toProduct = (d: ProductDoc): Product => ({
  sku: d._id,
  name: d.name,
  priceCents: d.priceCents,
  stock: d.stock,
  version: d.version ?? 0,
  updatedAt: d.updatedAt.toISOString(),
});
const projection = { ops: 0 } as const;

/**
 * Products. Every write of a product runs under its mutex (FerretDB v1 updates are not atomic, see
 * services/README.md) and bumps `version`, so HTTP writers can make conditional changes (If-Match) that no saga step
 * or other writer can silently overwrite.
 */
export class ProductRepository {
  private readonly products: Collection<ProductDoc>;

  constructor(
    private readonly db: Db,
    private readonly lock: RedisMutex,
  ) {
    this.products = db.collection<ProductDoc>("products");
  }

  /** Creates the collection at startup (see ensureCollections). */
  async init(): Promise<void> {
    await ensureCollections(this.db, [this.products.collectionName]);
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

  /**
   * Creates the product, or changes its name and price. `ifMatch` (the version the caller read) makes the change
   * conditional: 412 when the product changed since. Stock is set only on creation: later changes are deltas
   * (adjustStock), so no read-modify-write of an absolute stock can oversell.
   */
  put(
    sku: string,
    fields: { name: string; priceCents: number; stock?: number },
    ifMatch?: number,
  ): Promise<{ product: Product; created: boolean }> {
    return this.lock.run(sku, async () => {
      const now = new Date();
      // A conditional change of a product that does not exist creates nothing.
      if (
        ifMatch !== undefined &&
        ifMatch !== 0 &&
        !(await this.products.findOne({ _id: sku }, { projection }))
      )
        throw new AppError(
          412,
          "PRECONDITION_FAILED",
          `product ${sku} does not exist (If-Match "${ifMatch}")`,
        );
      const existing = await insertOrGet(
        this.products,
        {
          _id: sku,
          name: fields.name,
          priceCents: fields.priceCents,
          stock: fields.stock ?? 0,
          version: 1,
          updatedAt: now,
        },
        () => this.products.findOne({ _id: sku }, { projection }),
      );
      if (!existing) {
        if (ifMatch !== undefined && ifMatch !== 0)
          throw new AppError(
            412,
            "PRECONDITION_FAILED",
            `product ${sku} did not exist (If-Match "${ifMatch}")`,
          );
        return { product: (await this.findBySku(sku))!, created: true };
      }
      if (ifMatch !== undefined && ifMatch !== (existing.version ?? 0))
        throw new AppError(
          412,
          "PRECONDITION_FAILED",
          `product ${sku} is at version ${existing.version ?? 0}, not "${ifMatch}" — read it again and retry`,
        );
      if (fields.stock !== undefined && fields.stock !== existing.stock)
        throw new AppError(
          409,
          "STOCK_IS_A_DELTA",
          `stock of an existing product changes only by POST /products/${sku}/stock {"delta": n} (it is ${existing.stock}) — omit stock from the PUT`,
        );
      await this.products.updateOne(
        { _id: sku },
        { $set: { name: fields.name, priceCents: fields.priceCents, updatedAt: now }, $inc: { version: 1 } },
      );
      return { product: (await this.findBySku(sku))!, created: false };
    });
  }

  /** Restock or write-off: adds `delta` (never below 0) in one conditional update. */
  adjustStock(sku: string, delta: number): Promise<Product> {
    return this.lock.run(sku, async () => {
      const res = await this.products.updateOne(
        { _id: sku, ...(delta < 0 ? { stock: { $gte: -delta } } : {}) },
        { $inc: { stock: delta, version: 1 }, $set: { updatedAt: new Date() } },
      );
      const product = await this.findBySku(sku);
      if (!product) throw AppError.notFound(`product ${sku} does not exist`);
      if (res.modifiedCount === 0)
        throw new AppError(
          409,
          "INSUFFICIENT_STOCK",
          `stock of ${sku} is ${product.stock}, cannot remove ${-delta}`,
        );
      return product;
    });
  }

  /**
   * Adds `delta` to stock at most once per `opId`; a decrement only applies while enough stock remains.
   * One conditional update of one document, under the product's mutex (with the guard, if any).
   */
  adjustOnce(sku: string, opId: string, delta: number, opts: AdjustOptions = {}): Promise<AdjustResult> {
    return this.lock.run(sku, async () =>
      opts.guard && !(await opts.guard()) ? "stale" : this.adjust(sku, opId, delta, opts.requires),
    );
  }

  private async adjust(sku: string, opId: string, delta: number, requires?: string): Promise<AdjustResult> {
    const marker = `ops.${opId}`;
    const filter = {
      _id: sku,
      [marker]: { $exists: false },
      ...(requires ? { [`ops.${requires}`]: { $exists: true } } : {}),
      ...(delta < 0 ? { stock: { $gte: -delta } } : {}),
    };
    const res = await this.products.updateOne(filter, {
      $inc: { stock: delta, version: 1 },
      $set: { [marker]: delta, updatedAt: new Date() },
    });
    if (res.modifiedCount === 1) return "applied";
    const current = await this.products.findOne({ _id: sku }, { projection: { _id: 1, ops: 1 } });
    if (!current) return "unknown_sku";
    if (current.ops?.[opId] !== undefined) return "already";
    if (requires && current.ops?.[requires] === undefined) return "not_required";
    return "insufficient_stock";
  }

  /** Drops markers of a settled reservation (the reservation document guards its order from then on). */
  async clearOps(sku: string, opIds: string[]): Promise<void> {
    const unset: Record<string, ""> = Object.fromEntries(opIds.map((id) => [`ops.${id}`, ""] as const));
    await this.lock.run(sku, () => this.products.updateOne({ _id: sku }, { $unset: unset }));
  }
}
