import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Region } from "../model/index.js";

/** The kubeconfig source of a region, resolved the way the model describes it. */
export function kubeconfigFor(
  region: Region,
  opts?: pulumi.CustomResourceOptions,
): { kubeconfig?: pulumi.Output<string>; context?: string } {
  const source = region.kubeconfig;
  if (!source)
    throw new Error(
      `regions[${region.index}] "${region.name}" has no kubeconfig — set regions[${region.index}].kubeconfig`,
    );
  if ("secretConfigKey" in source) {
    return { kubeconfig: new pulumi.Config("secrets").requireSecret(source.secretConfigKey) };
  }
  if ("stackReference" in source) {
    const ref = new pulumi.StackReference(`cluster-${region.name}`, { name: source.stackReference }, opts);
    return { kubeconfig: pulumi.secret(ref.requireOutput(source.output).apply(String)) };
  }
  return { context: source.context };
}

/** One Kubernetes provider per region; every object of the region goes through it. */
export function createClusterProvider(region: Region): k8s.Provider {
  const source = kubeconfigFor(region);
  return new k8s.Provider(`k8s-${region.name}`, {
    ...source,
    // Server-side apply: fields owned by controllers (the HPA's replicas, operator status) are left alone.
    enableServerSideApply: true,
  });
}
