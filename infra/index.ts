import { blueprintProgram } from "./program.js";

// The stack's outputs; the Automation API runs the same blueprintProgram as an inline program (scripts/cluster).
const outputs = await blueprintProgram();

export const regions = outputs.regions;
export const regionEndpoints = outputs.regionEndpoints;
export const activeColor = outputs.activeColor;
export const versions = outputs.versions;
export const weights = outputs.weights;
export const dnsRecords = outputs.dnsRecords;
export const credentials = outputs.credentials;
