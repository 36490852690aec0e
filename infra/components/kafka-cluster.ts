import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  mirrorCheckpointConfig,
  mirrorPlan,
  mirrorSourceConfig,
  mirrorWorkerConfig,
  type Blueprint,
  type MirrorPlan,
  type Region,
} from "../model/index.js";
import { createObject, operatorDependency } from "./k8s-object.js";
import {
  DATA_PORTS,
  KAFKA_REPLICATION_PORT,
  PINS,
  clustersetHost,
  commonLabels,
  dataTierOptions,
  kafkaBootstrapService,
  kafkaClusterName,
  type K8sObject,
} from "./meta.js";

const POOL = "pool";
const STRIMZI_API = "kafka.strimzi.io/v1beta2";

/**
 * The dead-letter topic of a topic, as the service kit's consumers name it (its deadLetterTopicOf; the services do
 * not import infra, so components.test.ts checks the two agree).
 */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** Helm values of the Strimzi operator: it watches only this stack's app namespace. */
export function strimziValues(bp: Blueprint): Record<string, unknown> {
  return { watchNamespaces: [bp.namespace], watchAnyNamespace: false, replicas: 1 };
}

/**
 * Hostname a broker of `region` advertises on the replication listener, for other regions: the MCS spec's name of
 * a pod behind an exported headless Service, `<hostname>.<clusterId>.<service>.<ns>.svc.clusterset.local`.
 */
export function replicationHost(bp: Blueprint, region: Region, brokerId: number): string {
  const cluster = kafkaClusterName(region.name);
  const clusterId = region.clusterId ?? region.name;
  return clustersetHost(`${cluster}-${POOL}-${brokerId}.${clusterId}.${cluster}-kafka-brokers`, bp.namespace);
}

/** Kafka in KRaft mode: one node pool with combined controller+broker roles, topics, and MirrorMaker 2. */
export function buildKafka(bp: Blueprint, region: Region): K8sObject[] {
  const ns = bp.namespace;
  const k = bp.data.kafka;
  const cluster = kafkaClusterName(region.name);
  const labels = { ...commonLabels("kafka", "broker"), "strimzi.io/cluster": cluster };
  const rf = Math.min(3, k.brokersPerRegion);
  const minIsr = Math.max(1, Math.min(2, rf - 1));
  const brokerIds = Array.from({ length: k.brokersPerRegion }, (_, i) => i);
  // The other regions' MirrorMakers pull from this one: it needs the replication listener.
  const mirroredFrom = bp.regions.some((r) => mirrorPlan(bp, r)?.source === region.name);
  const nodePool: K8sObject = {
    apiVersion: STRIMZI_API,
    kind: "KafkaNodePool",
    metadata: { name: POOL, namespace: ns, labels },
    spec: {
      replicas: k.brokersPerRegion,
      roles: ["controller", "broker"],
      storage: {
        type: "jbod",
        volumes: [
          {
            id: 0,
            type: "persistent-claim",
            size: `${k.storageGb}Gi`,
            deleteClaim: false,
            kraftMetadata: "shared",
          },
        ],
      },
      resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { cpu: "2", memory: "2Gi" } },
    },
  };
  const listeners: Record<string, unknown>[] = [
    { name: "plain", port: DATA_PORTS.kafka, type: "internal", tls: false },
  ];
  if (mirroredFrom) {
    listeners.push({
      name: "repl",
      port: KAFKA_REPLICATION_PORT,
      type: "internal",
      tls: true,
      configuration: {
        // MirrorMaker 2 in the other regions bootstraps from the clusterset name: it must be in the certificate.
        bootstrap: { alternativeNames: [clustersetHost(kafkaBootstrapService(region.name), bp.namespace)] },
        brokers: brokerIds.map((broker) => ({ broker, advertisedHost: replicationHost(bp, region, broker) })),
      },
    });
  }
  const kafka: K8sObject = {
    apiVersion: STRIMZI_API,
    kind: "Kafka",
    metadata: {
      name: cluster,
      namespace: ns,
      labels: commonLabels("kafka", "broker"),
      annotations: { "strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled" },
    },
    spec: {
      kafka: {
        version: k.version,
        listeners,
        config: {
          "offsets.topic.replication.factor": rf,
          "transaction.state.log.replication.factor": rf,
          "transaction.state.log.min.isr": minIsr,
          "default.replication.factor": rf,
          "min.insync.replicas": minIsr,
        },
      },
      entityOperator: { topicOperator: {}, userOperator: {} },
    },
  };
  // Each topic's dead-letter topic (`<topic>.dlq`, the service kit's consumers' default): one partition, kept
  // regional (MirrorMaker copies only the topics themselves); without it a poison message would block its partition.
  const topics: K8sObject[] = bp.data.kafka.topics
    .flatMap((t) => [t, { ...t, name: deadLetterTopic(t.name), partitions: 1 }])
    .map((t) => ({
      apiVersion: STRIMZI_API,
      kind: "KafkaTopic",
      metadata: { name: t.name.replaceAll("_", "-"), namespace: ns, labels },
      spec: {
        topicName: t.name,
        partitions: t.partitions,
        replicas: t.replicationFactor,
        config: { "min.insync.replicas": Math.max(1, Math.min(2, t.replicationFactor! - 1)) },
      },
    }));
  const out = [nodePool, kafka, ...topics];
  const plan = mirrorPlan(bp, region);
  if (plan) out.push(buildMirrorMaker(bp, plan));
  return out;
}

