export * from "./schema.js";
export * from "./defaults.js";
export * from "./errors.js";
export * from "./blueprint.js";
export * from "./rollout.js";
export { toBase } from "./checks.js";
export * from "./service-env.js";
export * from "./endpoints.js";
export * from "./credentials.js";
