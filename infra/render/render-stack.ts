import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadBlueprint } from "../config/stack-file.js";
import type { K8sObject } from "../components/meta.js";
import type { Blueprint } from "../model/index.js";
import { runKubeScore, type KubeScoreResult } from "./kube-score.js";
import { countByKind, renderBlueprint, type StackRender } from "./render.js";
import { createValidator, type ValidationError } from "./validate.js";

export const OUT_DIR = join(import.meta.dirname, "out");

/** Kinds kube-score understands; custom resources are validated by schema only. */
const KUBE_SCORE_KINDS = new Set([
  "Deployment",
  "StatefulSet",
  "Service",
  "NetworkPolicy",
  "PodDisruptionBudget",
  "HorizontalPodAutoscaler",
]);

export interface StackReport {
  stack: string;
  render: StackRender;
  counts: Record<string, number>;
  objects: number;
  errors: ValidationError[];
  kubeScore: KubeScoreResult;
  files: string[];
}

function podLabelSets(objects: K8sObject[]): Record<string, string>[] {
  return objects.flatMap((o) => {
    const labels = (o.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)
      ?.template?.metadata?.labels;
    return labels ? [labels] : [];
  });
}

function selectsAny(policy: K8sObject, pods: Record<string, string>[]): boolean {
  const selector =
    (policy.spec as { podSelector: { matchLabels?: Record<string, string> } }).podSelector.matchLabels ?? {};
  return pods.some((labels) => Object.entries(selector).every(([k, v]) => labels[k] === v));
}

/** Writes one multi-document YAML per kind per region, the opaque components and the DNS resources. */
export function writeRender(render: StackRender, root = OUT_DIR): { all: string[]; scored: string[] } {
  const dir = join(root, render.stack);
  rmSync(dir, { recursive: true, force: true });
  const all: string[] = [];
  const scored: string[] = [];
  for (const region of render.regions) {
    const rdir = join(dir, region.region);
    mkdirSync(rdir, { recursive: true });
    const visible = podLabelSets(region.objects);
    const groups = new Map<string, K8sObject[]>();
    for (const obj of region.objects) {
      // Policies for operator-made pods (Kafka, Mongo) go apart: kube-score cannot see those pods offline.
      const key =
        obj.kind === "NetworkPolicy" && !selectsAny(obj, visible) ? "NetworkPolicy.operator-pods" : obj.kind;
      groups.set(key, [...(groups.get(key) ?? []), obj]);
    }
    for (const [key, objs] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      const file = join(rdir, `${key}.yaml`);
      // YAML 1.1 quoting ("no", "on", "yes" stay strings), as kubectl and kube-score parse YAML 1.1.
      writeFileSync(file, objs.map((o) => stringify(o, { version: "1.1" })).join("---\n"));
      all.push(file);
      if (KUBE_SCORE_KINDS.has(key)) scored.push(file);
    }
    const components = join(rdir, "_opaque-components.yaml");
    writeFileSync(components, region.components.map((c) => stringify(c)).join("---\n"));
    all.push(components);
  }
  const dns = join(dir, "dns.json");
  writeFileSync(dns, `${JSON.stringify(render.dns, null, 2)}\n`);
  all.push(dns);
  return { all, scored };
}

/** Render, write, validate and lint one stack (or a blueprint built in memory). */
export async function renderStack(
  stackOrBlueprint: string | Blueprint,
  opts: { root?: string } = {},
): Promise<StackReport> {
  const bp = typeof stackOrBlueprint === "string" ? loadBlueprint(stackOrBlueprint) : stackOrBlueprint;
  const render = await renderBlueprint(bp);
  const files = writeRender(render, opts.root);
  const objects = render.regions.flatMap((r) => r.objects);
  const validator = await createValidator();
  return {
    stack: bp.stack,
    render,
    counts: countByKind(render),
    objects: objects.length,
    errors: validator.validate(objects),
    kubeScore: runKubeScore(files.scored),
    files: files.all,
  };
}
