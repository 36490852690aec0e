import * as pulumi from "@pulumi/pulumi";
import { readBlueprintConfig } from "./config-read.js";
import { BlueprintConfigError, parseBlueprint } from "./model/index.js";
import { createBlueprint } from "./program.js";

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
export const regionEndpoints = outputs.regionEndpoints;
export const activeColor = outputs.activeColor;
export const versions = outputs.versions;
export const weights = outputs.weights;
export const dnsRecords = outputs.dnsRecords;
export const credentials = outputs.credentials;
