import { PROJECT } from "./config/stack-file.js";

/**
 * Every `blueprint:*` key, read once. Pulumi hands structured config over as JSON strings, plain strings as
 * themselves, so a value is JSON-parsed only when it parses.
 */
export function readBlueprintConfig(all: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(all)) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string such as `environment: dev`
    }
    out[key.slice(PROJECT.length + 1)] = value;
  }
  return out;
}
