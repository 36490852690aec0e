import { runMain } from "@blueprint/service-kit";
import { loadCatalogConfig } from "./config.js";
import { start } from "./server.js";

await runMain(() => loadCatalogConfig(), start);
