import * as pulumi from "@pulumi/pulumi";
import { CloudflareLoadBalancer } from "./components/cloudflare-load-balancer.js";
import { createClusterProvider } from "./components/cluster-provider.js";
import { readReplicatedSecrets } from "./components/cluster-read.js";
import type { MongoPasswords } from "./components/mongo-replica-set.js";
import { RegionStack } from "./components/region-stack.js";
import { replicatedSecretNames, type ReplicatedSecrets } from "./components/replicated-secrets.js";
import { Route53Failover } from "./components/route53-failover.js";
import { readBlueprintConfig } from "./config-read.js";
import {
  BlueprintConfigError,
  CREDENTIAL_CONFIG_KEYS,
  CREDENTIAL_KEYS,
  deployedColors,
  parseBlueprint,
  rolloutGuard,
  type Blueprint,
  type LiveRollout,
  type RegionEndpoint,
} from "./model/index.js";

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
  /** Per color and service, the image digest it runs (empty when deployed by tag): the next promotion keeps them. */
  digests: Partial<Record<string, Record<string, string>>>;
  dnsRecords: string[];
  /** Generated credentials; secret, never plaintext in the stack state's outputs. */
  credentials: pulumi.Output<{ mongo: Record<string, string>; redis: Record<string, string> }>;
}

/** The stack's credentials from its `secrets:` config (see CREDENTIAL_KEYS); checked present by loadStack. */
function credentials(): { mongo: MongoPasswords; redis: pulumi.Output<string> } {
  const secrets = new pulumi.Config("secrets");
  const mongo = Object.fromEntries(
    Object.entries(CREDENTIAL_KEYS.mongo).map(([user, key]) => [user, secrets.requireSecret(key)]),
  ) as MongoPasswords;
  return { mongo, redis: secrets.requireSecret(CREDENTIAL_KEYS.redis) };
}

/**
 * The stack's validated blueprint, from its config (`rollout` replaces blueprint:rollout when given). Bad config and
 * missing credentials fail here, before any resource, as a RunError (shown without a stack trace) naming every key
 * and its fix.
 */
export function loadStack(rollout?: LiveRollout): Blueprint {
  const all = pulumi.runtime.allConfig();
  try {
    const config = readBlueprintConfig(all);
    // The deployed rollout replaces what decides traffic; the rest (rollbackWindowSeconds) stays the checkout's.
    if (rollout) config.rollout = { ...(config.rollout as object), ...rollout, weights: rollout.weights };
    const bp = parseBlueprint(config, pulumi.getStack());
    const missing = CREDENTIAL_CONFIG_KEYS.filter((key) => !all[key]);
    if (bp.environment !== "local" && missing.length > 0)
      throw new pulumi.RunError(
        `stack "${bp.stack}" lacks its credentials (${missing.join(", ")}) — run \`npm run stack:secrets -- --stack ${bp.stack}\`, which generates each missing one as secret config`,
      );
    return bp;
  } catch (error) {
    if (error instanceof BlueprintConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}

/**
 * The rollout this stack last deployed, from its own outputs (a StackReference to itself; the state is the only
 * truth CI keeps): undefined before the first `up`.
 */
export async function deployedRollout(): Promise<LiveRollout | undefined> {
  const self = new pulumi.StackReference("deployed-rollout", {
    name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
  });
  // No catch: a reference that cannot be read must stop the update, not switch the guard off.
  const [active, versions, weights, digests] = await Promise.all(
    ["activeColor", "versions", "weights", "digests"].map((k) => self.getOutputDetails(k)),
  );
  if (!active?.value || !versions?.value) return undefined;
  return {
    activeColor: active.value as LiveRollout["activeColor"],
    versions: versions.value as LiveRollout["versions"],
    ...(weights?.value ? { weights: weights.value as NonNullable<LiveRollout["weights"]> } : {}),
    ...(digests?.value ? { digests: digests.value as NonNullable<LiveRollout["digests"]> } : {}),
  };
}

/**
 * The Pulumi program: `infra/index.ts` exports its result; the Automation API runs it as an inline program. Before
 * any resource, it refuses an update that would silently change the deployed rollout (rolloutGuard).
 */
export async function blueprintProgram(): Promise<BlueprintOutputs> {
  const bp = loadStack();
  const deployed = await deployedRollout();
  const refusal = rolloutGuard(bp.stack, bp.rollout, deployed, bp.rolloutFrom);
  if (refusal && !(pulumi.runtime.isDryRun() && deployed)) throw new pulumi.RunError(refusal);
  const replicated = await readReplicatedSecrets(bp);
  if (replicated.missing.length > 0)
    pulumi.log.warn(
      `the primary region "${bp.primaryRegion.name}" has no ${replicated.missing.join(", ")} yet (its operators make them once their clusters exist): the other regions get no copy this run — run \`pulumi up\` again once they exist`,
    );
  if (!refusal) return createBlueprint(bp, replicated);
  // A PR's plan (`pulumi preview` in its checkout, whose stack file is stale by design) shows what the PR changes,
  // against what runs; only an update is refused.
  pulumi.log.warn(`${refusal} — this preview plans with the deployed rollout instead`);
  return createBlueprint(loadStack(deployed), replicated);
}

/** Placeholder sources (the mock engine's render): every replicated Secret, as if the primary had made it. */
export function placeholderSecrets(bp: Blueprint): ReplicatedSecrets {
  const data = { "ca.crt": Buffer.from("placeholder").toString("base64") };
  return {
    sources: replicatedSecretNames(bp).map((name) => ({ name, type: "Opaque", data, resourceVersion: "0" })),
    missing: [],
  };
}

/** The whole program for a validated blueprint; `infra/index.ts` calls it, tests call it under the mock engine. */
export function createBlueprint(
  bp: Blueprint,
  replicated: ReplicatedSecrets = placeholderSecrets(bp),
): BlueprintOutputs {
  if (bp.environment === "local") {
    throw new Error(
      'the "local" environment runs as processes on loopback — use `npm run local`, not `pulumi up`',
    );
  }
  const creds = credentials();
  const regions: Record<string, RegionOutputs> = {};
  const addresses: Record<string, pulumi.Output<string>> = {};
  const redis: Record<string, pulumi.Output<string>> = {};
  const scheme: RegionEndpoint["scheme"] = bp.edge.tls.enabled ? "https" : "http";
  for (const region of bp.regions) {
    if (bp.regions.length > 1 && !region.podCidr && !region.replicationCidrs) {
      pulumi.log.warn(
        `regions[${region.index}] has neither podCidr nor replicationCidrs: other regions cannot replicate from "${region.name}" through its NetworkPolicies`,
      );
    }
    const provider = createClusterProvider(region);
    const stack = new RegionStack(region.name, {
      blueprint: bp,
      region,
      provider,
      mongoPasswords: creds.mongo,
      redisPassword: creds.redis,
      replicatedSecrets: region.name === bp.primaryRegion.name ? [] : replicated.sources,
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
  // external: the records are made outside the stack, from the regionEndpoints output.
  const dns =
    bp.dns.provider === "cloudflare"
      ? new CloudflareLoadBalancer("dns", dnsArgs)
      : bp.dns.provider === "route53"
        ? new Route53Failover("dns", dnsArgs)
        : undefined;
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
    digests: bp.rollout.digests,
    dnsRecords: dns?.recordNames ?? [],
    credentials: pulumi.secret(
      pulumi.all({
        mongo: pulumi.all(creds.mongo as Record<string, pulumi.Output<string>>),
        redis: pulumi.all(redis),
      }),
    ) as unknown as BlueprintOutputs["credentials"],
  };
}
