import { Router, type Response } from "express";
import { AppError, parseInput, skuSchema, validateBody, validateQuery, z } from "@blueprint/service-kit";
import type { Product } from "../data-access/product-repository.js";
import type { CatalogService } from "../domain/catalog-service.js";

const paramsSchema = z.strictObject({ sku: skuSchema });
const productBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  priceCents: z.number().int().min(0).max(100_000_000),
  stock: z
    .number()
    .int()
    .min(0)
    .max(1_000_000_000)
    .optional()
    .describe("initial stock, on creation only; later changes are deltas (POST /products/:sku/stock)"),
});
const stockBody = z.strictObject({
  delta: z
    .number()
    .int()
    .min(-1_000_000_000)
    .max(1_000_000_000)
    .refine((d) => d !== 0, "delta must not be 0"),
});
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  after: skuSchema.optional(),
});

/** `If-Match: "<version>"` (the ETag a GET returned): the version a conditional write expects, or undefined. */
function ifMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:W\/)?"(\d{1,15})"$/.exec(header.trim());
  if (!m)
    throw AppError.badRequest(
      "BAD_IF_MATCH",
      `If-Match must be one ETag this API returned, such as "3" (got ${JSON.stringify(header)})`,
    );
  return Number(m[1]);
}

function sendProduct(res: Response, product: Product, status = 200): void {
  res.status(status).setHeader("etag", `"${product.version}"`).json(product);
}

export function productRoutes(catalog: CatalogService): Router {
  const router = Router();

  router.get("/products", validateQuery(listQuery), async (_req, res) => {
    const { limit, after } = res.locals.query as z.output<typeof listQuery>;
    const items = await catalog.listProducts(limit, after);
    res.json({ items, next: items.length === limit ? items.at(-1)?.sku : undefined });
  });

  router.get("/products/:sku", validateQuery(z.strictObject({})), async (req, res) => {
    const { sku } = parseInput(paramsSchema, req.params, "params");
    sendProduct(res, await catalog.getProduct(sku));
  });

  router.put("/products/:sku", validateBody(productBody), async (req, res) => {
    const { sku } = parseInput(paramsSchema, req.params, "params");
    const body = req.body as z.output<typeof productBody>;
    const { product, created } = await catalog.putProduct(sku, body, ifMatch(req.get("if-match")));
    sendProduct(res, product, created ? 201 : 200);
  });

  router.post("/products/:sku/stock", validateBody(stockBody), async (req, res) => {
    const { sku } = parseInput(paramsSchema, req.params, "params");
    const { delta } = req.body as z.output<typeof stockBody>;
    sendProduct(res, await catalog.adjustStock(sku, delta));
  });

  return router;
}
