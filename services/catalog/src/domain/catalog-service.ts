import { AppError, type Logger } from "@blueprint/service-kit";
import type { ProductCache } from "../data-access/product-cache.js";
import type { Product, ProductRepository } from "../data-access/product-repository.js";

export interface ProductFields {
  name: string;
  priceCents: number;
  /** Only when creating: an existing product's stock changes by deltas (adjustStock). */
  stock?: number;
}

export class CatalogService {
  constructor(
    private readonly products: ProductRepository,
    private readonly cache: ProductCache,
    private readonly logger: Logger,
  ) {}

  async getProduct(sku: string): Promise<Product> {
    const product = await this.cache.get(sku, () => this.products.findBySku(sku));
    if (!product) throw AppError.notFound(`product ${sku} does not exist`);
    return product;
  }

  listProducts(limit: number, after?: string): Promise<Product[]> {
    return this.cache.getList(`${limit}:${after ?? ""}`, () => this.products.list(limit, after));
  }

  /** Writes the database first, then invalidates, so readers never cache a value older than the write. */
  async putProduct(
    sku: string,
    fields: ProductFields,
    ifMatch?: number,
  ): Promise<{ product: Product; created: boolean }> {
    const result = await this.products.put(sku, fields, ifMatch);
    await this.invalidate(sku);
    return result;
  }

  async adjustStock(sku: string, delta: number): Promise<Product> {
    const product = await this.products.adjustStock(sku, delta);
    await this.invalidate(sku);
    return product;
  }

  /**
   * The write has committed: a cache that cannot be invalidated now (Redis down) must not turn it into an error.
   * The cache retries the invalidation once Redis is back; until then other instances serve at most their TTL.
   */
  private async invalidate(sku: string): Promise<void> {
    await this.cache.invalidate(sku).catch((err: Error) => {
      this.logger.warn({ err: err.message, sku }, "cache invalidation deferred until Redis is back");
      this.cache.invalidateLater(sku);
    });
  }
}
