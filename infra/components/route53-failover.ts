import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Blueprint } from "../model/index.js";
import { isIpv4, planRoute53 } from "./dns-plan.js";

export interface DnsArgs {
  blueprint: Blueprint;
  /** Gateway address (IPv4 or hostname) per region name. */
  addresses: Record<string, pulumi.Input<string>>;
}

export interface HealthCheckSpec {
  type: "HTTP" | "HTTPS";
  port: number;
  resourcePath: string;
  requestInterval: number;
  failureThreshold: number;
  ipAddress?: string;
  fqdn: string;
  enableSni?: boolean;
}

/** Route53 health check arguments for one region's gateway (pure, for tests and the policy pack). */
export function healthCheckArgs(bp: Blueprint, address: string): HealthCheckSpec {
  const https = bp.dns.healthCheck.protocol === "https";
  const ip = isIpv4(address);
  return {
    type: https ? "HTTPS" : "HTTP",
    port: https ? 443 : 80,
    resourcePath: bp.dns.healthCheck.path,
    requestInterval: bp.dns.healthCheck.intervalSeconds,
    failureThreshold: bp.dns.healthCheck.failureThreshold,
    // Probing an IP, the hostname still goes out as Host header and SNI.
    ...(ip ? { ipAddress: address, fqdn: bp.edge.hostname } : { fqdn: address }),
    ...(https ? { enableSni: true } : {}),
  };
}

/** Route53 failover (or latency) records and one health check per region, as planned by `planRoute53`. */
export class Route53Failover extends pulumi.ComponentResource {
  readonly recordNames: string[];
  readonly healthCheckIds: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("blueprint:dns:Route53Failover", name, {}, opts);
    const { blueprint: bp } = args;
    const child = { parent: this };
    const zoneId = bp.dns.zoneId ?? aws.route53.getZoneOutput({ name: bp.dns.zone }, child).zoneId;
    for (const region of bp.regions) {
      const spec = pulumi.output(args.addresses[region.name]!).apply((a) => healthCheckArgs(bp, a));
      const check = new aws.route53.HealthCheck(
        `${name}-health-${region.name}`,
        {
          type: spec.type,
          port: spec.port,
          resourcePath: spec.resourcePath,
          requestInterval: spec.requestInterval,
          failureThreshold: spec.failureThreshold,
          ipAddress: spec.ipAddress,
          fqdn: spec.fqdn,
          enableSni: spec.enableSni,
          tags: { Name: `${bp.stack}-${region.name}`, stack: bp.stack },
        },
        child,
      );
      this.healthCheckIds[region.name] = check.id;
    }
    const typeOf = (a: pulumi.Input<string>) => pulumi.output(a).apply((v) => (isIpv4(v) ? "A" : "CNAME"));
    const plan = planRoute53(bp);
    for (const rec of plan) {
      const common = {
        zoneId,
        name: rec.name,
        ...(rec.setIdentifier ? { setIdentifier: rec.setIdentifier } : {}),
        ...(rec.failover ? { failoverRoutingPolicies: [{ type: rec.failover }] } : {}),
        ...(rec.latencyRegion ? { latencyRoutingPolicies: [{ region: rec.latencyRegion }] } : {}),
        ...(rec.weight ? { weightedRoutingPolicies: [{ weight: rec.weight }] } : {}),
        ...(rec.healthCheck ? { healthCheckId: this.healthCheckIds[rec.healthCheck]! } : {}),
      };
      let args2: aws.route53.RecordArgs;
      if (rec.region) {
        const address = args.addresses[rec.region]!;
        args2 = { ...common, type: typeOf(address), ttl: bp.dns.ttlSeconds, records: [address] };
      } else if (rec.aliasTo) {
        // An alias must have the type of its target set: A when every other region has an IPv4 address.
        const others = bp.regions.filter((r) => !r.primary).map((r) => args.addresses[r.name]!);
        const type = pulumi.all(others).apply((as) => (as.every(isIpv4) ? "A" : "CNAME"));
        args2 = { ...common, type, aliases: [{ name: rec.aliasTo, zoneId, evaluateTargetHealth: true }] };
      } else {
        args2 = { ...common, type: "CNAME", ttl: bp.dns.ttlSeconds, records: [bp.edge.hostname] };
      }
      new aws.route53.Record(`${name}-record-${rec.role}`, args2, child);
    }
    this.recordNames = [...new Set(plan.map((r) => r.name))];
    this.registerOutputs({ recordNames: this.recordNames, healthCheckIds: this.healthCheckIds });
  }
}
