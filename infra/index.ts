import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "./config/stack-file.js";
import { BlueprintConfigError, parseBlueprint } from "./model/index.js";
import { createBlueprint } from "./program.js";

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

function load() {
  try {
    return parseBlueprint(readBlueprintConfig(pulumi.runtime.allConfig()), pulumi.getStack());
  } catch (error) {
    // Shown without a stack trace: the message names every key and its fix.
    if (error instanceof BlueprintConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}

const outputs = createBlueprint(load());

export const regions = outputs.regions;
export const activeColor = outputs.activeColor;
export const versions = outputs.versions;
export const weights = outputs.weights;
export const dnsRecords = outputs.dnsRecords;
export const credentials = outputs.credentials;
