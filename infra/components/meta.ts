import type { Blueprint, Color } from "../model/index.js";

/** A plain Kubernetes object spec as the build functions return it (no Pulumi Outputs inside). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export const PART_OF = "blueprint";

/** Pinned upstream artifacts; bump deliberately, one at a time. */
export const PINS = {
  gatewayApiCrds:
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.3.0/standard-install.yaml",
  ngfChart: { chart: "oci://ghcr.io/nginx/charts/nginx-gateway-fabric", version: "2.2.0" },
  strimziChart: { chart: "strimzi-kafka-operator", repo: "https://strimzi.io/charts/", version: "0.48.0" },
  psmdbChart: {
    chart: "psmdb-operator",
    repo: "https://percona.github.io/percona-helm-charts/",
    version: "1.21.0",
  },
  psmdbCrVersion: "1.21.0",
  /** Percona Backup for MongoDB, the version the operator 1.21.0 ships in its deploy/cr.yaml. */
  pbmImage: "percona/percona-backup-mongodb:2.11.0",
} as const;

export function commonLabels(app: string, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": app,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": PART_OF,
    "app.kubernetes.io/managed-by": "pulumi",
  };
}

/** Labels that select one color of one service; the Deployment selector and the NetworkPolicies use them. */
export function colorSelector(service: string, color: Color): Record<string, string> {
  return { app: service, color };
}

/** Pod labels of the data stores, as their operators and our StatefulSet set them. */
export const DATA_POD_LABELS = {
  redis: { "app.kubernetes.io/name": "redis" },
  mongo: { "app.kubernetes.io/name": "percona-server-mongodb", "app.kubernetes.io/component": "mongod" },
  // Kafka clusters are named per region (kafkaClusterName), so brokers are selected by kind and role.
  kafka: { "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "true" },
} as const;

export const DATA_PORTS = { redis: 6379, mongo: 27017, kafka: 9092 } as const;
/** Kafka listener used by MirrorMaker 2 in other regions (TLS). */
export const KAFKA_REPLICATION_PORT = 9094;

/** Namespace beside the app namespace for the edge (NGINX Gateway Fabric + Gateway); operators: platform.operatorNamespace. */
export function edgeNamespace(namespace: string): string {
  return `${namespace}-edge`;
}

/**
 * Strimzi Kafka cluster of a region. Named per region so that Services exported across clusters (MCS merges
 * exports of the same name and namespace into one clusterset Service) never mix brokers of two regions.
 */
export function kafkaClusterName(region: string): string {
  return `kafka-${region}`;
}

/** Bootstrap Service Strimzi creates for a region's cluster. */
export function kafkaBootstrapService(region: string): string {
  return `${kafkaClusterName(region)}-kafka-bootstrap`;
}

export function mongoClusterName(region: string): string {
  return `mongo-${region}`;
}

/** In-cluster DNS name of a Service. */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}

/** Multi-cluster Services (MCS API) name of a Service exported from another region's cluster. */
export function clustersetHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.clusterset.local`;
}

/**
 * Resource options of what holds data (the app namespace, whose deletion would delete everything in it, and the
 * MongoDB and Kafka objects with their Secrets): kept on the cluster when the stack is destroyed, and refused
 * deletion while protected (the model's data.retainOnDelete and data.protect per environment).
 */
export function dataTierOptions(bp: Blueprint): { retainOnDelete: boolean; protect: boolean } {
  return { retainOnDelete: bp.data.retainOnDelete, protect: bp.data.protect };
}
