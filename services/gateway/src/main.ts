import { serviceMain } from "@blueprint/service-kit/tracing";

// The service's modules load after tracing starts (when it is configured), so the instrumentations see them.
await serviceMain("gateway", async () => ({
  loadConfig: (await import("./config.js")).loadGatewayConfig,
  start: (await import("./server.js")).start,
}));
