import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CloudflareLoadBalancer } from "./components/cloudflare-load-balancer.js";
import { createClusterProvider } from "./components/cluster-provider.js";
import { MONGO_SYSTEM_USERS, type MongoPasswords } from "./components/mongo-replica-set.js";
import { RegionStack } from "./components/region-stack.js";
import { Route53Failover } from "./components/route53-failover.js";
import { deployedColors, type Blueprint, type RegionEndpoint } from "./model/index.js";

export interface RegionOutputs {
  gatewayAddress: pulumi.Output<string>;
  liveUrl: string;
  previewUrl: string | undefined;
}

export interface BlueprintOutputs {
  regions: Record<string, RegionOutputs>;
  /** One per region, in model order. */
  regionEndpoints: pulumi.Output<RegionEndpoint[]>;
  activeColor: string;
  versions: Partial<Record<string, string>>;
  weights: Record<string, number>;
  dnsRecords: string[];
  /** Generated credentials; secret, never plaintext in the stack state's outputs. */
  credentials: pulumi.Output<{ mongo: Record<string, string>; redis: Record<string, string> }>;
}

/** Passwords of the replica set's users: one set per stack, because every region's members share them. */
function mongoPasswords(): MongoPasswords {
  const names = [...MONGO_SYSTEM_USERS, "APP"] as const;
  return Object.fromEntries(
    names.map((n) => [
      n,
      new random.RandomPassword(`mongo-${n.toLowerCase().replaceAll("_", "-")}-password`, {
        length: 32,
        special: false,
      }).result,
    ]),
  ) as MongoPasswords;
}

/** The whole program for a validated blueprint; `infra/index.ts` calls it, tests call it under the mock engine. */
export function createBlueprint(bp: Blueprint): BlueprintOutputs {
  if (bp.environment === "local") {
    throw new Error(
      'the "local" environment runs as processes on loopback — use `npm run local`, not `pulumi up`',
    );
  }
  const passwords = mongoPasswords();
  const regions: Record<string, RegionOutputs> = {};
  const addresses: Record<string, pulumi.Output<string>> = {};
  const redis: Record<string, pulumi.Output<string>> = {};
  const scheme: RegionEndpoint["scheme"] = bp.edge.tls.enabled ? "https" : "http";
  for (const region of bp.regions) {
    if (bp.regions.length > 1 && !region.podCidr) {
      pulumi.log.warn(
        `regions[${region.index}].podCidr is not set: other regions cannot replicate from "${region.name}" through its NetworkPolicies`,
      );
    }
    const provider = createClusterProvider(region);
    const stack = new RegionStack(region.name, {
      blueprint: bp,
      region,
      provider,
      mongoPasswords: passwords,
    });
    addresses[region.name] = stack.gatewayAddress;
    redis[region.name] = stack.redisPassword;
    regions[region.name] = {
      gatewayAddress: stack.gatewayAddress,
      liveUrl: `${scheme}://${bp.edge.hostname}`,
      previewUrl: bp.rollout.versions[bp.rollout.idleColor]
        ? `${scheme}://${bp.edge.previewHostname}`
        : undefined,
    };
  }
  const dnsArgs = { blueprint: bp, addresses };
  const dns =
    bp.dns.provider === "cloudflare"
      ? new CloudflareLoadBalancer("dns", dnsArgs)
      : new Route53Failover("dns", dnsArgs);
  const regionEndpoints = pulumi.all(
    bp.regions.map((region) =>
      addresses[region.name]!.apply((address): RegionEndpoint => ({
        region: region.name,
        address,
        publicHost: bp.edge.hostname,
        previewHost: bp.edge.previewHostname,
        scheme,
      })),
    ),
  );
  return {
    regions,
    regionEndpoints,
    activeColor: bp.rollout.activeColor,
    versions: Object.fromEntries(deployedColors(bp).map((c) => [c, bp.rollout.versions[c]!])),
    weights: bp.rollout.weights,
    dnsRecords: dns.recordNames,
    credentials: pulumi.secret(
      pulumi.all({
        mongo: pulumi.all(passwords as Record<string, pulumi.Output<string>>),
        redis: pulumi.all(redis),
      }),
    ) as unknown as BlueprintOutputs["credentials"],
  };
}
