import { runMain } from "@blueprint/service-kit";
import { loadGatewayConfig } from "./config.js";
import { start } from "./server.js";

await runMain(() => loadGatewayConfig(), start);
