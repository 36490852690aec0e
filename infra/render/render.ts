import * as pulumi from "@pulumi/pulumi";
import type { Blueprint } from "../model/index.js";
import type { K8sObject } from "../components/meta.js";
import { runUnderMockEngine, type RecordedResource } from "./mock-engine.js";

/** A Helm release or remote manifest: under the mock engine an opaque component, rendered as its arguments. */
export interface OpaqueComponent {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export interface RegionRender {
  region: string;
  objects: K8sObject[];
  components: OpaqueComponent[];
}

export interface StackRender {
  stack: string;
  regions: RegionRender[];
  /** Cloud DNS resources (Route53 or Cloudflare) with their arguments. */
  dns: { type: string; name: string; inputs: Record<string, unknown> }[];
  resourceCount: number;
}

const OPAQUE = new Set([
  "kubernetes:helm.sh/v4:Chart",
  "kubernetes:helm.sh/v3:Release",
  "kubernetes:yaml/v2:ConfigFile",
]);
export const REDACTED = "<redacted: generated secret>";

function isK8sObject(r: RecordedResource): boolean {
  return r.custom && r.type.startsWith("kubernetes:") && !OPAQUE.has(r.type);
}

/** A value the SDK wrapped as secret (a Secret's data and stringData always are): the value inside. */
function unwrapSecret(value: unknown): unknown {
  const v = value as Record<string, unknown> | undefined;
  return v?.[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig ? v.value : value;
}

/** Drops `undefined` and replaces Secret values, so a render never holds a credential. */
export function toObject(r: RecordedResource): K8sObject {
  const obj = JSON.parse(JSON.stringify(r.inputs)) as K8sObject;
  if (obj.kind === "Secret") {
    for (const field of ["stringData", "data"] as const) {
      const values = unwrapSecret(obj[field]) as Record<string, unknown> | undefined;
      // data holds base64 (the API server refuses anything else), stringData plain text.
      const redacted = field === "data" ? Buffer.from(REDACTED).toString("base64") : REDACTED;
      if (values) obj[field] = Object.fromEntries(Object.keys(values).map((k) => [k, redacted]));
    }
  }
  return obj;
}

/** Runs the program under the mock engine and groups what it would create per region. */
export async function renderBlueprint(bp: Blueprint): Promise<StackRender> {
  const run = await runUnderMockEngine(bp);
  const regions = bp.regions.map((region) => {
    const mine = run.resources.filter((r) => r.region === region.name);
    return {
      region: region.name,
      objects: mine.filter(isK8sObject).map(toObject),
      components: mine
        .filter((r) => OPAQUE.has(r.type))
        .map(({ type, name, inputs }) => ({ type, name, inputs })),
    };
  });
  const dns = run.resources
    .filter((r) => r.custom && (r.type.startsWith("aws:") || r.type.startsWith("cloudflare:")))
    .map(({ type, name, inputs }) => ({ type, name, inputs }));
  return { stack: bp.stack, regions, dns, resourceCount: run.resources.length };
}

export function countByKind(render: StackRender): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  for (const r of render.regions) {
    r.objects.forEach((o) => add(o.kind));
    r.components.forEach((c) => add(c.type.split(":").pop()!));
  }
  render.dns.forEach((d) => add(d.type.split(":").pop()!));
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
