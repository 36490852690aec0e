import { ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import type { Blueprint, Region } from "../model/index.js";
import { replicatedSecretNames, type ReplicatedSecrets, type SourceSecret } from "./replicated-secrets.js";

/** The region's kubeconfig from the same source its Pulumi provider uses (cluster-provider.ts kubeconfigFor). */
async function kubeConfigOf(region: Region): Promise<KubeConfig> {
  const source = region.kubeconfig!;
  const kc = new KubeConfig();
  if ("context" in source) {
    kc.loadFromDefault();
    kc.setCurrentContext(source.context);
  } else if ("secretConfigKey" in source) {
    const value = pulumi.runtime.allConfig()[`secrets:${source.secretConfigKey}`];
    if (!value)
      throw new pulumi.RunError(
        `secrets:${source.secretConfigKey} is not set — set the kubeconfig with --secret`,
      );
    kc.loadFromString(value);
  } else {
    const ref = new pulumi.StackReference(`cluster-${region.name}-read`, { name: source.stackReference });
    const details = await ref.getOutputDetails(source.output);
    const value = details.secretValue ?? details.value;
    if (!value) throw new pulumi.RunError(`${source.stackReference} has no output ${source.output}`);
    kc.loadFromString(String(value));
  }
  return kc;
}

/**
 * Reads the primary region's replicatedSecretNames from its API server, at the start of every run (preview too).
 * A Secret its operator has not made yet (a first `up`) is reported missing, not an error: the run makes no copy
 * of it, and the next run does.
 */
export async function readReplicatedSecrets(bp: Blueprint): Promise<ReplicatedSecrets> {
  const names = replicatedSecretNames(bp);
  if (names.length === 0) return { sources: [], missing: [] };
  const api = (await kubeConfigOf(bp.primaryRegion)).makeApiClient(CoreV1Api);
  const out: ReplicatedSecrets = { sources: [], missing: [] };
  for (const name of names) {
    try {
      const secret = await api.readNamespacedSecret({ name, namespace: bp.namespace });
      const source: SourceSecret = {
        name,
        type: secret.type ?? "Opaque",
        data: secret.data ?? {},
        resourceVersion: secret.metadata?.resourceVersion ?? "",
      };
      out.sources.push(source);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) out.missing.push(name);
      else
        throw new pulumi.RunError(
          `cannot read Secret ${bp.namespace}/${name} in the primary region "${bp.primaryRegion.name}" (${(error as Error).message}) — check regions[${bp.primaryRegion.index}].kubeconfig and that it may get Secrets there`,
        );
    }
  }
  return out;
}
