import type * as k8s from "@pulumi/kubernetes";
import type { Blueprint, Color, Region, Service } from "../model/index.js";
import {
  ACTIVE_COLOR_KEY,
  ACTIVE_COLOR_PATH,
  ROLLOUT_MOUNT_DIR,
  imageRef,
  serviceEnv,
} from "../model/index.js";
import {
  DATA_PORTS,
  colorSelector,
  commonLabels,
  kafkaBootstrapService,
  mongoClusterName,
  serviceHost,
  type K8sObject,
} from "./meta.js";

export const APP_UID = 1000;
export const REDIS_SECRET = { name: "redis-auth", key: "password" };
export const MONGO_APP_SECRET = { name: "mongo-app", key: "password" };
export const MONGO_APP_USER = "app";
const EPHEMERAL = { request: "64Mi", limit: "256Mi" };

type EnvVar = { name: string; value?: string; valueFrom?: Record<string, unknown> };

/**
 * Replicas of a color: a color with a version runs the service's full min..max, whether it is live or idle, so
 * the preview gate measures the size that will take traffic and a switch changes only routing. A color without
 * a version is not deployed at all (retire it with `rollout.versions`).
 */
export function colorReplicas(bp: Blueprint, service: Service, color: Color): { min: number; max: number } {
  if (!bp.rollout.versions[color]) return { min: 0, max: 0 };
  return service.replicas;
}

/** Name of the per-namespace ConfigMap holding the active color. */
export const ROLLOUT_CONFIGMAP = "rollout";

/** The `rollout` ConfigMap of a region namespace: `active-color` is the color live traffic goes to. */
export function buildRolloutConfigMap(bp: Blueprint): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: ROLLOUT_CONFIGMAP, namespace: bp.namespace, labels: commonLabels("rollout", "config") },
    data: { [ACTIVE_COLOR_KEY]: bp.rollout.activeColor },
  };
}

/**
 * Container env from the shared `serviceEnv`: each color calls its own color; passwords come
 * from Secrets by reference and precede the URLs that expand them, since $(VAR) sees only earlier variables.
 */
export function buildEnv(bp: Blueprint, region: Region, service: Service, color: Color): EnvVar[] {
  const ns = bp.namespace;
  const secretRef = (s: { name: string; key: string }) => ({ secretKeyRef: { name: s.name, key: s.key } });
  const secrets: EnvVar[] = [];
  if (service.dependsOnData.includes("redis")) {
    secrets.push({ name: "REDIS_PASSWORD", valueFrom: secretRef(REDIS_SECRET) });
  }
  if (service.dependsOnData.includes("mongo")) {
    secrets.push({ name: "MONGO_PASSWORD", valueFrom: secretRef(MONGO_APP_SECRET) });
  }
  const mongoHost = serviceHost(`${mongoClusterName(region.name)}-rs0`, ns);
  const port = (name: string) => bp.services.find((s) => s.name === name)!.port;
  const env = serviceEnv({
    region,
    service,
    color,
    version: bp.rollout.versions[color]!,
    listen: { host: "0.0.0.0", port: service.port },
    serviceUrl: (callee) => `http://${serviceHost(`${callee}-${color}`, ns)}:${port(callee)}`,
    data: {
      redisUrl: `redis://:$(REDIS_PASSWORD)@${serviceHost("redis", ns)}:${DATA_PORTS.redis}`,
      mongoUrl: `mongodb://${MONGO_APP_USER}:$(MONGO_PASSWORD)@${mongoHost}:${DATA_PORTS.mongo}/?replicaSet=rs0&authSource=admin`,
      kafkaBrokers: [`${serviceHost(kafkaBootstrapService(region.name), ns)}:${DATA_PORTS.kafka}`],
    },
    activeColorFile: ACTIVE_COLOR_PATH,
    // Strimzi KafkaTopic objects own the topics.
    kafkaCreateTopics: false,
    tracing: bp.platform.tracing,
  });
  return [...secrets, ...Object.entries(env).map(([name, value]) => ({ name, value }))];
}

