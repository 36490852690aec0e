import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { Blueprint } from "../model/index.js";
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
    case "v1/ServiceAccount":
      return new k8s.core.v1.ServiceAccount(name, args, opts);
    case "rbac.authorization.k8s.io/v1/Role":
      return new k8s.rbac.v1.Role(name, args, opts);
    case "rbac.authorization.k8s.io/v1/RoleBinding":
      return new k8s.rbac.v1.RoleBinding(name, args, opts);
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

/**
 * What the operator's objects wait for: the operator from its pinned Helm chart repository, installed into the
 * operators namespace, when this stack installs the add-ons; with `platform.operators: provided`, only `dependsOn`.
 */
export function operatorDependency(
  bp: Blueprint,
  name: string,
  pin: { chart: string; repo: string; version: string },
  values: Record<string, unknown>,
  opts: pulumi.CustomResourceOptions & { dependsOn: pulumi.Input<pulumi.Resource>[] },
): pulumi.Input<pulumi.Resource>[] {
  if (bp.platform.operators === "provided") return opts.dependsOn;
  const { chart, version, repo } = pin;
  const namespace = bp.platform.operatorNamespace;
  return [new k8s.helm.v4.Chart(name, { chart, version, repositoryOpts: { repo }, namespace, values }, opts)];
}
