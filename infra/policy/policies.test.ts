import type { ResourceValidationArgs } from "@pulumi/policy";
import { beforeAll, describe, expect, it } from "vitest";
import { loadBlueprint } from "../config/stack-file.js";
import type { K8sObject } from "../components/meta.js";
import { renderBlueprint } from "../render/render.js";
import { policies } from "./policies.js";
import {
  dataExposureViolations,
  podHardeningViolations,
  probeAndLimitViolations,
  rolloutVolumeViolations,
  routeWeightViolations,
} from "./rules.js";

type Obj = Record<string, any>;
let objects: K8sObject[] = [];
beforeAll(async () => {
  objects = (await renderBlueprint(loadBlueprint("prod"))).regions.flatMap((r) => r.objects);
});
const first = (kind: string, name?: string) =>
  structuredClone(objects.find((o) => o.kind === kind && (!name || o.metadata.name === name))!) as Obj;
const TYPES: Record<string, string> = {
  Deployment: "kubernetes:apps/v1:Deployment",
  StatefulSet: "kubernetes:apps/v1:StatefulSet",
  Service: "kubernetes:core/v1:Service",
  HTTPRoute: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
};

/** Runs every policy of the pack on one resource as the engine would, collecting the violations. */
function violations(obj: Obj): string[] {
  const out: string[] = [];
  const args = {
    type: TYPES[obj.kind]!,
    props: obj,
    urn: `urn:test::${obj.metadata.name}`,
    name: obj.metadata.name,
  } as ResourceValidationArgs;
  for (const policy of policies) {
    const validate = policy.validateResource as (
      a: ResourceValidationArgs,
      report: (m: string) => void,
    ) => void;
    validate(args, (message) => out.push(`${policy.name}: ${message}`));
  }
  return out;
}

describe("the policy pack", () => {
  it("when every rendered object of prod is checked, then there is no violation", () => {
    const checked = objects.filter((o) => TYPES[o.kind]);
    expect(checked.length).toBeGreaterThan(20);
    expect(checked.flatMap((o) => violations(o))).toEqual([]);
  });

  it("when a Deployment loses its readiness probe and memory limit, then the probes-and-limits policy reports both", () => {
    const d = first("Deployment", "gateway-blue");
    delete d.spec.template.spec.containers[0].readinessProbe;
    delete d.spec.template.spec.containers[0].resources.limits.memory;
    expect(violations(d)).toEqual([
      "deployments-have-probes-and-limits: container gateway of gateway-blue has no readinessProbe",
      "deployments-have-probes-and-limits: container gateway of gateway-blue has no resources.limits.memory",
    ]);
  });

  it("when a pod may escalate and keeps its root filesystem writable, then the hardening policy reports it", () => {
    const s = first("StatefulSet", "redis");
    s.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true;
    s.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
    expect(podHardeningViolations(s)).toEqual([
      "StatefulSet redis/redis: readOnlyRootFilesystem is not true",
      "StatefulSet redis/redis: allowPrivilegeEscalation is not false",
    ]);
  });

  it("when the Redis Service becomes a LoadBalancer, then the exposure policy rejects it; an app LoadBalancer passes", () => {
    const redis = first("Service", "redis");
    redis.spec.type = "LoadBalancer";
    expect(dataExposureViolations(redis)).toEqual([
      "Service redis exposes a data store as LoadBalancer; data stores stay ClusterIP",
    ]);
    const app = first("Service", "gateway-blue");
    app.spec.type = "LoadBalancer";
    expect(dataExposureViolations(app)).toEqual([]);
  });

  it("when a service pod mounts the rollout ConfigMap without optional, then the policy reports the pod that would hang", () => {
    const d = first("Deployment", "orders-blue");
    expect(rolloutVolumeViolations(d)).toEqual([]);
    const rollout = d.spec.template.spec.volumes.find((v: Obj) => v.name === "rollout");
    delete rollout.configMap.optional;
    expect(violations(d)).toEqual([
      "rollout-configmap-is-optional: Deployment orders-blue: volume rollout mounts ConfigMap rollout without optional: true, so a missing ConfigMap keeps the pod in ContainerCreating",
    ]);
  });

  it("when route weights sum to 90, then the weights policy reports the rule", () => {
    const route = first("HTTPRoute", "public");
    route.spec.rules[0].backendRefs = [
      { name: "gateway-blue", port: 8080, weight: 60 },
      { name: "gateway-green", port: 8080, weight: 30 },
    ];
    expect(routeWeightViolations(route)).toEqual([
      "HTTPRoute public rule 0: backend weights sum to 90, not 100",
    ]);
  });

  it("when a third-party chart's Deployment has no startup probe, then our pod rules do not apply to it", () => {
    const d = first("Deployment");
    delete d.metadata.labels["app.kubernetes.io/part-of"];
    delete d.spec.template.spec.containers[0].startupProbe;
    expect(violations(d)).toEqual([]);
    expect(probeAndLimitViolations(d)).toHaveLength(1);
  });
});
