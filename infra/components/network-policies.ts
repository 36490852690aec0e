import type * as k8s from "@pulumi/kubernetes";
import type { Blueprint, DataStore, Region } from "../model/index.js";
import { deployedColors } from "../model/index.js";
import {
  DATA_POD_LABELS,
  DATA_PORTS,
  KAFKA_REPLICATION_PORT,
  colorSelector,
  commonLabels,
  kafkaClusterName,
  edgeNamespace,
  type K8sObject,
} from "./meta.js";

type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;
type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port: number; protocol: "TCP" | "UDP" }[] };

const tcp = (...ports: number[]) => ports.map((port) => ({ port, protocol: "TCP" as const }));
const nsPeer = (name: string): Peer => ({
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } },
});
/** Ports Strimzi's cluster operator and entity operator use to manage brokers (control plane, replication). */
const STRIMZI_ADMIN_PORTS = [9090, 9091];
const KAFKA_CONNECT_REST_PORT = 8083;

function policy(
  namespace: string,
  name: string,
  podSelector: k8s.types.input.meta.v1.LabelSelector,
  rules: { ingress?: Rule[]; egress?: Rule[] },
): K8sObject {
  const policyTypes = [...(rules.ingress ? ["Ingress"] : []), ...(rules.egress ? ["Egress"] : [])];
  const obj = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace, labels: commonLabels("network-policy", "security") },
    spec: { podSelector, policyTypes, ...rules },
  } satisfies k8s.types.input.networking.v1.NetworkPolicy;
  return obj as K8sObject;
}

/**
 * The other regions' replication addresses (regions[].replicationCidrs, default their podCidr): the only addresses
 * outside the namespace that reach a data store.
 */
export function peerCidrs(bp: Blueprint, region: Region, only?: Region[]): Peer[] {
  return (only ?? bp.regions)
    .filter((r) => r.name !== region.name)
    .flatMap((r) => r.replicationCidrs ?? (r.podCidr ? [r.podCidr] : []))
    .map((cidr) => ({ ipBlock: { cidr } }));
}

/**
 * Default deny in and out, DNS, and one allow per path: edge → route targets, service → service of the
 * same color, service → data store per `dependsOn`, data store peers, operators, cross-region replication.
 */