/** MirrorMaker 2 in a non-primary region, as the plan says: pulls the primary's topics under their own names. */
export function buildMirrorMaker(bp: Blueprint, plan: MirrorPlan): K8sObject {
  const { source, target } = plan;
  const rf = Math.min(3, bp.data.kafka.brokersPerRegion);
  const sourceCluster = kafkaClusterName(source);
  return {
    apiVersion: STRIMZI_API,
    kind: "KafkaMirrorMaker2",
    metadata: {
      name: `mirror-from-${source}`,
      namespace: bp.namespace,
      labels: commonLabels("mirrormaker", "replication"),
    },
    spec: {
      version: bp.data.kafka.version,
      replicas: 1,
      connectCluster: target,
      clusters: [
        {
          alias: source,
          bootstrapServers: `${clustersetHost(kafkaBootstrapService(source), bp.namespace)}:${KAFKA_REPLICATION_PORT}`,
          tls: {
            trustedCertificates: [
              // Strimzi's CA Secret of the primary, copied once into this region under its own name.
              { secretName: `${sourceCluster}-cluster-ca-cert`, pattern: "*.crt" },
            ],
          },
        },
        {
          alias: target,
          bootstrapServers: `${kafkaBootstrapService(target)}:${DATA_PORTS.kafka}`,
          config: mirrorWorkerConfig(plan, rf),
        },
      ],
      mirrors: [
        {
          sourceCluster: source,
          targetCluster: target,
          topicsPattern: plan.topicsPattern,
          groupsPattern: plan.groupsPattern,
          sourceConnector: { tasksMax: plan.sourceTasksMax, config: mirrorSourceConfig(plan, rf) },
          checkpointConnector: {
            tasksMax: plan.checkpointTasksMax,
            config: mirrorCheckpointConfig(plan, rf),
          },
        },
      ],
      resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } },
    },
  };
}

export interface KafkaClusterArgs {
  blueprint: Blueprint;
  region: Region;
  provider: k8s.Provider;
  /** Resources the operator needs first (its namespace, the app namespace). */
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Strimzi operator (pinned chart) and the region's Kafka cluster, topics and MirrorMaker 2. */
export class KafkaCluster extends pulumi.ComponentResource {
  readonly bootstrap: string;

  constructor(name: string, args: KafkaClusterArgs, opts: pulumi.ComponentResourceOptions) {
    super("blueprint:data:KafkaCluster", name, {}, opts);
    const { blueprint: bp, provider } = args;
    const operator = operatorDependency(bp, `${name}-operator`, PINS.strimziChart, strimziValues(bp), {
      parent: this,
      provider,
      dependsOn: args.dependsOn,
    });
    for (const obj of buildKafka(bp, args.region)) {
      createObject(`${name}-${obj.kind.toLowerCase()}-${obj.metadata.name}`, obj, {
        parent: this,
        provider,
        dependsOn: operator,
        // The brokers' volumes and the topics hold data; MirrorMaker holds none (it resumes from its offsets).
        ...(obj.kind === "KafkaMirrorMaker2" ? {} : dataTierOptions(bp)),
      });
    }
    this.bootstrap = `${kafkaBootstrapService(args.region.name)}.${bp.namespace}.svc.cluster.local:${DATA_PORTS.kafka}`;
    this.registerOutputs({ bootstrap: this.bootstrap });
  }
}
