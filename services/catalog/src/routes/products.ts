import { Router } from "express";
import { parseInput, validateBody, validateQuery, z } from "@blueprint/service-kit";
import type { CatalogService } from "../domain/catalog-service.js";

export const skuSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "sku must be 1-64 letters, digits, _ or -");
const paramsSchema = z.strictObject({ sku: skuSchema });
const productBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  priceCents: z.number().int().min(0).max(100_000_000),
  stock: z.number().int().min(0).max(1_000_000_000),
});
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  after: skuSchema.optional(),
});

export function productRoutes(catalog: CatalogService): Router {
  const router = Router();

  router.get("/products", validateQuery(listQuery), async (_req, res) => {
    const { limit, after } = res.locals.query as z.output<typeof listQuery>;
    const items = await catalog.listProducts(limit, after);
    res.json({ items, next: items.length === limit ? items.at(-1)?.sku : undefined });
  });

  router.get("/products/:sku", validateQuery(z.strictObject({})), async (req, res) => {
    const { sku } = parseInput(paramsSchema, req.params, "params");
    res.json(await catalog.getProduct(sku));
  });

  router.put("/products/:sku", validateBody(productBody), async (req, res) => {
    const { sku } = parseInput(paramsSchema, req.params, "params");
    const { product, created } = await catalog.putProduct(sku, req.body as z.output<typeof productBody>);
    res.status(created ? 201 : 200).json(product);
  });

  return router;
}