export function buildNetworkPolicies(bp: Blueprint, region: Region): K8sObject[] {
  const ns = bp.namespace;
  const colors = deployedColors(bp);
  const routed = new Set(bp.edge.routes.map((r) => r.service));
  const mongoPeers = peerCidrs(bp, region);
  const tracing = collectorEgress(bp);
  const out: K8sObject[] = [
    policy(ns, "default-deny", {}, { ingress: [], egress: [] }),
    policy(
      ns,
      "allow-dns",
      {},
      {
        egress: [
          {
            to: [
              { ...nsPeer("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } },
              // NodeLocal DNSCache and the like listen on addresses no pod selector matches.
              ...bp.network.dnsCidrs.map((cidr) => ({ ipBlock: { cidr } })),
            ],
            ports: [
              { port: 53, protocol: "UDP" },
              { port: 53, protocol: "TCP" },
            ],
          },
        ],
      },
    ),
  ];
  for (const color of colors) {
    for (const svc of bp.services) {
      const callers = bp.services.filter((s) => s.dependsOnServices.includes(svc.name));
      const ingress: Rule[] = callers.map((c) => ({
        from: [{ podSelector: { matchLabels: colorSelector(c.name, color) } }],
        ports: tcp(svc.port),
      }));
      if (routed.has(svc.name)) ingress.unshift({ from: [nsPeer(edgeNamespace(ns))], ports: tcp(svc.port) });
      // The platform's Prometheus scrapes /metrics on the service port (the ServiceMonitors of monitoring.ts).
      if (bp.platform.monitoring === "prometheus-operator")
        ingress.push({ from: [nsPeer(bp.platform.monitoringNamespace)], ports: tcp(svc.port) });
      const egress: Rule[] = [
        ...svc.dependsOnServices.map((d) => ({
          to: [{ podSelector: { matchLabels: colorSelector(d, color) } }],
          ports: tcp(bp.services.find((s) => s.name === d)!.port),
        })),
        ...svc.dependsOnData.map((store) => ({
          to: [{ podSelector: { matchLabels: { ...DATA_POD_LABELS[store] } } }],
          ports: tcp(DATA_PORTS[store]),
        })),
        // The replica set's primary may be in another region after a failover; drivers write to it there.
        ...(svc.dependsOnData.includes("mongo") && mongoPeers.length > 0
          ? [{ to: mongoPeers, ports: tcp(DATA_PORTS.mongo) }]
          : []),
        ...(tracing ? [tracing] : []),
      ];
      const selector = { matchLabels: colorSelector(svc.name, color) };
      if (ingress.length > 0) out.push(policy(ns, `${svc.name}-${color}-ingress`, selector, { ingress }));
      if (egress.length > 0) out.push(policy(ns, `${svc.name}-${color}-egress`, selector, { egress }));
    }
  }
  for (const store of ["redis", "mongo", "kafka"] as DataStore[])
    out.push(...dataPolicies(bp, region, store));
  return out;
}

function dataPolicies(bp: Blueprint, region: Region, store: DataStore): K8sObject[] {
  const ns = bp.namespace;
  const users = bp.services.filter((s) => s.dependsOnData.includes(store)).map((s) => s.name);
  const selector = { matchLabels: { ...DATA_POD_LABELS[store] } };
  const out: K8sObject[] = [];
  if (users.length > 0) {
    out.push(
      policy(ns, `${store}-from-services`, selector, {
        ingress: [
          {
            from: [{ podSelector: { matchExpressions: [{ key: "app", operator: "In", values: users }] } }],
            ports: tcp(DATA_PORTS[store]),
          },
        ],
      }),
    );
  }
  if (store === "redis") return out;
  const self = { podSelector: selector };
  // Brokers and replica-set members talk to each other on every port they open.
  out.push(policy(ns, `${store}-peers`, selector, { ingress: [{ from: [self] }], egress: [{ to: [self] }] }));
  const adminPorts = store === "kafka" ? STRIMZI_ADMIN_PORTS : [DATA_PORTS.mongo];
  out.push(
    policy(ns, `${store}-from-operators`, selector, {
      ingress: [{ from: bp.platform.operatorNamespaces.map(nsPeer), ports: tcp(...adminPorts) }],
    }),
  );
  if (store === "mongo") {
    const peers = peerCidrs(bp, region);
    if (peers.length > 0) {
      const rule = { ports: tcp(DATA_PORTS.mongo) };
      out.push(
        policy(ns, "mongo-cross-region", selector, {
          ingress: [{ from: peers, ...rule }],
          egress: [{ to: peers, ...rule }],
        }),
      );
    }
  } else {
    out.push(...kafkaSupportPolicies(bp, region));
  }
  return out;
}

function kafkaSupportPolicies(bp: Blueprint, region: Region): K8sObject[] {
  const ns = bp.namespace;
  const out: K8sObject[] = [];
  const brokers = { podSelector: { matchLabels: { ...DATA_POD_LABELS.kafka } } };
  // The entity operator (topic operator) reconciles KafkaTopics through the API server and the brokers.
  out.push(
    policy(
      ns,
      "kafka-entity-operator",
      { matchLabels: { "strimzi.io/name": `${kafkaClusterName(region.name)}-entity-operator` } },
      {
        egress: [
          { to: [brokers], ports: tcp(...STRIMZI_ADMIN_PORTS) },
          { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: tcp(443, 6443) },
        ],
      },
    ),
  );
  out.push(
    policy(
      ns,
      "kafka-from-entity-operator",
      { matchLabels: { ...DATA_POD_LABELS.kafka } },
      {
        ingress: [
          {
            from: [
              {
                podSelector: {
                  matchLabels: { "strimzi.io/name": `${kafkaClusterName(region.name)}-entity-operator` },
                },
              },
            ],
            ports: tcp(...STRIMZI_ADMIN_PORTS),
          },
        ],
      },
    ),
  );
  const mirrored = bp.data.kafka.mirrorFromPrimary && bp.regions.length > 1;
  if (!mirrored) return out;
  if (region.primary) {
    const peers = peerCidrs(bp, region);
    if (peers.length > 0) {
      out.push(
        policy(
          ns,
          "kafka-replication-from-regions",
          { matchLabels: { ...DATA_POD_LABELS.kafka } },
          {
            ingress: [{ from: peers, ports: tcp(KAFKA_REPLICATION_PORT) }],
          },
        ),
      );
    }
  } else {
    const mm2 = { matchLabels: { "strimzi.io/kind": "KafkaMirrorMaker2" } };
    out.push(
      policy(ns, "mirrormaker", mm2, {
        ingress: [{ from: bp.platform.operatorNamespaces.map(nsPeer), ports: tcp(KAFKA_CONNECT_REST_PORT) }],
        egress: [
          { to: [brokers], ports: tcp(DATA_PORTS.kafka) },
          { to: peerCidrs(bp, region, [bp.primaryRegion]), ports: tcp(KAFKA_REPLICATION_PORT) },
          { to: [{ podSelector: mm2 }], ports: tcp(KAFKA_CONNECT_REST_PORT) },
        ].filter((rule) => rule.to.length > 0),
      }),
    );
    out.push(
      policy(
        ns,
        "kafka-from-mirrormaker",
        { matchLabels: { ...DATA_POD_LABELS.kafka } },
        {
          ingress: [{ from: [{ podSelector: mm2 }], ports: tcp(DATA_PORTS.kafka) }],
        },
      ),
    );
  }
  return out;
}

/** Spans to the platform's trace collector (platform.tracing), on its OTLP URL's port. */
function collectorEgress(bp: Blueprint): Rule | undefined {
  const { otlpEndpoint, namespace } = bp.platform.tracing;
  if (!otlpEndpoint) return undefined;
  const url = new URL(otlpEndpoint);
  return { to: [nsPeer(namespace)], ports: tcp(Number(url.port || (url.protocol === "https:" ? 443 : 80))) };
}
