import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import {
  dataExposureViolations,
  isOurs,
  podHardeningViolations,
  probeAndLimitViolations,
  rolloutVolumeViolations,
  routeWeightViolations,
} from "./rules.js";

type Rule = (obj: Record<string, unknown>) => string[];

/** A policy over the inputs of Kubernetes resources of the given type tokens. */
function k8sPolicy(
  name: string,
  description: string,
  types: string[],
  rule: Rule,
  onlyOurs: boolean,
): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      if (!types.includes(args.type)) return;
      if (onlyOurs && !isOurs(args.props)) return;
      for (const violation of rule(args.props)) reportViolation(violation);
    },
  };
}

export const policies: ResourceValidationPolicy[] = [
  k8sPolicy(
    "deployments-have-probes-and-limits",
    "Every blueprint Deployment has startup, liveness and readiness probes and CPU/memory requests and limits.",
    ["kubernetes:apps/v1:Deployment"],
    probeAndLimitViolations,
    true,
  ),
  k8sPolicy(
    "pods-are-hardened",
    "Blueprint pods run non-root, read-only root filesystem, no privilege escalation, drop ALL, seccomp RuntimeDefault.",
    ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"],
    podHardeningViolations,
    true,
  ),
  k8sPolicy(
    "rollout-configmap-is-optional",
    "Pods mount the rollout ConfigMap with optional: true, so without it they start and consume (fail open).",
    ["kubernetes:apps/v1:Deployment"],
    rolloutVolumeViolations,
    true,
  ),
  k8sPolicy(
    "data-stores-not-exposed",
    "No LoadBalancer or NodePort Service in front of Redis, MongoDB or Kafka.",
    ["kubernetes:core/v1:Service"],
    dataExposureViolations,
    false,
  ),
  k8sPolicy(
    "route-weights-sum-to-100",
    "HTTPRoute rules that split traffic by weight sum to 100.",
    ["kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"],
    routeWeightViolations,
    false,
  ),
];
