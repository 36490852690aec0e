import type { Response, Router } from "express";
import {
  AppError,
  apiRouter,
  defineRoute,
  openApiDocument,
  skuSchema,
  z,
  type ApiResponse,
  type ApiRoute,
} from "@blueprint/service-kit";
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
const noQuery = z.strictObject({});
const ifMatchHeader = z
  .string()
  .regex(/^(?:W\/)?"(\d{1,15})"$/)
  .describe(
    'the ETag a GET returned, such as "3": the write happens only if the product is still that version',
  );

const product = z.object({
  sku: z.string(),
  name: z.string(),
  priceCents: z.number().int(),
  stock: z.number().int(),
  version: z.number().int(),
  updatedAt: z.string(),
}) satisfies z.ZodType<Product>;
const etag = z.object({ etag: z.string().describe("the product's version, for If-Match") });
const productPage = z.object({ items: z.array(product), next: skuSchema.optional() });

const invalid: ApiResponse = { description: "invalid input; error.message names the field and the reason" };
const unavailable: ApiResponse = { description: "a dependency is unavailable; retry after Retry-After" };
const bodyErrors: Record<number, ApiResponse> = {
  413: { description: "the body exceeds the size limit" },
  415: { description: "the body is not JSON" },
};

/** `If-Match: "<version>"` (the ETag a GET returned): the version a conditional write expects, or undefined. */
function ifMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = ifMatchHeader.safeParse(header.trim());
  if (!m.success)
    throw AppError.badRequest(
      "BAD_IF_MATCH",
      `If-Match must be one ETag this API returned, such as "3" (got ${JSON.stringify(header)})`,
    );
  return Number(/\d+/.exec(m.data)![0]);
}

function sendProduct(res: Response, product: Product, status = 200): void {
  res.status(status).setHeader("etag", `"${product.version}"`).json(product);
}

/** Catalog's HTTP API: each route's schemas validate its input and describe it in /openapi.json. */
export function productApi(catalog: CatalogService): ApiRoute[] {
  return [
    defineRoute({
      operationId: "listProducts",
      method: "get",
      path: "/products",
      summary: "Products in sku order, a page at a time",
      query: listQuery,
      responses: {
        200: { description: "a page; `next` is the `after` of the next page", schema: productPage },
        400: invalid,
        503: unavailable,
      },
      async handler({ query: { limit, after } }, _req, res) {
        const items = await catalog.listProducts(limit, after);
        res.json({ items, next: items.length === limit ? items.at(-1)?.sku : undefined });
      },
    }),
    defineRoute({
      operationId: "getProduct",
      method: "get",
      path: "/products/:sku",
      summary: "One product",
      params: paramsSchema,
      query: noQuery,
      responses: {
        200: { description: "the product", schema: product, headers: etag },
        400: invalid,
        404: { description: "no product with this sku" },
        503: unavailable,
      },
      async handler({ params: { sku } }, _req, res) {
        sendProduct(res, await catalog.getProduct(sku));
      },
    }),
    defineRoute({
      operationId: "putProduct",
      method: "put",
      path: "/products/:sku",
      summary: "Create a product, or replace its name and price (conditional with If-Match)",
      params: paramsSchema,
      body: productBody,
      headers: z.object({ "if-match": ifMatchHeader.optional() }),
      responses: {
        200: { description: "replaced", schema: product, headers: etag },
        201: { description: "created", schema: product, headers: etag },
        400: invalid,
        409: { description: "stock was sent for an existing product (stock changes are deltas)" },
        412: { description: "If-Match names a version that is no longer current" },
        ...bodyErrors,
        503: unavailable,
      },
      async handler({ params: { sku }, body }, req, res) {
        const { product, created } = await catalog.putProduct(sku, body, ifMatch(req.get("if-match")));
        sendProduct(res, product, created ? 201 : 200);
      },
    }),
    defineRoute({
      operationId: "adjustStock",
      method: "post",
      path: "/products/:sku/stock",
      summary: "Add to or take from a product's stock",
      params: paramsSchema,
      body: stockBody,
      responses: {
        200: { description: "the product after the change", schema: product, headers: etag },
        400: invalid,
        404: { description: "no product with this sku" },
        409: { description: "the change would make the stock negative" },
        ...bodyErrors,
        503: unavailable,
      },
      async handler({ params: { sku }, body: { delta } }, _req, res) {
        sendProduct(res, await catalog.adjustStock(sku, delta));
      },
    }),
  ];
}

export function productRoutes(catalog: CatalogService): Router {
  const routes = productApi(catalog);
  const router = apiRouter(routes);
  const document = openApiDocument({ title: "catalog", version: "1" }, routes);
  router.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  return router;
}
