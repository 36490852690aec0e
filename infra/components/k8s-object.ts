import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "./meta.js";

/**
 * Creates the typed Pulumi resource for a plain object spec: core kinds through their typed classes (so the
 * provider applies its await logic), everything else as a CustomResource.
 */
export function createObject(
  name: string,
  obj: K8sObject,
  opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource {
  const args = obj as never;
  switch (`${obj.apiVersion}/${obj.kind}`) {
    case "v1/Namespace":
      return new k8s.core.v1.Namespace(name, args, opts);
    case "v1/Secret":
      return new k8s.core.v1.Secret(name, args, opts);
    case "v1/Service":
      return new k8s.core.v1.Service(name, args, opts);
    case "v1/ConfigMap":
      return new k8s.core.v1.ConfigMap(name, args, opts);
    case "apps/v1/Deployment":
      return new k8s.apps.v1.Deployment(name, args, opts);
    case "apps/v1/StatefulSet":
      return new k8s.apps.v1.StatefulSet(name, args, opts);
    case "policy/v1/PodDisruptionBudget":
      return new k8s.policy.v1.PodDisruptionBudget(name, args, opts);
    case "autoscaling/v2/HorizontalPodAutoscaler":
      return new k8s.autoscaling.v2.HorizontalPodAutoscaler(name, args, opts);
    case "networking.k8s.io/v1/NetworkPolicy":
      return new k8s.networking.v1.NetworkPolicy(name, args, opts);
    default:
      return new k8s.apiextensions.CustomResource(name, args, opts);
  }
}

/** An operator from its pinned Helm chart repository, installed into the stack's operators namespace. */
export function installOperator(
  name: string,
  pin: { chart: string; repo: string; version: string },
  namespace: string,
  values: Record<string, unknown>,
  opts: pulumi.CustomResourceOptions,
): k8s.helm.v4.Chart {
  return new k8s.helm.v4.Chart(
    name,
    { chart: pin.chart, version: pin.version, repositoryOpts: { repo: pin.repo }, namespace, values },
    opts,
  );
}
