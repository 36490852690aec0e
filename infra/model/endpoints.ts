/**
 * How the pipeline reaches one region's edge directly, bypassing DNS: the stack output `regionEndpoints`, one per
 * region in model order. Written by infra/program.ts, read by scripts/pipeline/cloud-target.ts.
 */
export interface RegionEndpoint {
  region: string;
  /** Gateway address (IP or hostname): `regions[].gatewayAddress`, else the Gateway's status address. */
  address: string;
  publicHost: string;
  previewHost: string;
  scheme: "http" | "https";
}
