import { PermanentError, catalogEvent, parseEvent, type Logger, type Metrics } from "@blueprint/service-kit";
import type { OrderRepository } from "../data-access/order-repository.js";

/**
 * Orders' side of the saga: catalog's reply moves a PENDING order to its final state. The update is conditional
 * on PENDING, so redeliveries and the other color's consumer cannot move an order twice.
 */
export class OrderSaga {
  private readonly finals;

  constructor(
    private readonly orders: OrderRepository,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.finals = metrics.counter(
      "orders_final_state_total",
      "Orders that reached a final state (counted once)",
      ["status"],
    );
  }

  async handle(value: Buffer | null): Promise<void> {
    const event = parseEvent(catalogEvent, value);
    // Poison: no redelivery can make it valid. The consumer moves it to the dead-letter topic (metric, alert).
    if (!event)
      throw new PermanentError(
        `malformed catalog event: ${value?.toString("utf8").slice(0, 200) ?? "(no value)"}`,
      );
    if (event.type === "StockReleased") return;
    const moved =
      event.type === "StockReserved"
        ? await this.orders.finish(event.orderId, "CONFIRMED")
        : await this.orders.finish(
            event.orderId,
            "CANCELLED",
            `stock rejected: ${event.reason}${event.sku ? ` (${event.sku})` : ""}`,
          );
    if (moved) this.finals.inc({ status: event.type === "StockReserved" ? "CONFIRMED" : "CANCELLED" });
  }
}
