import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { Blueprint } from "../model/index.js";
import { poolOrder } from "./dns-plan.js";
import type { DnsArgs } from "./route53-failover.js";

/** Monitor arguments without the account (pure): the health path through the gateway, Host = the hostname. */
export function monitorArgs(bp: Blueprint): Omit<cloudflare.LoadBalancerMonitorArgs, "accountId"> {
  const hc = bp.dns.healthCheck;
  return {
    type: hc.protocol,
    method: "GET",
    path: hc.path,
    port: hc.protocol === "https" ? 443 : 80,
    interval: hc.intervalSeconds,
    // No in-probe retries: an origin goes down after exactly `failureThreshold` failed probes in a row.
    retries: 0,
    consecutiveDown: hc.failureThreshold,
    consecutiveUp: 2,
    timeout: Math.min(5, hc.intervalSeconds - 1),
    expectedCodes: "200",
    header: { Host: [bp.edge.hostname] },
    description: `${bp.stack} ${hc.path}`,
  };
}

/** Cloudflare load balancer: one pool per region, default pools in failover order, the last as fallback. */
export class CloudflareLoadBalancer extends pulumi.ComponentResource {
  readonly recordNames: string[];

  constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("blueprint:dns:CloudflareLoadBalancer", name, {}, opts);
    const { blueprint: bp } = args;
    const child = { parent: this };
    const zone = cloudflare.getZoneOutput(
      bp.dns.zoneId ? { zoneId: bp.dns.zoneId } : { filter: { name: bp.dns.zone } },
      child,
    );
    const accountId = zone.account.apply((a) => a.id!);
    const monitor = new cloudflare.LoadBalancerMonitor(
      `${name}-monitor`,
      { accountId, ...monitorArgs(bp) },
      child,
    );
    const pools = poolOrder(bp).map(
      (region) =>
        new cloudflare.LoadBalancerPool(
          `${name}-pool-${region.name}`,
          {
            accountId,
            name: `${bp.stack}-${region.name}`,
            monitor: monitor.id,
            minimumOrigins: 1,
            origins: [
              {
                name: region.name,
                address: args.addresses[region.name]!,
                enabled: true,
                header: { hosts: [bp.edge.hostname] },
              },
            ],
          },
          child,
        ),
    );
    const ids = pools.map((p) => p.id);
    new cloudflare.LoadBalancer(
      `${name}-lb`,
      {
        zoneId: zone.id,
        name: bp.edge.hostname,
        defaultPools: ids,
        fallbackPool: ids[ids.length - 1]!,
        // DNS-only, so clients follow the record TTL from the model and RTO is interval × threshold + TTL.
        proxied: false,
        ttl: bp.dns.ttlSeconds,
        steeringPolicy: bp.dns.policy === "latency" ? "dynamic_latency" : "off",
      },
      child,
    );
    new cloudflare.DnsRecord(
      `${name}-preview`,
      {
        zoneId: zone.id,
        name: bp.edge.previewHostname,
        type: "CNAME",
        content: bp.edge.hostname,
        ttl: bp.dns.ttlSeconds,
        proxied: false,
      },
      child,
    );
    this.recordNames = [bp.edge.hostname, bp.edge.previewHostname];
    this.registerOutputs({ recordNames: this.recordNames });
  }
}
