import type { Router } from "express";
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
import type { Order } from "../data-access/order-repository.js";
import { IDEMPOTENCY_KEY_IN_PROGRESS, type OrderService } from "../domain/order-service.js";

const idempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,128}$/)
  .describe(
    "8-128 of A-Z a-z 0-9 _ - (e.g. a UUID): a repeated request with the same key answers the first order",
  );
const orderBody = z.strictObject({
  customerId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "customerId must be 1-64 letters, digits, _ or -"),
  items: z
    .array(
      z.strictObject({
        sku: skuSchema,
        quantity: z.number().int().min(1).max(1000),
      }),
    )
    .min(1)
    .max(50),
});
const params = z.strictObject({ id: z.uuid("id must be a UUID") });

const order = z.object({
  id: z.uuid(),
  status: z.enum(["PENDING", "CONFIRMED", "CANCELLED"]),
  customerId: z.string(),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
  reason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
}) satisfies z.ZodType<Order>;

const invalid: ApiResponse = { description: "invalid input; error.message names the field and the reason" };
const unavailable: ApiResponse = { description: "a dependency is unavailable; retry after Retry-After" };

/** Orders' HTTP API: each route's schemas validate its input and describe it in /openapi.json. */
export function orderApi(orders: OrderService): ApiRoute[] {
  return [
    defineRoute({
      operationId: "createOrder",
      method: "post",
      path: "/orders",
      summary: "Place an order (PENDING until catalog reserves its stock); idempotent by Idempotency-Key",
      body: orderBody,
      headers: z.object({ "idempotency-key": idempotencyKey }),
      responses: {
        201: {
          description:
            "the order (a replay of the same key answers the first order, with Idempotent-Replayed)",
          schema: order,
          headers: z.object({ location: z.string().describe("/orders/{id}") }),
          links: { GetOrder: { operationId: "getOrder", parameters: { id: "$response.body#/id" } } },
        },
        400: invalid,
        409: {
          description:
            "IDEMPOTENCY_KEY_IN_PROGRESS: a request with this Idempotency-Key is still being processed; retry the same request after Retry-After to get its answer",
          headers: z.object({ "retry-after": z.string().describe("seconds to wait before the retry (1)") }),
        },
        422: { description: "the Idempotency-Key was used for a different order" },
        413: { description: "the body exceeds the size limit" },
        415: { description: "the body is not JSON" },
        503: unavailable,
      },
      async handler({ body }, req, res) {
        const key = req.get("idempotency-key");
        if (key === undefined)
          throw AppError.badRequest(
            "IDEMPOTENCY_KEY_REQUIRED",
            "the Idempotency-Key header is required (8-128 of A-Z a-z 0-9 _ -, e.g. a UUID)",
          );
        if (!idempotencyKey.safeParse(key).success)
          throw AppError.badRequest(
            "IDEMPOTENCY_KEY_INVALID",
            "the Idempotency-Key header must be 8-128 of A-Z a-z 0-9 _ - (e.g. a UUID)",
          );
        const { order, created } = await orders.createOrder(key, body).catch((err: unknown) => {
          if (err instanceof AppError && err.code === IDEMPOTENCY_KEY_IN_PROGRESS)
            res.setHeader("retry-after", "1");
          throw err;
        });
        // A replay answers exactly like the first response, flagged so clients can tell.
        if (!created) res.setHeader("idempotent-replayed", "true");
        res.status(201).location(`/orders/${order.id}`).json(order);
      },
    }),
    defineRoute({
      operationId: "getOrder",
      method: "get",
      path: "/orders/:id",
      summary: "One order and its status",
      params,
      query: z.strictObject({}),
      responses: {
        200: { description: "the order", schema: order },
        400: invalid,
        404: { description: "no order with this id" },
        503: unavailable,
      },
      async handler({ params: { id } }, _req, res) {
        res.json(await orders.getOrder(id));
      },
    }),
  ];
}

export function orderRoutes(orders: OrderService): Router {
  const routes = orderApi(orders);
  const router = apiRouter(routes);
  const document = openApiDocument({ title: "orders", version: "1" }, routes);
  router.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  return router;
}
