import { Router } from "express";
import { AppError, parseInput, skuSchema, validateBody, validateQuery, z } from "@blueprint/service-kit";
import type { OrderService } from "../domain/order-service.js";

const idempotencyKey = /^[A-Za-z0-9_-]{8,128}$/;
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

export function orderRoutes(orders: OrderService): Router {
  const router = Router();

  router.post("/orders", validateBody(orderBody), async (req, res) => {
    const key = req.get("idempotency-key");
    if (key === undefined)
      throw AppError.badRequest(
        "IDEMPOTENCY_KEY_REQUIRED",
        "the Idempotency-Key header is required (8-128 of A-Z a-z 0-9 _ -, e.g. a UUID)",
      );
    if (!idempotencyKey.test(key))
      throw AppError.badRequest(
        "IDEMPOTENCY_KEY_INVALID",
        "the Idempotency-Key header must be 8-128 of A-Z a-z 0-9 _ - (e.g. a UUID)",
      );
    const { order, created } = await orders.createOrder(key, req.body as z.output<typeof orderBody>);
    // A replay answers exactly like the first response, flagged so clients can tell.
    if (!created) res.setHeader("idempotent-replayed", "true");
    res.status(201).location(`/orders/${order.id}`).json(order);
  });

  router.get("/orders/:id", validateQuery(z.strictObject({})), async (req, res) => {
    const { id } = parseInput(params, req.params, "params");
    res.json(await orders.getOrder(id));
  });

  return router;
}