/** Deployment, Service, PodDisruptionBudget and HorizontalPodAutoscaler of one color (which must have a version). */
export function buildServiceColor(
  bp: Blueprint,
  region: Region,
  service: Service,
  color: Color,
): K8sObject[] {
  const ns = bp.namespace;
  const name = `${service.name}-${color}`;
  const selector = colorSelector(service.name, color);
  const labels = {
    ...commonLabels(service.name, "service"),
    ...selector,
    version: bp.rollout.versions[color]!,
  };
  const replicas = colorReplicas(bp, service, color);
  const httpGet = (path: string) => ({ path, port: "http" });
  const probe = (path: string, p: Service["probes"]["liveness"]) => ({
    httpGet: httpGet(path),
    periodSeconds: p.periodSeconds,
    failureThreshold: p.failureThreshold,
    timeoutSeconds: p.timeoutSeconds,
  });
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels },
    spec: {
      // A new color starts at full size (the API's default is 1, and `pulumi up` would call one pod ready); after
      // that the count is the HPA's: ServiceColor ignores spec.replicas on updates so as not to fight it.
      replicas: replicas.min,
      selector: { matchLabels: selector },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: service.terminationGracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: APP_UID,
            runAsGroup: APP_UID,
            fsGroup: APP_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: "kubernetes.io/hostname",
                    labelSelector: { matchLabels: selector },
                  },
                },
              ],
            },
          },
          topologySpreadConstraints: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((key) => ({
            maxSkew: 1,
            topologyKey: key,
            whenUnsatisfiable: "ScheduleAnyway",
            labelSelector: { matchLabels: selector },
          })),
          containers: [
            {
              name: service.name,
              image: imageRef(bp, service, color),
              imagePullPolicy: "Always",
              ports: [{ name: "http", containerPort: service.port, protocol: "TCP" }],
              env: buildEnv(bp, region, service, color),
              resources: {
                requests: { ...service.resources.requests, "ephemeral-storage": EPHEMERAL.request },
                limits: { ...service.resources.limits, "ephemeral-storage": EPHEMERAL.limit },
              },
              startupProbe: probe("/livez", service.probes.startup),
              livenessProbe: probe("/livez", service.probes.liveness),
              readinessProbe: probe("/readyz", service.probes.readiness),
              lifecycle: { preStop: { sleep: { seconds: service.preStopSeconds } } },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: APP_UID,
                runAsGroup: APP_UID,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                privileged: false,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              // A whole-directory mount (not subPath), so the kubelet updates the file after a switch.
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                { name: "rollout", mountPath: ROLLOUT_MOUNT_DIR, readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: "tmp", emptyDir: { sizeLimit: EPHEMERAL.request } },
            // Optional: without the ConfigMap the kubelet mounts an empty directory and consumers fail open.
            { name: "rollout", configMap: { name: ROLLOUT_CONFIGMAP, optional: true } },
          ],
        },
      },
    },
  } satisfies k8s.types.input.apps.v1.Deployment;
  const svc = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns, labels },
    spec: {
      type: "ClusterIP",
      selector,
      ports: [{ name: "http", port: service.port, targetPort: "http", protocol: "TCP" }],
    },
  } satisfies k8s.types.input.core.v1.Service;
  const pdb = {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name, namespace: ns, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  } satisfies k8s.types.input.policy.v1.PodDisruptionBudget;
  const hpa = {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name, namespace: ns, labels },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
      minReplicas: replicas.min,
      maxReplicas: replicas.max,
      metrics: [
        {
          type: "Resource",
          resource: {
            name: "cpu",
            target: { type: "Utilization", averageUtilization: service.targetCpuPercent },
          },
        },
      ],
    },
  } satisfies k8s.types.input.autoscaling.v2.HorizontalPodAutoscaler;
  return [deployment, svc, pdb, hpa] as K8sObject[];
}
