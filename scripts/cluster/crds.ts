import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { UPSTREAM_DIR, upstreamFiles, type ControlPlane } from "../lib/servers/control-plane.js";

export interface CrdObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { group: string; names: { kind: string } };
}

/** Where each CRD comes from, as the report and the closing note name it. */
export interface CrdSource {
  name: string;
  origin: string;
  crds: CrdObject[];
}

function yamlDocs(file: string): CrdObject[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as CrdObject | null)
    .filter((d): d is CrdObject => d?.kind === "CustomResourceDefinition");
}

/**
 * Drops `additionalProperties: false` where `properties` is set: a structural schema may not have both (the API
 * server refuses the CRD); the server's strict field validation and pruning reject or drop unknown fields instead.
 */
export function structural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(structural);
  if (!schema || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "additionalProperties" && value === false && "properties" in schema) continue;
    out[key] = structural(value);
  }
  return out;
}

/**
 * The CRDs of every custom kind the program creates:
 * - Gateway API, cert-manager and the Prometheus Operator (ServiceMonitor, PrometheusRule): the projects' own CRDs
 *   (controller-gen from their API types), from their module zips;
 * - Strimzi: the CRDs its API model's `Crds` class defines (open schemas: Strimzi's operator validates with the same
 *   model, which `StrimziModel.java validate` applies to our objects);
 * - Percona: no upstream source is reachable, so the hand-derived schema of infra/render/crds/percona.yaml, made
 *   structural.
 */
export function clusterCrds(): CrdSource[] {
  return [
    {
      name: "gateway-api",
      origin: "sigs.k8s.io/gateway-api module, config/crd/standard",
      crds: upstreamFiles("gateway-api").flatMap(yamlDocs),
    },
    {
      name: "cert-manager",
      origin: "github.com/cert-manager/cert-manager module, deploy/crds",
      crds: upstreamFiles("cert-manager").flatMap(yamlDocs),
    },
    {
      name: "prometheus-operator",
      origin: "github.com/prometheus-operator/prometheus-operator module, example/prometheus-operator-crd",
      crds: upstreamFiles("prometheus-operator").flatMap(yamlDocs),
    },
    {
      name: "strimzi",
      origin: "io.strimzi:api (Maven Central), io.strimzi.api.kafka.Crds",
      crds: JSON.parse(readFileSync(join(UPSTREAM_DIR, "strimzi-crds.json"), "utf8")) as CrdObject[],
    },
    {
      name: "percona",
      origin: "hand-derived: infra/render/crds/percona.yaml (no upstream source is reachable)",
      crds: yamlDocs(join(REPO_ROOT, "infra", "render", "crds", "percona.yaml")).map(
        (crd) => structural(crd) as CrdObject,
      ),
    },
  ];
}

/** Server-side applies every CRD, then waits until the API server serves each (Established). */
export async function installCrds(cluster: ControlPlane, sources = clusterCrds()): Promise<number> {
  const items = sources.flatMap((s) => s.crds);
  await cluster.kubectl(
    ["apply", "--server-side", "--field-manager=blueprint-platform", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items }),
  );
  // `kubectl wait` fails outright on a CRD whose status has no conditions yet, so it is asked again until all are.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await cluster.kubectl([
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        ...items.map((c) => `crd/${c.metadata.name}`),
      ]);
      return items.length;
    } catch (error) {
      if (Date.now() > deadline || !/conditions accessor error/.test(String(error))) throw error;
      await sleep(200);
    }
  }
}
