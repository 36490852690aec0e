import type { Blueprint, Region } from "../model/index.js";

/** One DNS record of the failover scheme, before addresses are known. */
export interface PlannedRecord {
  role: string;
  name: string;
  setIdentifier?: string;
  /** The region whose gateway address is the record's value. */
  region?: string;
  /** Route53 alias target (a record set of the same zone) instead of a value. */
  aliasTo?: string;
  failover?: "PRIMARY" | "SECONDARY";
  latencyRegion?: string;
  weight?: number;
  /** The region whose health check gates this record. */
  healthCheck?: string;
}

/** Name of the record set that holds the non-primary regions when there are more than two. */
export function secondaryName(bp: Blueprint): string {
  return `secondary.${bp.edge.hostname}`;
}

/**
 * Route53 records. failover: PRIMARY = the primary region; SECONDARY = the other region, or with more than two
 * regions an alias to `secondary.<hostname>`, a latency (cloudRegion set) or equal-weight set of the others,
 * each health-checked. latency: one latency record per region. The preview host is a CNAME of the hostname.
 */
export function planRoute53(bp: Blueprint): PlannedRecord[] {
  const host = bp.edge.hostname;
  const others = bp.regions.filter((r) => !r.primary);
  const regional = (r: Region, name: string, extra: Partial<PlannedRecord>): PlannedRecord => ({
    role: `${r.name}`,
    name,
    setIdentifier: r.name,
    region: r.name,
    healthCheck: r.name,
    ...extra,
  });
  const out: PlannedRecord[] = [];
  if (bp.dns.policy === "latency") {
    out.push(...bp.regions.map((r) => regional(r, host, { latencyRegion: r.cloudRegion! })));
  } else {
    out.push(regional(bp.primaryRegion, host, { failover: "PRIMARY" }));
    if (others.length === 1) out.push(regional(others[0]!, host, { failover: "SECONDARY" }));
    if (others.length > 1) {
      const name = secondaryName(bp);
      out.push({
        role: "secondary",
        name: host,
        setIdentifier: "secondary",
        aliasTo: name,
        failover: "SECONDARY",
      });
      const latency = others.every((r) => r.cloudRegion);
      out.push(
        ...others.map((r) =>
          regional(r, name, {
            role: `secondary-${r.name}`,
            ...(latency ? { latencyRegion: r.cloudRegion! } : { weight: 1 }),
          }),
        ),
      );
    }
  }
  out.push({ role: "preview", name: bp.edge.previewHostname });
  return out;
}

/** Cloudflare pool order: the primary first, then the others in config order; the last one is the fallback. */
export function poolOrder(bp: Blueprint): Region[] {
  return [bp.primaryRegion, ...bp.regions.filter((r) => !r.primary)];
}

export function isIpv4(address: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(address);
}
