import type { Blueprint } from "../model/index.js";
import { commonLabels, kafkaClusterName, type K8sObject } from "./meta.js";
import { MONGO_TLS_SECRETS } from "./mongo-replica-set.js";

/**
 * Secrets an operator makes in the primary region that the other regions need unchanged: Percona's TLS Secrets (one
 * replica set, one CA) and Strimzi's cluster CA of the primary's Kafka (MirrorMaker trusts it). The operators renew
 * them (Strimzi's CA ahead of its expiry, keeping the old certificate alongside during renewal; Percona's
 * certificates every 90 days by default), so the program reads them from the primary on **every** run and writes
 * what it read: any `pulumi up` (each promotion, and the scheduled `npm run stack:sync-secrets`) brings every copy
 * up to date, and the plan shows a change whenever the source has rotated.
 */
export function replicatedSecretNames(bp: Blueprint): string[] {
  if (bp.regions.length < 2) return [];
  return [
    MONGO_TLS_SECRETS.ssl,
    MONGO_TLS_SECRETS.sslInternal,
    ...(bp.data.kafka.mirrorFromPrimary
      ? [`${kafkaClusterName(bp.primaryRegion.name)}-cluster-ca-cert`]
      : []),
  ];
}

/** A Secret as read from the primary region's API server. */
export interface SourceSecret {
  name: string;
  type: string;
  data: Record<string, string>;
  resourceVersion: string;
}

/** What the primary region holds of replicatedSecretNames: the Secrets read, and the names not made yet. */
export interface ReplicatedSecrets {
  sources: SourceSecret[];
  missing: string[];
}

export const COPIED_FROM = "blueprint.io/copied-from";

/** The copy in another region: the source's type and data, and where and from which version it came. */
export function buildReplicatedSecret(bp: Blueprint, source: SourceSecret): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: source.name,
      namespace: bp.namespace,
      labels: commonLabels("replicated-secret", "trust"),
      annotations: { [COPIED_FROM]: `${bp.primaryRegion.name}/${source.resourceVersion}` },
    },
    type: source.type,
    data: source.data,
  };
}

/** The resource name of a copy; RegionStack (named after its region) makes it. */
export function replicatedSecretResourceName(region: string, secret: string): string {
  return `${region}-replicated-${secret}`;
}

/** The URNs of every copy (each non-primary region × replicatedSecretNames), for a targeted `pulumi up`. */
export function replicatedSecretUrns(bp: Blueprint, project: string): string[] {
  return bp.regions
    .filter((r) => r.name !== bp.primaryRegion.name)
    .flatMap((r) =>
      replicatedSecretNames(bp).map(
        (secret) =>
          `urn:pulumi:${bp.stack}::${project}::blueprint:region:RegionStack$kubernetes:core/v1:Secret::${replicatedSecretResourceName(r.name, secret)}`,
      ),
    );
}
