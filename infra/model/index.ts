export * from "./schema.js";
export * from "./defaults.js";
export * from "./errors.js";
export * from "./blueprint.js";
export * from "./rollout.js";
export { acmeDns01, CLOUDFLARE_MIN_INTERVAL, CLOUDFLARE_MIN_TTL, toBase } from "./checks.js";
export * from "./service-env.js";
export * from "./endpoints.js";
export * from "./credentials.js";
