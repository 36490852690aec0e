import { runMain } from "@blueprint/service-kit";
import { loadOrdersConfig } from "./config.js";
import { start } from "./server.js";

await runMain(() => loadOrdersConfig(), start);
