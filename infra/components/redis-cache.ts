import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Blueprint } from "../model/index.js";
import { createObject } from "./k8s-object.js";
import { DATA_POD_LABELS, DATA_PORTS, commonLabels, type K8sObject } from "./meta.js";
import { REDIS_SECRET } from "./workload.js";

/** The official image's redis user; any non-root uid works since /data is an emptyDir. */
const REDIS_UID = 999;
/** Headroom over maxmemory for Redis' own buffers and fragmentation. */
const OVERHEAD_MB = 64;

/** Per-region cache: a one-replica StatefulSet from the official image, auth from a Secret, no persistence. */
export function buildRedis(bp: Blueprint, password: pulumi.Input<string>): K8sObject[] {
  const ns = bp.namespace;
  const labels = { ...commonLabels("redis", "cache"), ...DATA_POD_LABELS.redis };
  const selector = { ...DATA_POD_LABELS.redis };
  const memory = `${bp.data.redis.memoryMb + OVERHEAD_MB}Mi`;
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: REDIS_SECRET.name, namespace: ns, labels },
    type: "Opaque",
    stringData: { [REDIS_SECRET.key]: password },
  } satisfies k8s.types.input.core.v1.Secret;
  const headless = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "redis-headless", namespace: ns, labels },
    spec: {
      clusterIP: "None",
      selector,
      ports: [{ name: "redis", port: DATA_PORTS.redis, targetPort: "redis" }],
    },
  } satisfies k8s.types.input.core.v1.Service;
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "redis", namespace: ns, labels },
    spec: {
      type: "ClusterIP",
      selector,
      ports: [{ name: "redis", port: DATA_PORTS.redis, targetPort: "redis" }],
    },
  } satisfies k8s.types.input.core.v1.Service;
  const auth = { secretKeyRef: { name: REDIS_SECRET.name, key: REDIS_SECRET.key } };
  const statefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "redis", namespace: ns, labels },
    spec: {
      serviceName: "redis-headless",
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: REDIS_UID,
            runAsGroup: REDIS_UID,
            fsGroup: REDIS_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "redis",
              image: bp.data.redis.image,
              imagePullPolicy: "Always",
              command: ["redis-server"],
              // A cache: evict least-recently-used keys at maxmemory, never write snapshots or an AOF.
              args: [
                "--requirepass",
                "$(REDIS_PASSWORD)",
                "--maxmemory",
                `${bp.data.redis.memoryMb}mb`,
                "--maxmemory-policy",
                "allkeys-lru",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/data",
              ],
              env: [
                { name: "REDIS_PASSWORD", valueFrom: auth },
                { name: "REDISCLI_AUTH", valueFrom: auth },
              ],
              ports: [{ name: "redis", containerPort: DATA_PORTS.redis, protocol: "TCP" }],
              resources: {
                requests: { cpu: "100m", memory, "ephemeral-storage": "64Mi" },
                limits: { cpu: "500m", memory, "ephemeral-storage": "256Mi" },
              },
              startupProbe: { tcpSocket: { port: "redis" }, periodSeconds: 2, failureThreshold: 30 },
              livenessProbe: { tcpSocket: { port: "redis" }, periodSeconds: 10, failureThreshold: 3 },
              readinessProbe: {
                exec: { command: ["redis-cli", "ping"] },
                periodSeconds: 5,
                failureThreshold: 2,
              },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: REDIS_UID,
                runAsGroup: REDIS_UID,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                privileged: false,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            },
          ],
          volumes: [{ name: "data", emptyDir: { sizeLimit: "64Mi" } }],
        },
      },
    },
  } satisfies k8s.types.input.apps.v1.StatefulSet;
  const pdb = {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: "redis", namespace: ns, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  } satisfies k8s.types.input.policy.v1.PodDisruptionBudget;
  return [secret, headless, service, statefulSet, pdb] as K8sObject[];
}

export interface RedisCacheArgs {
  blueprint: Blueprint;
  /** The region's Kubernetes provider; every object goes through it. */
  provider: k8s.Provider;
  /** From the stack's secret config (CREDENTIAL_KEYS.redis). */
  password: pulumi.Input<string>;
}

/** Redis per region; its password only leaves as a secret output. */
export class RedisCache extends pulumi.ComponentResource {
  readonly password: pulumi.Output<string>;

  constructor(name: string, args: RedisCacheArgs, opts: pulumi.ComponentResourceOptions) {
    super("blueprint:data:RedisCache", name, {}, opts);
    this.password = pulumi.secret(args.password);
    const roles = ["secret", "headless", "service", "statefulset", "pdb"];
    buildRedis(args.blueprint, args.password).forEach((obj, i) =>
      createObject(`${name}-${roles[i]}`, obj, { parent: this, provider: args.provider }),
    );
    this.registerOutputs({ password: this.password });
  }
}
