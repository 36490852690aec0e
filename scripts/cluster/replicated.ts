import { COPIED_FROM, replicatedSecretNames } from "../../infra/components/replicated-secrets.js";
import type { Blueprint } from "../../infra/model/index.js";
import type { ControlPlane } from "../lib/servers/control-plane.js";

/**
 * The operators' part, which cannot run here (no images, kwok runs no container): the Secrets Strimzi and Percona
 * make in the primary region, with data that names the generation, so that a rotation is a visible change.
 */
export async function issueOperatorSecrets(
  primary: ControlPlane,
  bp: Blueprint,
  generation: number,
): Promise<void> {
  for (const name of replicatedSecretNames(bp)) {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name,
        namespace: bp.namespace,
        labels: { "rehearsal.blueprint.io/operator-stand-in": "true" },
      },
      type: "Opaque",
      data: { "ca.crt": Buffer.from(`${name} generation ${generation}`).toString("base64") },
    };
    await primary.kubectl(["apply", "-f", "-"], JSON.stringify(secret));
  }
}

export async function removeOperatorSecrets(primary: ControlPlane, bp: Blueprint): Promise<void> {
  const names = replicatedSecretNames(bp);
  if (names.length > 0)
    await primary.kubectl(["delete", "secret", "-n", bp.namespace, "--ignore-not-found", ...names]);
}

interface SecretJson {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

async function readSecrets(cluster: ControlPlane, bp: Blueprint): Promise<Map<string, SecretJson>> {
  const out = new Map<string, SecretJson>();
  for (const name of replicatedSecretNames(bp)) {
    const json = await cluster.kubectl([
      "get",
      "secret",
      "-n",
      bp.namespace,
      name,
      "--ignore-not-found",
      "-o",
      "json",
    ]);
    if (json.trim()) out.set(name, JSON.parse(json) as SecretJson);
  }
  return out;
}

/**
 * Every copy in every other region that differs from the primary's Secret (data, or the source version its
 * annotation names): empty when all are in sync.
 */
export async function staleCopies(clusters: Map<string, ControlPlane>, bp: Blueprint): Promise<string[]> {
  const sources = await readSecrets(clusters.get(bp.primaryRegion.name)!, bp);
  const stale: string[] = [];
  for (const region of bp.regions.filter((r) => r.name !== bp.primaryRegion.name)) {
    const copies = await readSecrets(clusters.get(region.name)!, bp);
    for (const [name, source] of sources) {
      const copy = copies.get(name);
      const want = `${bp.primaryRegion.name}/${source.metadata.resourceVersion}`;
      if (!copy) stale.push(`${region.name}/${name}: missing`);
      else if (JSON.stringify(copy.data) !== JSON.stringify(source.data))
        stale.push(`${region.name}/${name}: data differs from the primary's`);
      else if (copy.metadata.annotations?.[COPIED_FROM] !== want)
        stale.push(
          `${region.name}/${name}: ${COPIED_FROM} is ${copy.metadata.annotations?.[COPIED_FROM]}, not ${want}`,
        );
    }
  }
  return stale;
}
