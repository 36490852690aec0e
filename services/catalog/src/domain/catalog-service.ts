import { AppError } from "@blueprint/service-kit";
import type { ProductCache } from "../data-access/product-cache.js";
import type { Product, ProductRepository } from "../data-access/product-repository.js";

export type ProductFields = Pick<Product, "name" | "priceCents" | "stock">;

export class CatalogService {
  constructor(
    private readonly products: ProductRepository,
    private readonly cache: ProductCache,
  ) {}

  async getProduct(sku: string): Promise<Product> {
    const product = await this.cache.get(sku, () => this.products.findBySku(sku));
    if (!product) throw AppError.notFound(`product ${sku} does not exist`);
    return product;
  }

  listProducts(limit: number, after?: string): Promise<Product[]> {
    return this.products.list(limit, after);
  }

  /** Writes the database first, then invalidates, so readers never cache a value older than the write. */
  async putProduct(sku: string, fields: ProductFields): Promise<{ product: Product; created: boolean }> {
    const result = await this.products.upsert(sku, fields);
    await this.cache.invalidate(sku);
    return result;
  }
}
