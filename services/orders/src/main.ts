import { serviceMain } from "@blueprint/service-kit/tracing";

// The service's modules load after tracing starts (when it is configured), so the instrumentations see them.
await serviceMain("orders", async () => ({
  loadConfig: (await import("./config.js")).loadOrdersConfig,
  start: (await import("./server.js")).start,
}));
