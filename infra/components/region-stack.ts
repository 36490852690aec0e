import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Blueprint, Region } from "../model/index.js";
import { deployedColors } from "../model/index.js";
import { Edge } from "./edge.js";
import { KafkaCluster } from "./kafka-cluster.js";
import { createObject } from "./k8s-object.js";
import { commonLabels, dataTierOptions, edgeNamespace, type K8sObject } from "./meta.js";
import { MONGO_TLS_SECRETS, MongoReplicaSet, type MongoPasswords } from "./mongo-replica-set.js";
import { buildDashboardConfigMaps } from "./dashboards.js";
import { buildMonitoring } from "./monitoring.js";
import { buildNetworkPolicies } from "./network-policies.js";
import { RedisCache } from "./redis-cache.js";
import {
  buildReplicatedSecret,
  replicatedSecretResourceName,
  type SourceSecret,
} from "./replicated-secrets.js";
import { ServiceColor } from "./service-color.js";
import { buildRolloutConfigMap } from "./workload.js";

/** The app namespace, the edge namespace and, when this stack installs the operators, their namespace. */
export function buildNamespaces(bp: Blueprint): K8sObject[] {
  // Our pods meet "restricted"; operator-made pods are only guaranteed "baseline", so that is what is enforced.
  const enforce = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
  };
  return [
    { name: bp.namespace, extra: enforce },
    { name: edgeNamespace(bp.namespace), extra: {} },
    ...(bp.platform.operators === "stack" ? [{ name: bp.platform.operatorNamespace, extra: {} }] : []),
  ].map(({ name, extra }) => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { ...commonLabels(bp.namespace, "namespace"), ...extra } },
  }));
}

export interface RegionStackArgs {
  blueprint: Blueprint;
  region: Region;
  provider: k8s.Provider;
  mongoPasswords: MongoPasswords;
  redisPassword: pulumi.Input<string>;
  /** The primary's Secrets this (non-primary) region needs, as read on this run (readReplicatedSecrets). */
  replicatedSecrets: SourceSecret[];
}

/** Everything one region runs: namespaces, NetworkPolicies, data tier, edge and both release colors. */
export class RegionStack extends pulumi.ComponentResource {
  readonly gatewayAddress: pulumi.Output<string>;
  readonly redisPassword: pulumi.Output<string>;

  constructor(name: string, args: RegionStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("blueprint:region:RegionStack", name, {}, opts);
    const { blueprint: bp, region, provider } = args;
    const child = { parent: this, provider };
    // Deleting the app namespace would delete the data tier in it, so it is kept and protected as that is.
    const [appNs, edgeNs, opsNs] = buildNamespaces(bp).map((obj, i) =>
      createObject(`${name}-${["namespace", "edge-namespace", "operators-namespace"][i]}`, obj, {
        ...child,
        ...(i === 0 ? dataTierOptions(bp) : {}),
      }),
    );
    const copies = args.replicatedSecrets.map((source) =>
      createObject(replicatedSecretResourceName(name, source.name), buildReplicatedSecret(bp, source), {
        ...child,
        // Not retained: a rotation replaces the Secret (the provider replaces one whose data changes), which a kept
        // old copy would block. The next `up` makes the copies again.
        dependsOn: [appNs!],
      }),
    );
    // The replica site's operator and MirrorMaker find the primary's CA and TLS Secrets before they start.
    const base = [...(opsNs ? [appNs!, opsNs] : [appNs!]), ...copies];
    for (const obj of buildNetworkPolicies(bp, region)) {
      createObject(`${name}-netpol-${obj.metadata.name}`, obj, { ...child, dependsOn: [appNs!] });
    }
    for (const obj of [...buildMonitoring(bp, region), ...buildDashboardConfigMaps(bp)]) {
      createObject(`${name}-${obj.kind.toLowerCase()}-${obj.metadata.name}`, obj, {
        ...child,
        dependsOn: [appNs!],
      });
    }
    const redis = new RedisCache(
      `${name}-redis`,
      { blueprint: bp, provider, password: args.redisPassword },
      { parent: this, dependsOn: [appNs!] },
    );
    const copied = new Set(args.replicatedSecrets.map((s) => s.name));
    const mongoTls =
      region.name === bp.primaryRegion.name ||
      bp.regions.length === 1 ||
      (copied.has(MONGO_TLS_SECRETS.ssl) && copied.has(MONGO_TLS_SECRETS.sslInternal));
    const mongo = new MongoReplicaSet(
      `${name}-mongo`,
      {
        blueprint: bp,
        region,
        provider,
        passwords: args.mongoPasswords,
        dependsOn: base,
        createCluster: mongoTls,
      },
      { parent: this },
    );
    const kafka = new KafkaCluster(
      `${name}-kafka`,
      { blueprint: bp, region, provider, dependsOn: base },
      { parent: this },
    );
    const edge = new Edge(
      `${name}-edge`,
      {
        blueprint: bp,
        provider,
        dependsOn: [edgeNs!, appNs!],
        ...(region.gatewayAddress ? { address: region.gatewayAddress } : {}),
      },
      { parent: this },
    );
    const rollout = createObject(`${name}-rollout-configmap`, buildRolloutConfigMap(bp), {
      ...child,
      dependsOn: [appNs!],
    });
    for (const color of deployedColors(bp)) {
      for (const service of bp.services) {
        new ServiceColor(
          `${name}-${service.name}-${color}`,
          {
            blueprint: bp,
            region,
            service,
            color,
            provider,
            dependsOn: [appNs!, rollout, redis, mongo, kafka],
          },
          { parent: this },
        );
      }
    }
    this.gatewayAddress = edge.address;
    this.redisPassword = redis.password;
    this.registerOutputs({ gatewayAddress: this.gatewayAddress, redisPassword: this.redisPassword });
  }
}
