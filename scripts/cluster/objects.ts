import type { Deployment } from "@pulumi/pulumi/automation/index.js";
import type { K8sObject } from "../../infra/components/meta.js";
import type { ControlPlane } from "../lib/servers/control-plane.js";

/** One Kubernetes object of the stack, as its state records it. */
export interface StackObject {
  region: string;
  apiVersion: string;
  kind: string;
  namespace: string | undefined;
  name: string;
}

interface StateResource {
  type: string;
  urn: string;
  provider?: string;
  outputs?: {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string };
  };
}

/**
 * The Kubernetes objects in a stack's state, each with the region whose provider made it (providers are named
 * `k8s-<region>`, infra/components/cluster-provider.ts).
 */
export function stackObjects(deployment: Deployment): StackObject[] {
  const resources = ((deployment.deployment as { resources?: StateResource[] }).resources ?? []).filter(
    (r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm") && r.outputs?.kind,
  );
  return resources.map((r) => {
    const provider = /::k8s-([^:]+)::/.exec(r.provider ?? "")?.[1];
    if (!provider) throw new Error(`${r.urn} has no k8s-<region> provider (got ${r.provider ?? "none"})`);
    return {
      region: provider,
      apiVersion: r.outputs!.apiVersion!,
      kind: r.outputs!.kind!,
      namespace: r.outputs!.metadata?.namespace,
      name: r.outputs!.metadata!.name!,
    };
  });
}

/** The Strimzi objects of the state as applied (apiVersion, kind, metadata's name, namespace and labels, spec). */
export function strimziObjects(deployment: Deployment): K8sObject[] {
  const resources = (deployment.deployment as { resources?: StateResource[] }).resources ?? [];
  return resources
    .filter((r) => r.type.startsWith("kubernetes:kafka.strimzi.io/"))
    .map((r) => {
      const o = r.outputs as unknown as K8sObject & { spec: unknown };
      const { name, namespace, labels, annotations } = o.metadata;
      return {
        apiVersion: o.apiVersion,
        kind: o.kind,
        metadata: {
          name,
          ...(namespace ? { namespace } : {}),
          ...(labels ? { labels } : {}),
          ...(annotations ? { annotations } : {}),
        },
        spec: o.spec,
      };
    });
}

/** `{ region: { kind: count } }` for the report. */
export function countByKind(objects: StackObject[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const o of objects) {
    const region = (out[o.region] ??= {});
    region[o.kind] = (region[o.kind] ?? 0) + 1;
  }
  return out;
}

const resourceOf = (o: StackObject) => {
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
  return `${o.kind.toLowerCase()}${group ? `.${group}` : ""}`;
};

/** Which of `objects` the cluster's API server has, as `Kind namespace/name`. */
export async function presentOn(cluster: ControlPlane, objects: StackObject[]): Promise<string[]> {
  const groups = new Map<string, StackObject[]>();
  for (const o of objects) {
    const key = `${resourceOf(o)} ${o.namespace ?? ""}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  const present: string[] = [];
  for (const [key, list] of groups) {
    const [resource, namespace] = key.split(" ");
    const out = await cluster.kubectl([
      "get",
      resource!,
      ...(namespace ? ["-n", namespace] : []),
      "--ignore-not-found",
      "-o",
      "jsonpath={range .items[*]}{.metadata.name}{'\\n'}{end}",
    ]);
    const names = new Set(out.split("\n").filter(Boolean));
    for (const o of list)
      if (names.has(o.name)) present.push(`${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`);
  }
  return present.sort();
}

/** Every object left in `namespaces` (of any namespaced kind the server lists) and the namespaces themselves. */
export async function leftovers(cluster: ControlPlane, namespaces: string[]): Promise<string[]> {
  const left: string[] = [];
  const existing = new Set(
    (
      await cluster.kubectl([
        "get",
        "namespaces",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}{'\\n'}{end}",
      ])
    )
      .split("\n")
      .filter(Boolean),
  );
  const kinds = (await cluster.kubectl(["api-resources", "--verbs=list", "--namespaced", "-o", "name"]))
    .split("\n")
    .filter((k) => k && k !== "events" && k !== "events.events.k8s.io");
  for (const ns of namespaces.filter((n) => existing.has(n))) {
    left.push(`Namespace ${ns}`);
    const out = await cluster.kubectl(["get", kinds.join(","), "-n", ns, "--ignore-not-found", "-o", "name"]);
    left.push(
      ...out
        .split("\n")
        .filter(Boolean)
        .map((n) => `${ns}/${n}`),
    );
  }
  return left;
}

/** Deployments of a namespace with their ready and wanted replicas. */
export async function deployments(
  cluster: ControlPlane,
  namespace: string,
): Promise<{ name: string; ready: number; replicas: number; image: string }[]> {
  const out = JSON.parse(await cluster.kubectl(["get", "deployments", "-n", namespace, "-o", "json"])) as {
    items: {
      metadata: { name: string };
      spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
      status: { readyReplicas?: number };
    }[];
  };
  return out.items.map((d) => ({
    name: d.metadata.name,
    ready: d.status.readyReplicas ?? 0,
    replicas: d.spec.replicas ?? 1,
    image: d.spec.template.spec.containers[0]!.image,
  }));
}

/** Backend weights of the public HTTPRoute's rules: `{ service-color: weight }` of its first rule. */
export async function publicRouteWeights(
  cluster: ControlPlane,
  namespace: string,
): Promise<Record<string, number>> {
  const route = JSON.parse(
    await cluster.kubectl(["get", "httproute", "public", "-n", namespace, "-o", "json"]),
  ) as {
    spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] };
  };
  return Object.fromEntries(route.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight ?? 1]));
}
